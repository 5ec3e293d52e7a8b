/**
 * The one way the running config changes at run time, whichever door the change came through (the control API,
 * a device command, the MQTT desired document): validate the whole document with the config schema, apply it
 * module by module through `reconfigure` (putting back the modules already changed if one fails), persist it
 * (the config file the next boot reads, written atomically, and a row in SQLite) and only then make it the
 * running config. Changes are applied one at a time, in arrival order.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { redactConfig, validateConfig, type ConfigIssue, type MssConfig } from '../config/index.js';
import { isMssError, MssError, toMssError } from '../core/errors.js';
import { setLogLevel, type Logger } from '../core/log.js';
import type { AppModule, ReconfigureResult } from '../core/module.js';
import { writeFileAtomic } from '../device/atomic-file.js';
import { openStore, type Db, type Migration } from '../store/db.js';

/** read at boot by `mss serve` (loadPersistedConfig in device/config-sync.ts), written by every door */
export const PERSISTED_CONFIG_FILE = 'config.desired.json';
export const DATABASE_FILE = 'mss.db';

const configMigrations: readonly Migration[] = [
  {
    area: 'config',
    version: 1,
    sql: `CREATE TABLE config_revisions (
      revision INTEGER PRIMARY KEY AUTOINCREMENT,
      source TEXT NOT NULL,
      version INTEGER NOT NULL,
      changed TEXT NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );`,
  },
];
/** revisions kept in SQLite (the file holds the current one) */
const KEEP_REVISIONS = 50;

export interface ConfigChange {
  /** who asked: api, command, mqtt */
  source: string;
  /** the operator's document version (MQTT desired documents); API changes keep the current one */
  version?: number;
  /** rules of one door on top of the schema (MQTT: the broker URL may not be emptied); issues refuse the change */
  check?(next: MssConfig, previous: MssConfig): ConfigIssue[];
}

export type ConfigAppliedListener = (config: MssConfig, result: ConfigApplyResult, change: ConfigChange) => void;

export interface ConfigApplyResult {
  status: 'applied' | 'pending-restart' | 'unchanged';
  changed: string[];
  modules: Record<string, ReconfigureResult>;
  /** the version persisted with the document */
  version: number;
}

export interface ConfigServiceDeps {
  initial: MssConfig;
  /** the modules that take a new config, in start order */
  modules(): readonly AppModule[];
  log: Logger;
  /** told once a change runs (the app context follows it; more listeners with onApplied()) */
  onApplied?: ConfigAppliedListener;
  /** the version of the persisted document at boot */
  initialVersion?: number;
}

export class ConfigService {
  private current: MssConfig;
  private version: number;
  private queue: Promise<unknown> = Promise.resolve();
  private restartPending = false;

  /** sections a change takes effect in without a restart (mqtt, board, http, ... are read once at boot) */
  private liveSections(): Set<string> {
    const live = new Set(['logLevel', 'version']);
    for (const m of this.deps.modules()) if (m.reconfigure) for (const s of m.liveSections ?? [m.name]) live.add(s);
    return live;
  }
  private db: Db | null = null;
  private readonly listeners = new Set<ConfigAppliedListener>();

  constructor(private readonly deps: ConfigServiceDeps) {
    this.current = deps.initial;
    this.version = deps.initialVersion ?? 0;
    if (deps.onApplied) this.listeners.add(deps.onApplied);
  }

  /** follows every change that runs (the device agent keeps its mqtt settings current); returns the unsubscribe */
  onApplied(cb: ConfigAppliedListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  running(): MssConfig {
    return this.current;
  }

  get persistedVersion(): number {
    return this.version;
  }

  get pendingRestart(): boolean {
    return this.restartPending;
  }

  /** the running config with secrets replaced, as the API and config/reported show it */
  redacted(): MssConfig {
    return redactConfig(this.current);
  }

  /**
   * Builds the next document from the running one (`edit` gets a deep copy with secrets) and applies it.
   * Throws MssError('invalid-config') with every issue by path, or the module's error when applying failed.
   */
  update(edit: (doc: MssConfig) => MssConfig | void, change: ConfigChange): Promise<ConfigApplyResult> {
    return this.enqueue(async () => {
      const doc = structuredClone(this.current);
      const out = edit(doc) ?? doc;
      return this.applyNow(out, change);
    });
  }

  /** Applies a whole document (validated here), in turn with every other change. */
  apply(doc: unknown, change: ConfigChange): Promise<ConfigApplyResult> {
    return this.enqueue(() => this.applyNow(doc, change));
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(doc: unknown, change: ConfigChange): Promise<ConfigApplyResult> {
    const previous = this.current;
    const next = validateConfig(doc);
    if (!isAbsolute(next.dataDir)) next.dataDir = resolve(next.dataDir);
    if (next.dataDir !== previous.dataDir) {
      throw invalid([{ path: 'dataDir', message: `cannot be changed at run time (the box uses ${previous.dataDir}); leave it out of the document` }]);
    }
    const refused = change.check?.(next, previous) ?? [];
    if (refused.length > 0) throw invalid(refused);
    // everything a module would refuse is found now, before any module changes anything
    const moduleIssues = this.checkModules(next, previous);
    if (moduleIssues.length > 0) throw invalid(moduleIssues);
    const version = change.version ?? this.version;
    const changed = changedSections(previous, next);
    if (changed.length === 0) {
      if (version !== this.version) await this.persist(next, version, change, changed);
      return { status: this.restartPending ? 'pending-restart' : 'unchanged', changed, modules: {}, version };
    }
    // module by module; if one fails, the ones already changed are put back, the failing one too (it may have
    // changed part of what it owns before it failed)
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
      this.deps.log.error('config.apply-failed', { module: failed?.name, source: change.source, error: e });
      await this.rollBack([...done, ...(failed ? [failed] : [])], previous, next);
      this.deps.log.info('config.rolled-back', { source: change.source, modules: [...(failed ? [failed] : []), ...done].map((m) => m.name) });
      throw e.code === 'invalid-config' ? e : invalid([{ path: typeof e.detail.path === 'string' ? e.detail.path : '', message: `${failed?.name ?? 'a module'} could not apply it: ${e.message}` }], e.code === 'internal' ? 'internal' : 'conflict');
    }
    if (next.logLevel !== previous.logLevel) setLogLevel(next.logLevel);
    try {
      await this.persist(next, version, change, changed);
    } catch (err) {
      await this.rollBack(done, previous, next);
      if (next.logLevel !== previous.logLevel) setLogLevel(previous.logLevel);
      throw new MssError('unavailable', `cannot persist the config: ${toMssError(err).message}`);
    }
    this.current = next;
    const needsRestart = Object.values(results).includes('pending-restart') || changed.some((s) => !this.liveSections().has(s));
    if (needsRestart) this.restartPending = true;
    const result: ConfigApplyResult = { status: this.restartPending ? 'pending-restart' : 'applied', changed, modules: results, version };
    this.deps.log.info('config.applied', { source: change.source, version, status: result.status, changed });
    for (const l of this.listeners) {
      try {
        l(next, result, change);
      } catch (err) {
        this.deps.log.error('config.listener-failed', { error: err });
      }
    }
    return result;
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

  private async rollBack(done: AppModule[], previous: MssConfig, next: MssConfig): Promise<void> {
    for (const m of [...done].reverse()) {
      try {
        await m.reconfigure!(previous, next);
      } catch (err) {
        this.deps.log.error('config.rollback-failed', { module: m.name, error: err });
      }
    }
  }

  private async persist(config: MssConfig, version: number, change: ConfigChange, changed: string[]): Promise<void> {
    const doc = JSON.stringify({ version, source: change.source, config }, null, 2);
    await writeFileAtomic(join(config.dataDir, PERSISTED_CONFIG_FILE), doc);
    const db = this.database();
    db.transaction(() => {
      db.prepare('INSERT INTO config_revisions (source, version, changed, doc, created_at) VALUES (?, ?, ?, ?, ?)').run(change.source, version, changed.join(','), doc, Date.now());
      db.prepare('DELETE FROM config_revisions WHERE revision <= (SELECT MAX(revision) FROM config_revisions) - ?').run(KEEP_REVISIONS);
    })();
    this.version = version;
  }

  /** the last revisions persisted (newest first): who changed what, when */
  history(limit = 20): Array<{ revision: number; source: string; version: number; changed: string[]; at: string }> {
    const rows = this.database().prepare('SELECT revision, source, version, changed, created_at FROM config_revisions ORDER BY revision DESC LIMIT ?').all(limit) as Array<{ revision: number; source: string; version: number; changed: string; created_at: number }>;
    return rows.map((r) => ({ revision: r.revision, source: r.source, version: r.version, changed: r.changed ? r.changed.split(',') : [], at: new Date(r.created_at).toISOString() }));
  }

  private database(): Db {
    return (this.db ??= openStore(join(this.current.dataDir, DATABASE_FILE), configMigrations));
  }

  close(): void {
    this.db?.close();
    this.db = null;
  }
}

function invalid(issues: ConfigIssue[], code: 'invalid-config' | 'conflict' | 'internal' = 'invalid-config'): MssError {
  return new MssError(code, issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), { errors: issues });
}

/** the issues of a refused change, for replies */
export function issuesOf(err: unknown): ConfigIssue[] {
  if (isMssError(err) && Array.isArray(err.detail.errors)) return err.detail.errors as ConfigIssue[];
  return [{ path: '', message: toMssError(err).message }];
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
    return value;
  });
}
