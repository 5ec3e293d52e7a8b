/**
 * Long-running jobs (`jobs/<id>`): a state machine per job, persisted in SQLite so it resumes after a restart.
 * Each job type (log upload, firmware update) is one entry of a table: it validates its document,
 * names its working states and runs, saving a checkpoint after each step so a restart does not redo work.
 */
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Db } from '../store/db.js';

export type TerminalJobStatus = 'successful' | 'failed' | 'rejected';
export type JobStatus = 'queued' | TerminalJobStatus | string;

export interface JobStatusReport {
  status: JobStatus;
  progress: number;
  attempt: number;
  reason: string;
  type: string;
  updatedAt: string;
}

export interface JobContext {
  id: string;
  params: Record<string, unknown>;
  attempt: number;
  checkpoint: Record<string, unknown>;
  /** saves what was done so far (durable before it returns) */
  saveCheckpoint(checkpoint: Record<string, unknown>): void;
  /** moves to one of the type's working states (reason: what it is doing or waiting for) */
  setStatus(status: string, progress: number, reason?: string): void;
  signal: AbortSignal;
  log: Logger;
}

export interface JobType {
  name: string;
  /** the states between queued and successful, e.g. ['uploading'] or ['downloading', 'installing', 'rebooting', 'verifying'] */
  workingStates: readonly string[];
  /** checks the job document; throws MssError('invalid-argument') naming the field */
  validate(doc: Record<string, unknown>): Record<string, unknown>;
  run(ctx: JobContext): Promise<void>;
  /** called when a job is removed or finished for good: delete artifacts */
  cleanup?(id: string, checkpoint: Record<string, unknown>): Promise<void>;
}

interface JobRow {
  id: string;
  type: string;
  doc: string;
  status: string;
  progress: number;
  attempt: number;
  reason: string;
  checkpoint: string;
  updated_at: number;
}

const TERMINAL = new Set(['successful', 'failed', 'rejected']);
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const RETRY_BASE_MS = 2000;
const RETRY_MAX_MS = 5 * 60_000;

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

export class JobRunner {
  private readonly types = new Map<string, JobType>();
  private readonly running = new Map<string, AbortController>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly publish: (id: string, report: JobStatusReport | null) => void,
    private readonly log: Logger,
    private readonly retryBaseMs = RETRY_BASE_MS,
  ) {}

  register(type: JobType): void {
    this.types.set(type.name, type);
  }

  get typeNames(): string[] {
    return [...this.types.keys()].sort();
  }

  /** Resumes every job that was not finished when the agent last stopped. */
  start(): void {
    this.stopped = false;
    for (const row of this.rows()) if (!isTerminal(row.status)) this.schedule(row.id, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const c of this.running.values()) c.abort(new MssError('unavailable', 'agent stopping'));
    // give running steps a moment to record where they were
    const deadline = Date.now() + 2000;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Every job's status, for republishing after a reconnect. */
  reports(): Array<{ id: string; report: JobStatusReport }> {
    return this.rows().map((r) => ({ id: r.id, report: toReport(r) }));
  }

  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.rows()) out[r.status] = (out[r.status] ?? 0) + 1;
    return out;
  }

  /** A `jobs/<id>` document arrived (retained: it comes again after every reconnect). */
  submit(id: string, doc: Record<string, unknown> | null, decodeError?: unknown): void {
    const existing = this.row(id);
    if (doc === null && decodeError === undefined) {
      // the operator removed the job: cancel it and clear the device's status
      if (existing) this.remove(id, existing);
      return;
    }
    if (existing) {
      this.publish(id, toReport(existing));
      if (!isTerminal(existing.status) && !this.running.has(id) && !this.timers.has(id)) this.schedule(id, 0);
      return;
    }
    const now = Date.now();
    const insert = this.db.prepare('INSERT INTO device_jobs (id, type, doc, status, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const rawType = doc && typeof doc.type === 'string' ? doc.type.slice(0, 64) : '';
    let reason = '';
    if (!JOB_ID.test(id)) reason = `job id ${JSON.stringify(id)} must match ${JOB_ID}`;
    else if (decodeError !== undefined) reason = toMssError(decodeError).message;
    else if (!this.types.has(rawType)) reason = `unknown job type ${JSON.stringify(rawType)}; known: ${this.typeNames.join(', ')}`;
    else {
      try {
        this.types.get(rawType)!.validate(doc!);
      } catch (err) {
        reason = toMssError(err).message;
      }
    }
    if (reason) {
      if (!JOB_ID.test(id)) {
        // not stored: an id that cannot be a key is only answered
        this.publish(id, { status: 'rejected', progress: 0, attempt: 0, reason, type: rawType, updatedAt: new Date(now).toISOString() });
        return;
      }
      insert.run(id, rawType, JSON.stringify(doc ?? {}), 'rejected', reason, now, now);
      this.log.warn('job-rejected', { job: id, reason });
      this.publish(id, toReport(this.row(id)!));
      return;
    }
    insert.run(id, rawType, JSON.stringify(doc), 'queued', '', now, now);
    this.log.info('job-queued', { job: id, type: rawType });
    this.publish(id, toReport(this.row(id)!));
    this.schedule(id, 0);
  }

  private schedule(id: string, delayMs: number): void {
    if (this.stopped) return;
    const row = this.row(id);
    if (!row) return;
    const params = JSON.parse(row.doc) as Record<string, unknown>;
    const notBefore = typeof params.notBefore === 'number' ? params.notBefore : typeof params.notBefore === 'string' ? Date.parse(params.notBefore) : 0;
    const wait = Math.max(delayMs, Number.isFinite(notBefore) ? notBefore - Date.now() : 0);
    clearTimeout(this.timers.get(id));
    const timer = setTimeout(() => {
      this.timers.delete(id);
      void this.execute(id);
    }, Math.min(Math.max(0, wait), 2 ** 31 - 1));
    timer.unref();
    this.timers.set(id, timer);
  }

  private async execute(id: string): Promise<void> {
    const row = this.row(id);
    if (!row || isTerminal(row.status) || this.running.has(id) || this.stopped) return;
    const type = this.types.get(row.type);
    if (!type) {
      this.update(id, { status: 'rejected', reason: `unknown job type ${row.type}` });
      return;
    }
    const params = JSON.parse(row.doc) as Record<string, unknown>;
    const maxAttempts = typeof params.maxAttempts === 'number' && params.maxAttempts >= 1 ? Math.min(params.maxAttempts, 100) : 3;
    const attempt = row.attempt + 1;
    const controller = new AbortController();
    this.running.set(id, controller);
    this.update(id, { attempt });
    let checkpoint = JSON.parse(row.checkpoint) as Record<string, unknown>;
    const ctx: JobContext = {
      id,
      params,
      attempt,
      checkpoint,
      saveCheckpoint: (c) => {
        checkpoint = c;
        this.update(id, { checkpoint: JSON.stringify(c) });
      },
      setStatus: (status, progress, reason = '') => {
        if (!type.workingStates.includes(status)) throw new MssError('internal', `job type ${type.name} has no state ${status}`);
        if (!controller.signal.aborted) this.update(id, { status, progress, reason });
      },
      signal: controller.signal,
      log: this.log.child('job', { job: id }),
    };
    try {
      await type.run(ctx);
      if (controller.signal.aborted) return;
      this.update(id, { status: 'successful', progress: 1, reason: '' });
      this.log.info('job-successful', { job: id, attempt });
      await type.cleanup?.(id, checkpoint).catch(() => undefined);
    } catch (err) {
      if (controller.signal.aborted) return; // stopped or removed: resumes (or is gone) later
      const e = toMssError(err);
      // invalid-argument, or an error marked final (a bad bundle, a failed health check), will not get better by retrying
      if (attempt >= maxAttempts || e.code === 'invalid-argument' || e.detail.final === true) {
        this.update(id, { status: 'failed', reason: e.message });
        this.log.warn('job-failed', { job: id, attempt, err: e });
        await type.cleanup?.(id, checkpoint).catch(() => undefined);
      } else {
        const delay = Math.min(RETRY_MAX_MS, this.retryBaseMs * 2 ** (attempt - 1));
        this.update(id, { status: 'queued', reason: `attempt ${attempt} failed: ${e.message}; retry in ${Math.round(delay / 1000)} s` });
        this.log.info('job-retry', { job: id, attempt, delayMs: delay, err: e });
        this.running.delete(id);
        this.schedule(id, delay);
      }
    } finally {
      if (this.running.get(id) === controller) this.running.delete(id);
    }
  }

  private remove(id: string, row: JobRow): void {
    this.running.get(id)?.abort(new MssError('expired', 'job removed by the operator'));
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.db.prepare('DELETE FROM device_jobs WHERE id = ?').run(id);
    this.log.info('job-removed', { job: id });
    void this.types.get(row.type)?.cleanup?.(id, JSON.parse(row.checkpoint) as Record<string, unknown>).catch(() => undefined);
    this.publish(id, null);
  }

  private update(id: string, fields: Partial<{ status: string; progress: number; attempt: number; reason: string; checkpoint: string }>): void {
    const sets = Object.keys(fields).map((k) => `${k} = @${k}`);
    this.db.prepare(`UPDATE device_jobs SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run({ ...fields, now: Date.now(), id });
    if (fields.status !== undefined || fields.progress !== undefined) {
      const row = this.row(id);
      if (row) this.publish(id, toReport(row));
    }
  }

  private row(id: string): JobRow | undefined {
    return this.db.prepare('SELECT * FROM device_jobs WHERE id = ?').get(id) as JobRow | undefined;
  }

  private rows(): JobRow[] {
    return this.db.prepare('SELECT * FROM device_jobs ORDER BY created_at').all() as JobRow[];
  }
}

function toReport(r: JobRow): JobStatusReport {
  return { status: r.status, progress: Math.round(r.progress * 1000) / 1000, attempt: r.attempt, reason: r.reason, type: r.type, updatedAt: new Date(r.updated_at).toISOString() };
}
