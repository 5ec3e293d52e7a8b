/**
 * Runs the configured hook commands for events, off the streaming path: `dispatch` only puts the event in a
 * bounded queue (O(1), never throws); at most `maxConcurrent` programs run at once; a full queue drops the
 * newest events (counted, logged once per burst). Each program gets the event as JSON on stdin and as
 * MSS_EVENT_* environment variables, and is killed at its deadline; failures are logged with their output.
 */
import type { HooksConfig, HookCommandConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import { runCommand, type CommandResult } from './run-command.js';

export interface HookEvent {
  /** point-started, point-stopped, player-joined, player-left, source-lost, update-finished, or a module's own */
  type: string;
  /** ISO time of the event */
  at: string;
  [field: string]: unknown;
}

interface Job {
  hook: HookCommandConfig;
  event: HookEvent;
}

/** MSS_EVENT_POINT, MSS_EVENT_USER_AGENT … for every scalar field */
export function eventEnv(event: HookEvent): Record<string, string> {
  const env: Record<string, string> = { MSS_EVENT: event.type };
  for (const [k, v] of Object.entries(event)) {
    if (v === undefined || v === null || typeof v === 'object') continue;
    const name = 'MSS_EVENT_' + k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
    env[name] = String(v).slice(0, 4096);
  }
  return env;
}

export class HookRunner {
  private queue: Job[] = [];
  private running = 0;
  private dropping = false;
  readonly counters = { dispatched: 0, ran: 0, failed: 0, timedOut: 0, dropped: 0 };
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private config: HooksConfig, private readonly log: Logger) {}

  setConfig(config: HooksConfig): void {
    this.config = config;
    this.pump();
  }

  get runningCount(): number {
    return this.running;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** hooks configured for an event type */
  hooksFor(type: string): HookCommandConfig[] {
    return this.config.commands.filter((h) => h.events.includes(type) || h.events.includes('*'));
  }

  dispatch(event: HookEvent): void {
    if (this.stopped) return;
    for (const hook of this.hooksFor(event.type)) {
      this.counters.dispatched++;
      if (this.queue.length >= this.config.maxQueued) {
        this.counters.dropped++;
        if (!this.dropping) {
          this.dropping = true;
          this.log.warn('hook.dropped', { event: event.type, command: hook.command, reason: `more than ${this.config.maxQueued} hook runs waiting`, running: this.running });
        }
        continue;
      }
      this.queue.push({ hook, event });
    }
    if (this.queue.length > 0) setImmediate(() => this.pump());
  }

  private pump(): void {
    while (!this.stopped && this.running < this.config.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      void this.run(job).finally(() => {
        this.running--;
        if (this.queue.length === 0) this.dropping = false;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async run({ hook, event }: Job): Promise<void> {
    const r: CommandResult = await runCommand({
      command: hook.command,
      args: hook.args,
      env: eventEnv(event),
      stdin: JSON.stringify(event) + '\n',
      timeoutMs: hook.timeoutMs || this.config.timeoutMs,
    });
    this.counters.ran++;
    if (r.ok) {
      this.log.debug('hook.done', { event: event.type, command: hook.command, durationMs: r.durationMs });
      return;
    }
    this.counters.failed++;
    if (r.timedOut) this.counters.timedOut++;
    this.log.warn('hook.failed', {
      event: event.type,
      command: hook.command,
      code: r.code,
      signal: r.signal,
      timedOut: r.timedOut || undefined,
      error: r.error,
      durationMs: r.durationMs,
      stderr: r.stderr.slice(-1000) || undefined,
      stdout: r.stdout.slice(-500) || undefined,
    });
  }

  /** resolves once nothing runs or waits (tests, shutdown) */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** drops what waits; what runs finishes (or meets its deadline) */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue = [];
    if (this.running > 0) await this.idle();
  }

  restart(): void {
    this.stopped = false;
  }
}
