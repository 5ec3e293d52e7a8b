import type { Schema } from '../schema.js';

export interface WatchdogConfig {
  /** feed systemd's service watchdog (only acts when systemd set WATCHDOG_USEC) */
  enabled: boolean;
  /** an event loop that lagged more than this since the last tick misses the ping */
  maxLoopDelayMs: number;
}

export const watchdogSchema: Schema = {
  kind: 'object',
  doc: 'systemd readiness and service watchdog (Type=notify, WatchdogSec)',
  fields: {
    enabled: { kind: 'bool', doc: 'Send READY=1 and watchdog pings while the event loop and core modules are healthy', default: true },
    maxLoopDelayMs: { kind: 'int', doc: 'Event-loop lag beyond which a watchdog ping is withheld', default: 2000, min: 50, max: 600000 },
  },
};
