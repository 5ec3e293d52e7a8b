/**
 * The update lock: an install (and its reboot) waits until no player is connected and no encoder is running, or
 * until the maintenance window opens, whichever comes first. Modules are read structurally: `players` or
 * `sessions` in their health detail or telemetry, `running: true` in an encoder's telemetry.
 */
import { MssError } from '../core/errors.js';
import type { AppModule } from '../core/module.js';

/** Why an install must wait now ('' when it may go). */
export function activeSessions(modules: readonly AppModule[]): string {
  const busy: string[] = [];
  for (const m of modules) {
    let facts: Record<string, unknown> = {};
    try {
      facts = { ...(m.health().detail ?? {}), ...(m.telemetry?.() ?? {}) };
    } catch {
      continue;
    }
    for (const key of ['players', 'sessions']) {
      const n = facts[key];
      if (typeof n === 'number' && n > 0) busy.push(`${m.name}: ${n} ${key}`);
    }
    if (facts.running === true) busy.push(`${m.name}: running`);
  }
  return [...new Set(busy)].join(', ');
}

/** Whether `now` (local time) falls in "HH:MM-HH:MM" (a window may wrap past midnight). */
export function inMaintenanceWindow(window: string, now = new Date()): boolean {
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(window);
  if (!m) return false;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  const t = now.getHours() * 60 + now.getMinutes();
  return start <= end ? t >= start && t < end : t >= start || t < end;
}

export async function waitForUpdateLock(o: { modules: () => readonly AppModule[]; window: string; signal: AbortSignal; waiting: (why: string) => void; pollMs?: number }): Promise<string> {
  let last = '';
  for (;;) {
    if (o.signal.aborted) throw o.signal.reason ?? new MssError('unavailable', 'aborted');
    if (o.window && inMaintenanceWindow(o.window)) return `maintenance window ${o.window}`;
    const busy = activeSessions(o.modules());
    if (!busy) return 'no active sessions';
    if (busy !== last) o.waiting(`waiting for the update lock: ${busy}${o.window ? ` (or the maintenance window ${o.window})` : ''}`);
    last = busy;
    await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
  }
}
