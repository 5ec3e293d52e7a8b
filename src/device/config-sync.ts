/**
 * Config as a document: the operator's desired config is validated by the same schema as the config file,
 * applied live through the modules' `reconfigure`, persisted (SQLite and an atomically written file the next
 * boot reads) and only then reported. A bad document is rejected whole, with every error by path.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { applyEnvOverrides, configSchema, redactConfig, validateConfig, type ConfigIssue, type MssConfig } from '../config/index.js';
import { redactDeep, redactText, restoreRedacted } from '../config/redact.js';
import { localOnlyPaths } from '../config/schema.js';
import { isMssError, MssError, toMssError } from '../core/errors.js';
import { setLogLevel, type Logger } from '../core/log.js';
import type { AppModule, ReconfigureResult } from '../core/module.js';
import { writeFileAtomic } from './atomic-file.js';
import type { DeviceKv } from './kv.js';
import type { DesiredConfigDoc } from './topics.js';

export const PERSISTED_CONFIG_FILE = 'config.desired.json';

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
  /** every module except the agent, in start order */
  modules(): readonly AppModule[];
  running(): MssConfig;
  setRunning(config: MssConfig): void;
  log: Logger;
}

export class ConfigSync {
  private restartPending = false;

  constructor(private readonly deps: ConfigSyncDeps) {}

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
      return { ...last, status, config: redactConfig(this.deps.running()) };
    }
    return { version: this.appliedVersion ?? 0, appliedVersion: this.appliedVersion, status, errors: [], config: redactConfig(this.deps.running()) };
  }

  rejectUnreadable(err: unknown, version: number | null): ReportedConfig {
    const e = toMssError(err);
    const report = this.report({ version: version ?? -1, status: 'rejected', errors: [{ path: '', message: e.message }] });
    return report;
  }

  async applyDesired(desired: DesiredConfigDoc): Promise<ReportedConfig> {
    const previous = this.deps.running();
    let next: MssConfig;
    try {
      next = validateConfig(this.completeDocument(desired.config as Record<string, unknown>, previous));
    } catch (err) {
      const issues: ConfigIssue[] = isMssError(err) && Array.isArray(err.detail.errors) ? (err.detail.errors as ConfigIssue[]) : [{ path: '', message: toMssError(err).message }];
      this.deps.log.warn('config-rejected', { version: desired.version, errors: issues.length });
      return this.report({ version: desired.version, status: 'rejected', errors: issues });
    }
    if (!isAbsolute(next.dataDir)) next.dataDir = resolve(next.dataDir);
    // a program the device runs, or where its state lives, is decided on the device only
    const localIssues = localOnlyChanges(next, previous);
    if (localIssues.length > 0) {
      this.deps.log.warn('config-rejected', { version: desired.version, errors: localIssues.length, localOnly: localIssues.map((i) => i.path) });
      return this.report({ version: desired.version, status: 'rejected', errors: localIssues });
    }
    // everything a module would refuse is found now, before any module changes anything
    const moduleIssues = this.checkModules(next, previous);
    if (moduleIssues.length > 0) {
      this.deps.log.warn('config-rejected', { version: desired.version, errors: moduleIssues.length });
      return this.report({ version: desired.version, status: 'rejected', errors: moduleIssues });
    }
    if (next.mqtt.url === '') {
      return this.report({ version: desired.version, status: 'rejected', errors: [{ path: 'mqtt.url', message: 'must name a broker: an empty url would cut the device off from management' }] });
    }
    const changed = changedSections(previous, next);
    if (changed.length === 0) {
      // the retained document comes again after every reconnect: rewrite the flash only when it is new
      if (desired.version !== this.appliedVersion) await this.persist(desired.version, next);
      return this.report({ version: desired.version, status: this.restartPending ? 'pending-restart' : 'applied', errors: [], changed });
    }

    // Apply module by module; if one fails, put back the ones already changed (the failing one too: it may have
    // changed part of what it owns before it failed) and reject.
    const results: Record<string, ReconfigureResult> = {};
    const done: AppModule[] = [];
    let failed: AppModule | undefined;
    try {
      for (const m of this.deps.modules()) {
        if (!m.reconfigure) continue;
        failed = m;
        results[m.name] = await m.reconfigure(next, previous);
        done.push(m);
      }
      failed = undefined;
    } catch (err) {
      const e = toMssError(err);
      this.deps.log.error('config-apply-failed', { module: failed?.name, err: e });
      for (const m of [...(failed ? [failed] : []), ...done.reverse()]) {
        try {
          await m.reconfigure!(previous, next);
        } catch (rollbackErr) {
          this.deps.log.error('config-rollback-failed', { module: m.name, err: rollbackErr });
        }
      }
      this.deps.log.info('config-rolled-back', { version: desired.version, modules: [...(failed ? [failed] : []), ...done].map((m) => m.name) });
      return this.report({ version: desired.version, status: 'rejected', errors: issuesFrom(e, failed?.name) });
    }
    if (next.logLevel !== previous.logLevel) setLogLevel(next.logLevel);

    try {
      await this.persist(desired.version, next);
    } catch (err) {
      for (const m of [...done].reverse()) await m.reconfigure!(previous, next).catch(() => undefined);
      if (next.logLevel !== previous.logLevel) setLogLevel(previous.logLevel);
      return this.report({ version: desired.version, status: 'rejected', errors: [{ path: '', message: `cannot persist the config: ${toMssError(err).message}` }] });
    }
    this.deps.setRunning(next);

    const needsRestart =
      Object.values(results).includes('pending-restart') ||
      // the agent's own connection and the board profile are read once at boot
      changed.some((s) => s === 'mqtt' || s === 'board') ||
      // a section changed that no module took live
      (changed.some((s) => s !== 'logLevel' && s !== 'version') && !Object.values(results).includes('applied'));
    // once a change waits for a restart, every later report says so until the process restarts
    if (needsRestart) this.restartPending = true;
    const status = this.restartPending ? 'pending-restart' : 'applied';
    this.deps.log.info('config-applied', { version: desired.version, status, changed });
    return this.report({ version: desired.version, status, errors: [], changed, modules: results });
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

  private checkModules(next: MssConfig, previous: MssConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    for (const m of this.deps.modules()) {
      if (!m.checkConfig) continue;
      try {
        issues.push(...m.checkConfig(next, previous));
      } catch (err) {
        issues.push({ path: '', message: `${m.name} could not check the config: ${toMssError(err).message}` });
      }
    }
    return issues;
  }

  private async persist(version: number, config: MssConfig): Promise<void> {
    const doc = JSON.stringify({ version, config }, null, 2);
    await writeFileAtomic(join(config.dataDir, PERSISTED_CONFIG_FILE), doc);
    this.deps.kv.set('config-applied', doc);
    this.deps.kv.set('config-applied-version', String(version));
  }

  private report(r: Omit<ReportedConfig, 'appliedVersion' | 'config'>): ReportedConfig {
    const full: ReportedConfig = { ...r, errors: redactDeep(r.errors), appliedVersion: this.appliedVersion, config: redactConfig(this.deps.running()) };
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

function issuesFrom(err: MssError, module: string | undefined): ConfigIssue[] {
  if (Array.isArray(err.detail.errors)) return err.detail.errors as ConfigIssue[];
  return [{ path: typeof err.detail.path === 'string' ? err.detail.path : '', message: `${module ?? 'a module'} could not apply it: ${err.message}` }];
}

/** Top-level sections whose value differs (deep, key-order independent). */
export function changedSections(a: MssConfig, b: MssConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonical((a as unknown as Record<string, unknown>)[k]) !== canonical((b as unknown as Record<string, unknown>)[k])).sort();
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)));
    }
    if (value instanceof RegExp) return String(value);
    return value;
  });
}
