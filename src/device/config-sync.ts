/**
 * Config as a document over MQTT: the operator's desired config is completed with what only the device knows,
 * checked against the rules of this door (local-only settings, the broker URL), then applied through the app's
 * one config path (ConfigService: the config schema, every module's checks, reconfigure with roll back, the boot
 * file written atomically and a SQLite revision) and only then reported. A bad document is rejected whole, with
 * every error by path. The control API changes the config through the same service; a retained desired document
 * already applied is not applied again, so those changes stay.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { applyEnvOverrides, configSchema, redactConfig, validateConfig, type ConfigIssue, type MssConfig } from '../config/index.js';
import { redactDeep, redactText, restoreRedacted } from '../config/redact.js';
import { localOnlyPaths } from '../config/schema.js';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ReconfigureResult } from '../core/module.js';
import { issuesOf, PERSISTED_CONFIG_FILE, type ConfigService } from '../app/config-service.js';
import type { DeviceKv } from './kv.js';
import type { DesiredConfigDoc } from './topics.js';

export { PERSISTED_CONFIG_FILE, changedSections } from '../app/config-service.js';

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

/**
 * The config the last accepted desired document set, for `mss serve` to prefer at boot over its config file.
 * MSS_* environment overrides still apply on top, and the local-only settings of `local` (the file's config) win.
 * Undefined when the device never received one.
 */
export function loadPersistedConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env, local?: MssConfig): { config: MssConfig; version: number } | undefined {
  const file = join(dataDir, PERSISTED_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let doc: { version?: unknown; config?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw new MssError('malformed', `${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc.config !== 'object' || doc.config === null) throw new MssError('malformed', `${file}: no config object`);
  const { doc: withEnv, issues } = applyEnvOverrides(doc.config as Record<string, unknown>, env);
  if (issues.length > 0) throw new MssError('invalid-config', `${file}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { errors: issues });
  let config = validateConfig(withEnv);
  if (!isAbsolute(config.dataDir)) config.dataDir = resolve(config.dataDir);
  // what only the device decides comes from the device's own config, even when it changed since the document came
  if (local) config = withLocalOnlyFrom(config, local);
  return { config, version: typeof doc.version === 'number' ? doc.version : 0 };
}

export interface ConfigSyncDeps {
  kv: DeviceKv;
  /** the app's one config path (the agent makes its own when it runs alone) */
  service: ConfigService;
  log: Logger;
}

export class ConfigSync {
  constructor(private readonly deps: ConfigSyncDeps) {}

  private get restartPending(): boolean {
    return this.deps.service.pendingRestart;
  }

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
    if (stored) {
      const last = JSON.parse(stored) as Omit<ReportedConfig, 'config'>;
      // a restart this process has not needed yet was done by starting it
      const status = last.status === 'pending-restart' && !this.restartPending ? 'applied' : last.status;
      return { ...last, status, config: redactConfig(this.running()) };
    }
    return { version: this.appliedVersion ?? 0, appliedVersion: this.appliedVersion, status, errors: [], config: redactConfig(this.running()) };
  }

  rejectUnreadable(err: unknown, version: number | null): ReportedConfig {
    const e = toMssError(err);
    const report = this.report({ version: version ?? -1, status: 'rejected', errors: [{ path: '', message: e.message }] });
    return report;
  }

  async applyDesired(desired: DesiredConfigDoc): Promise<ReportedConfig> {
    // the retained document comes again after every reconnect: once applied it is not applied again, so changes
    // made since through the control API stay (config/reported shows what runs)
    if (desired.version === this.appliedVersion && this.deps.kv.get('config-last-report')) return this.current();
    const previous = this.running();
    let doc: Record<string, unknown>;
    try {
      doc = this.completeDocument(desired.config as Record<string, unknown>, previous);
    } catch (err) {
      return this.report({ version: desired.version, status: 'rejected', errors: issuesOf(err) });
    }
    try {
      const r = await this.deps.service.apply(doc, {
        source: 'mqtt',
        version: desired.version,
        check: (next, prev) => {
          // a program the device runs, or where its state lives, is decided on the device only
          const local = localOnlyChanges(next, prev);
          if (local.length > 0) return local;
          return next.mqtt.url === '' ? [{ path: 'mqtt.url', message: 'must name a broker: an empty url would cut the device off from management' }] : [];
        },
      });
      this.deps.kv.set('config-applied', JSON.stringify({ version: desired.version, config: this.running() }));
      this.deps.kv.set('config-applied-version', String(desired.version));
      const status = r.status === 'pending-restart' ? 'pending-restart' : 'applied';
      if (r.changed.length) this.deps.log.info('config-applied', { version: desired.version, status, changed: r.changed });
      return this.report({ version: desired.version, status, errors: [], changed: r.changed, ...(r.changed.length ? { modules: r.modules } : {}) });
    } catch (err) {
      const issues = issuesOf(err);
      this.deps.log.warn('config-rejected', { version: desired.version, errors: issues.length, localOnly: issues.some((i) => /set only in the device's own config/.test(i.message)) || undefined });
      return this.report({ version: desired.version, status: 'rejected', errors: issues });
    }
  }

  /**
   * The operator's document, completed with what only the device knows: a missing `mqtt` section or
   * `dataDir` keeps the running one, and what config/reported showed redacted ("***", `user:***@` in a URL)
   * keeps the running value.
   */
  private completeDocument(doc: Record<string, unknown>, running: MssConfig): Record<string, unknown> {
    const out = restoreRedacted(configSchema, doc, running) as Record<string, unknown>;
    if (out.mqtt === undefined) out.mqtt = structuredClone(running.mqtt);
    // a local-only setting left out keeps the device's value (not the schema default)
    for (const path of localOnlyPaths(configSchema)) {
      if (getPath(out, path) === undefined) setPath(out, path, getPath(running, path));
    }
    return out;
  }

  private report(r: Omit<ReportedConfig, 'appliedVersion' | 'config'>): ReportedConfig {
    const full: ReportedConfig = { ...r, errors: redactDeep(r.errors), appliedVersion: this.appliedVersion, config: redactConfig(this.running()) };
    const { config: _omit, ...rest } = full;
    this.deps.kv.set('config-last-report', JSON.stringify(rest));
    return full;
  }
}

function getPath(doc: unknown, path: string[]): unknown {
  let node = doc;
  for (const key of path) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Sets a value, creating objects on the way; a non-object in the way is left as it is (validation reports it). */
function setPath(doc: Record<string, unknown>, path: string[], value: unknown): void {
  let node = doc;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    if (!node[key] || typeof node[key] !== 'object' || Array.isArray(node[key])) return;
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** One issue per local-only setting a remote document would change. */
export function localOnlyChanges(next: MssConfig, running: MssConfig): ConfigIssue[] {
  return localOnlyPaths(configSchema)
    .filter((path) => getPath(next, path) !== getPath(running, path))
    .map((path) => ({
      path: path.join('.'),
      message: `is set only in the device's own config (it names a program the device runs or where its state lives); a remote config cannot change it: leave it out or send the reported value (${JSON.stringify(redactText(String(getPath(running, path))))})`,
    }));
}

/** The running config's local-only settings put over a (persisted, remote) config. */
export function withLocalOnlyFrom(config: MssConfig, local: MssConfig): MssConfig {
  const out = structuredClone(config);
  for (const path of localOnlyPaths(configSchema)) setPath(out as unknown as Record<string, unknown>, path, getPath(local, path));
  return out;
}
