/**
 * Config as a document over MQTT: the operator's desired config is completed with what only the device knows,
 * then applied through the app's one config path (ConfigService: the config schema's validation, reconfigure
 * with roll back, the boot file written atomically and a SQLite revision), and only then reported. A bad
 * document is rejected whole, with every error by path. The control API changes the config through the same
 * service; a retained desired document already applied is not applied again, so those changes stay.
 */
import { type ConfigIssue, type MssConfig } from '../config/index.js';
import { toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ReconfigureResult } from '../core/module.js';
import { issuesOf, type ConfigService } from '../app/config-service.js';
import type { DeviceKv } from './kv.js';
import type { DesiredConfigDoc } from './topics.js';

export { changedSections, loadPersistedConfig, PERSISTED_CONFIG_FILE } from '../app/config-service.js';
const REDACTED = '***';

export interface ReportedConfig {
  version: number;
  appliedVersion: number | null;
  status: 'applied' | 'rejected' | 'pending-restart';
  errors: ConfigIssue[];
  /** which top-level sections changed, and what each module said */
  changed?: string[];
  modules?: Record<string, ReconfigureResult>;
  config: MssConfig;
}

export interface ConfigSyncDeps {
  kv: DeviceKv;
  /** the app's one config path (the agent makes its own when it runs alone) */
  service: ConfigService;
  log: Logger;
}

export class ConfigSync {
  constructor(private readonly deps: ConfigSyncDeps) {}

  private running(): MssConfig {
    return this.deps.service.running();
  }

  /** version of the last desired document that was applied (persisted) */
  get appliedVersion(): number | null {
    const v = this.deps.kv.get('config-applied-version');
    return v === undefined ? null : Number(v);
  }

  /** What config/reported says when nothing new arrived (after every reconnect). */
  current(status: ReportedConfig['status'] = 'applied'): ReportedConfig {
    const stored = this.deps.kv.get('config-last-report');
    const pending = this.deps.service.pendingRestart;
    if (stored) {
      const last = JSON.parse(stored) as Omit<ReportedConfig, 'config'>;
      // a restart this process has not needed yet was done by starting it
      const s = last.status === 'pending-restart' && !pending ? 'applied' : last.status;
      return { ...last, status: s, config: this.deps.service.redacted() };
    }
    return { version: this.appliedVersion ?? 0, appliedVersion: this.appliedVersion, status: pending ? 'pending-restart' : status, errors: [], config: this.deps.service.redacted() };
  }

  rejectUnreadable(err: unknown, version: number | null): ReportedConfig {
    const e = toMssError(err);
    return this.report({ version: version ?? -1, status: 'rejected', errors: [{ path: '', message: e.message }] });
  }

  async applyDesired(desired: DesiredConfigDoc): Promise<ReportedConfig> {
    // the retained document comes again after every reconnect: once applied, it is not applied again (changes
    // made since, through the control API, stay)
    if (desired.version === this.appliedVersion && this.deps.kv.get('config-last-report')) return this.current();
    const doc = this.completeDocument(desired.config as Record<string, unknown>, this.running());
    try {
      const r = await this.deps.service.apply(doc, {
        source: 'mqtt',
        version: desired.version,
        check: (next) => (next.mqtt.url === '' ? [{ path: 'mqtt.url', message: 'must name a broker: an empty url would cut the device off from management' }] : []),
      });
      this.deps.kv.set('config-applied', JSON.stringify({ version: desired.version, config: this.running() }));
      this.deps.kv.set('config-applied-version', String(desired.version));
      const status = r.status === 'pending-restart' ? 'pending-restart' : 'applied';
      if (r.changed.length) this.deps.log.info('config-applied', { version: desired.version, status, changed: r.changed });
      return this.report({ version: desired.version, status, errors: [], changed: r.changed, ...(r.changed.length ? { modules: r.modules } : {}) });
    } catch (err) {
      const issues = issuesOf(err);
      this.deps.log.warn('config-rejected', { version: desired.version, errors: issues.length });
      return this.report({ version: desired.version, status: 'rejected', errors: issues });
    }
  }

  /**
   * The operator's document, completed with what only the device knows: a missing `mqtt` section or
   * `dataDir` keeps the running one, and redacted secrets ("***", as config/reported shows them) keep theirs.
   */
  private completeDocument(doc: Record<string, unknown>, running: MssConfig): Record<string, unknown> {
    const out = structuredClone(doc);
    if (out.mqtt === undefined) out.mqtt = structuredClone(running.mqtt);
    if (out.dataDir === undefined) out.dataDir = running.dataDir;
    const mqtt = out.mqtt as Record<string, unknown> | undefined;
    if (mqtt && typeof mqtt === 'object' && mqtt.password === REDACTED) mqtt.password = running.mqtt.password;
    const apiAuth = (out.api as { auth?: { users?: unknown; tokens?: unknown } } | undefined)?.auth;
    if (Array.isArray(apiAuth?.users)) {
      for (const u of apiAuth.users as Array<Record<string, unknown>>) {
        const old = running.api.auth.users.find((x) => x.name === u?.name);
        if (u?.password === REDACTED && old) u.password = old.password;
      }
    }
    // tokens are shown as "***" one for one: a "***" keeps the token at its place
    if (Array.isArray(apiAuth?.tokens)) apiAuth.tokens = (apiAuth.tokens as unknown[]).map((tok, i) => (tok === REDACTED && running.api.auth.tokens[i] ? running.api.auth.tokens[i] : tok));
    const server = out.server as { publishingPoints?: unknown } | undefined;
    if (server && Array.isArray(server.publishingPoints)) {
      for (const p of server.publishingPoints as Array<Record<string, unknown>>) {
        const users = (p?.auth as { users?: unknown } | undefined)?.users;
        if (!Array.isArray(users)) continue;
        const was = running.server.publishingPoints.find((q) => q.name === p.name);
        for (const u of users as Array<Record<string, unknown>>) {
          if (u?.password !== REDACTED) continue;
          const old = was?.auth.users.find((x) => x.name === u.name);
          if (old) u.password = old.password;
        }
      }
    }
    return out;
  }

  private report(r: Omit<ReportedConfig, 'appliedVersion' | 'config'>): ReportedConfig {
    const full: ReportedConfig = { ...r, appliedVersion: this.appliedVersion, config: this.deps.service.redacted() };
    const { config: _omit, ...rest } = full;
    this.deps.kv.set('config-last-report', JSON.stringify(rest));
    return full;
  }
}
