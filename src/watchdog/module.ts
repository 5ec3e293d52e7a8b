/**
 * The systemd side of the appliance: READY=1 once every module has started (this module comes last in the list),
 * then a watchdog ping every half WatchdogSec, but only while the process is really serving: the event loop ran the
 * tick on time (a blocked or starved loop sends nothing, and the tick right after a long stall is withheld too) and
 * every core module reports healthy. systemd restarts a service whose pings stop; STOPPING=1 on a clean stop.
 */
import { createLogger, type Logger } from '../core/log.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import type { WatchdogConfig } from '../config/index.js';
import { systemdNotifier, watchdogUsec, type Notifier } from './notifier.js';

export interface WatchdogOptions {
  config: WatchdogConfig;
  /** the modules whose health gates the pings */
  modules: () => readonly AppModule[];
  /** module names that must be healthy (the device agent and encoder are not: a lost broker or camera is no reason to restart) */
  core: readonly string[];
  /** tests inject a notifier and a period; otherwise systemd's environment decides */
  notifier?: Notifier | null;
  intervalMs?: number;
  log?: Logger;
}

export class WatchdogModule implements AppModule {
  readonly name = 'watchdog';
  private readonly log: Logger;
  private notifier: Notifier | null = null;
  private timer?: NodeJS.Timeout;
  private intervalMs = 0;
  private lastTick = 0;
  private pings = 0;
  private withheld = 0;
  private lastReason = '';
  private started = false;

  constructor(private readonly opts: WatchdogOptions) {
    this.log = opts.log ?? createLogger('watchdog');
  }

  async start(): Promise<void> {
    if (!this.opts.config.enabled) return;
    this.notifier = this.opts.notifier !== undefined ? this.opts.notifier : systemdNotifier();
    if (!this.notifier) return; // not under systemd
    this.started = true;
    this.send('READY=1\nSTATUS=serving');
    this.intervalMs = this.opts.intervalMs ?? Math.floor(watchdogUsec() / 2000);
    if (this.intervalMs <= 0) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.log.info('watchdog-started', { intervalMs: this.intervalMs, via: this.notifier.kind, core: this.opts.core });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.started) this.send('STOPPING=1');
    this.started = false;
  }

  health(): ModuleHealth {
    if (!this.started) return { ok: true, state: 'disabled' };
    return { ok: true, state: this.lastReason ? 'withholding' : 'running', detail: this.counters() };
  }

  telemetry(): Record<string, unknown> {
    return this.counters();
  }

  private counters() {
    return { intervalMs: this.intervalMs, pings: this.pings, withheld: this.withheld, reason: this.lastReason };
  }

  /** Why a ping must not be sent now ('' when it may). */
  private reasonToWithhold(lagMs: number): string {
    if (lagMs > this.opts.config.maxLoopDelayMs) return `event loop stalled ${Math.round(lagMs)} ms`;
    for (const m of this.opts.modules()) {
      if (!this.opts.core.includes(m.name)) continue;
      let h: ModuleHealth;
      try {
        h = m.health();
      } catch (err) {
        return `module ${m.name} health failed: ${(err as Error).message}`;
      }
      if (!h.ok) return `module ${m.name} is ${h.state}`;
    }
    return '';
  }

  private tick(): void {
    const now = performance.now();
    const lag = now - this.lastTick - this.intervalMs;
    this.lastTick = now;
    const reason = this.reasonToWithhold(lag);
    if (reason) {
      this.withheld++;
      if (reason !== this.lastReason) this.log.warn('watchdog-withheld', { reason });
      this.lastReason = reason;
      return;
    }
    if (this.lastReason) this.log.info('watchdog-resumed', { after: this.lastReason });
    this.lastReason = '';
    this.pings++;
    this.send('WATCHDOG=1');
  }

  private send(message: string): void {
    try {
      this.notifier?.notify(message);
    } catch (err) {
      this.log.warn('watchdog-notify-failed', { err: (err as Error).message });
    }
  }
}
