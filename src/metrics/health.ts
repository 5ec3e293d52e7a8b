/**
 * The one health verdict, for load balancers and the watchdog (`GET /health`) and the API: every module's
 * health, and whether this box should take players. The HTTP listener and the media server are essential: if
 * either is not ok the box is failing (503). A module that failed outright fails the box too; a degraded one
 * (the device agent without its broker, an encoder restarting) is reported but keeps the box in service.
 */
import type { AppModule, ModuleHealth } from '../core/module.js';

export const ESSENTIAL_MODULES: ReadonlySet<string> = new Set(['http', 'media']);

export interface HealthReport {
  status: 'ok' | 'degraded' | 'failing';
  uptimeSec: number;
  modules: Record<string, ModuleHealth>;
}

export function healthReport(modules: Iterable<AppModule>): HealthReport {
  const out: Record<string, ModuleHealth> = {};
  let failing = false;
  let degraded = false;
  for (const m of new Set(modules)) {
    let h: ModuleHealth;
    try {
      h = m.health();
    } catch (err) {
      h = { ok: false, state: 'failed', detail: { error: (err as Error).message } };
    }
    // the detail can be large (every encoder event): the verdict carries ok and state only
    out[m.name] = { ok: h.ok, state: h.state };
    if (h.state === 'failed' || (ESSENTIAL_MODULES.has(m.name) && !h.ok)) failing = true;
    else if (!h.ok && h.state !== 'disabled' && h.state !== 'stopped') degraded = true;
  }
  return { status: failing ? 'failing' : degraded ? 'degraded' : 'ok', uptimeSec: Math.round(process.uptime()), modules: out };
}
