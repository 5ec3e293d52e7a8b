/**
 * Log lines and player/server log entries on their way to the operator: every line is kept in the agent's
 * bounded log copy (for log-query and uploads); lines at or above the forwarding level, rate-limited with a
 * "suppressed N" line, and every log entry go to `logs/<level>` through the durable outbox, in batches.
 */
import type { LogFields, LogLevel } from '../core/log.js';
import type { DeviceLogStore } from './log-store.js';
import type { Outbox } from './outbox.js';
import type { DeviceTopics } from './topics.js';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const BATCH_MS = 500;
const BATCH_ROWS = 200;

export interface LogForwarderDeps {
  outbox: Outbox;
  store: DeviceLogStore;
  topics: DeviceTopics;
  settings(): { level: LogLevel; perSec: number };
  /** rows were added to the outbox */
  appended(): void;
}

export class LogForwarder {
  private pending: Array<{ topic: string; body: Record<string, unknown> }> = [];
  private timer?: NodeJS.Timeout;
  private inside = false;
  private tokens = 0;
  private tokensAt = 0;
  private suppressed = 0;

  constructor(private readonly deps: LogForwarderDeps) {}

  /** a structured log line of this process (from the core logger's sink) */
  line(level: LogLevel, record: Record<string, unknown>): void {
    if (this.inside) return; // a line logged while forwarding a line is not forwarded again
    this.inside = true;
    try {
      const ts = Date.now();
      this.deps.store.add({ ts, level, source: 'mss', line: record });
      const { level: min, perSec } = this.deps.settings();
      if (LEVEL_RANK[level] < LEVEL_RANK[min]) return;
      if (!this.takeToken(ts, perSec)) {
        this.suppressed++;
        return;
      }
      if (this.suppressed > 0) {
        this.queue('warn', { ts: new Date(ts).toISOString(), level: 'warn', component: 'device', event: 'logs-suppressed', suppressed: this.suppressed });
        this.suppressed = 0;
      }
      this.queue(level, record);
    } finally {
      this.inside = false;
    }
  }

  /** a player/server log entry from the logs module */
  entry(module: string, entry: Record<string, unknown>): void {
    const ts = Date.now();
    this.deps.store.add({ ts, level: 'info', source: module, line: entry });
    this.queue('info', { source: module, ts: new Date(ts).toISOString(), entry });
  }

  /** writes the pending batch to the outbox (one transaction) */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.deps.outbox.append(batch);
    this.deps.appended();
  }

  private takeToken(now: number, perSec: number): boolean {
    this.tokens = Math.min(perSec, this.tokens + ((now - this.tokensAt) / 1000) * perSec);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private queue(level: string, body: LogFields): void {
    this.pending.push({ topic: this.deps.topics.log(level), body });
    if (this.pending.length >= BATCH_ROWS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), BATCH_MS);
      this.timer.unref();
    }
  }
}
