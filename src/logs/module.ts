/**
 * LogsModule: collects player logs from every path (WMSP Log POSTs through the media server's hook, the web
 * logging URL, later RTSP) and the server's own record of every session; stores each in SQLite (WAL) before it
 * is acknowledged; exports W3C extended log files; serves /api/logs; hands each stored entry to subscribers
 * (the device agent's MQTT outbox). Floods are bounded per address (rate) and per request (size).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../config/paths.js';
import type { AppContext } from '../app/context.js';
import type { PlayerLogReport, SessionSummary } from '../contracts/sessions.js';
import type { LogsConfig, MssConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import { parsePlayerLog } from '../protocols/wmlog/codec.js';
import { openStore, type Db } from '../store/db.js';
import { playerLogEntry, sessionEntry, type LogEntry, type NewLogEntry } from './entry.js';
import { logsMigrations } from './migrations.js';
import { PerAddressRateLimit } from './rate-limit.js';
import { logsApiRoute, webLogRoute, WEB_LOG_PATH, type LogIntake } from './routes.js';
import { LogStore, type LogQuery } from './store.js';
import { W3cLogFile, w3cLine } from './w3c-file.js';

/** the appliance database file in dataDir (shared by the modules that keep state) */
export const DATABASE_FILE = 'mss.db';
const EXPORT_DELAY_MS = 200;
const EXPORT_BATCH = 500;
const PRUNE_EVERY_MS = 60 * 60_000;
const MAX_SUBSCRIBERS = 32;
/** entries waiting for their group commit */
const MAX_QUEUED = 2000;

/** `#Software:` of the W3C files */
function softwareName(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return `mss ${pkg.version ?? ''}`.trim();
  } catch {
    return 'mss';
  }
}

export type LogEntryListener = (entry: LogEntry) => void;

export class LogsModule implements AppModule, LogIntake {
  readonly name = 'logs';
  private readonly config: LogsConfig;
  private readonly dbFile: string;
  private readonly log: Logger;
  private db: Db | null = null;
  private store: LogStore | null = null;
  private w3c: W3cLogFile;
  private limiter: PerAddressRateLimit;
  private listeners: LogEntryListener[] = [];
  private queue: Array<{ entry: NewLogEntry; resolve: (e: LogEntry) => void; reject: (err: unknown) => void }> = [];
  private exportTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private exporting: Promise<void> = Promise.resolve();
  private state: 'stopped' | 'running' | 'failed' = 'stopped';
  private counters = { stored: 0, rejected: 0, rateLimited: 0, exported: 0, exportErrors: 0 };

  constructor(ctx: AppContext, software = softwareName()) {
    this.config = ctx.config.logs;
    this.log = ctx.log.child('logs');
    this.dbFile = path.join(ctx.config.dataDir, DATABASE_FILE);
    const dir = path.isAbsolute(this.config.w3cDir) ? this.config.w3cDir : path.join(ctx.config.dataDir, this.config.w3cDir);
    this.w3c = new W3cLogFile(dir, this.config.rotateBytes, software);
    this.limiter = new PerAddressRateLimit(this.config.postsPerMinute);
    ctx.hooks.onPlayerLog = (report) => this.onPlayerLog(report);
    ctx.hooks.onSessionEnd = (summary) => this.onSessionEnd(summary);
    ctx.http.addRoute(webLogRoute(this));
    ctx.http.addRoute(ctx.api.protect(logsApiRoute(this)));
  }

  get maxPostBytes(): number {
    return this.config.maxPostBytes;
  }

  /** the path .asx files give as LOGURL (the web logging URL of this server) */
  get webLogPath(): string {
    return WEB_LOG_PATH;
  }

  get w3cDir(): string {
    return this.w3c.dir;
  }

  async start(): Promise<void> {
    try {
      this.db = openStore(this.dbFile, logsMigrations);
      this.store = new LogStore(this.db);
      await this.w3c.open();
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    this.state = 'running';
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.scheduleExport(0); // rows stored before a crash but not yet in the file
  }

  async stop(): Promise<void> {
    if (this.exportTimer) clearTimeout(this.exportTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.exportTimer = this.pruneTimer = null;
    this.commitQueue();
    await this.runExport();
    await this.w3c.close();
    this.db?.close();
    this.db = null;
    this.store = null;
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: this.state === 'running', state: this.state, detail: { ...this.counters, w3cDir: this.w3c.dir } };
  }

  telemetry(): Record<string, unknown> {
    // queued: entries waiting for their group commit (the log store's queue, bounded by MAX_QUEUED)
    return { ...this.counters, queued: this.queue.length };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    const a = next.logs;
    const b = previous.logs;
    if (JSON.stringify(a) === JSON.stringify(b) && next.dataDir === previous.dataDir) return 'unchanged';
    if (a.w3cDir !== b.w3cDir || a.rotateBytes !== b.rotateBytes || next.dataDir !== previous.dataDir) return 'pending-restart';
    Object.assign(this.config, { maxPostBytes: a.maxPostBytes, retainDays: a.retainDays, postsPerMinute: a.postsPerMinute });
    if (a.postsPerMinute !== b.postsPerMinute) this.limiter = new PerAddressRateLimit(a.postsPerMinute);
    return 'applied';
  }

  /** Calls `cb` with every entry once it is stored (player logs and session rows). Returns an unsubscribe. */
  onEntry(cb: LogEntryListener): () => void {
    if (this.listeners.length >= MAX_SUBSCRIBERS) throw new MssError('limit-reached', `at most ${MAX_SUBSCRIBERS} log entry listeners`);
    this.listeners.push(cb);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== cb);
    };
  }

  checkRate(remoteAddress: string): void {
    if (this.limiter.take(remoteAddress)) return;
    this.counters.rateLimited++;
    throw new MssError('limit-reached', `more than ${this.config.postsPerMinute} log posts a minute from ${remoteAddress}`, {
      status: 429,
      retryAfter: this.limiter.retryAfter(remoteAddress),
      // a flood is logged once per address and window, not once per post
      refusedInWindow: this.limiter.refused(remoteAddress),
    });
  }

  /**
   * A player log from a media-server protocol (WMSP Log POST). Resolves once stored; throws MssError
   * 'malformed' / 'too-large' (400/413, nothing stored) or 'limit-reached' with detail.status 429.
   */
  async onPlayerLog(report: PlayerLogReport): Promise<void> {
    this.checkRate(report.remoteAddress);
    await this.acceptPlayerLog(report);
  }

  async acceptWebLog(req: { remoteAddress: string; url: string; userAgent: string; contentType?: string; body: Buffer }): Promise<LogEntry> {
    return this.acceptPlayerLog({ protocol: 'http', ...req, receivedAt: Date.now() });
  }

  query(q: LogQuery): LogEntry[] {
    return this.requireStore().query(q);
  }

  /** The server's own entry for a finished session (written whether or not the player sent a log). */
  onSessionEnd(summary: SessionSummary): void {
    this.enqueue(sessionEntry(summary), true).catch((err) => {
      this.log.error('logs.session-not-stored', { remote: summary.remoteAddress, url: summary.url, error: err });
    });
  }

  private acceptPlayerLog(report: PlayerLogReport): Promise<LogEntry> {
    let parsed;
    try {
      parsed = parsePlayerLog({ contentType: report.contentType, body: report.body, logLine: report.logLine, maxBytes: this.config.maxPostBytes });
    } catch (err) {
      this.counters.rejected++;
      return Promise.reject(err);
    }
    return this.enqueue(playerLogEntry(report, parsed));
  }

  private requireStore(): LogStore {
    if (!this.store) throw new MssError('unavailable', 'the logs store is not open');
    return this.store;
  }

  /**
   * Group commit: entries arriving in the same turn of the event loop are written in one transaction (one
   * fsync), and each promise resolves only once its entry is on disk. The queue is bounded: past it, player logs
   * are refused ('limit-reached') rather than let a flood from many addresses take the event loop. The server's own
   * session rows (`own`) are never refused (they are as many as sessions end, and a mass disconnect ends thousands
   * in one turn): a full queue is committed at once and the row starts the next batch.
   */
  private enqueue(e: NewLogEntry, own = false): Promise<LogEntry> {
    try {
      this.requireStore();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.queue.length >= MAX_QUEUED) {
      if (!own) {
        this.counters.rateLimited++;
        return Promise.reject(new MssError('limit-reached', `${MAX_QUEUED} log entries are waiting to be stored; try again`, { status: 503 }));
      }
      this.commitQueue();
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ entry: e, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.commitQueue());
    });
  }

  private commitQueue(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let stored: LogEntry[];
    try {
      stored = this.requireStore().insertMany(batch.map((b) => b.entry)); // durable when it returns (WAL, synchronous=FULL)
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    this.counters.stored += stored.length;
    stored.forEach((entry, i) => {
      for (const l of this.listeners) {
        try {
          l(entry);
        } catch (err) {
          this.log.warn('logs.listener-failed', { error: err });
        }
      }
      batch[i]!.resolve(entry);
    });
    this.scheduleExport(EXPORT_DELAY_MS);
  }

  private scheduleExport(delayMs: number): void {
    if (this.exportTimer || this.state !== 'running') return;
    this.exportTimer = setTimeout(() => {
      this.exportTimer = null;
      void this.runExport();
    }, delayMs);
  }

  /** Appends stored-but-unexported rows to the W3C file in batches; one export at a time. */
  private runExport(): Promise<void> {
    this.exporting = this.exporting.then(async () => {
      const store = this.store;
      if (!store) return;
      try {
        for (;;) {
          const batch = store.unexported(EXPORT_BATCH);
          if (batch.length === 0) return;
          await this.w3c.append(batch.map((e) => w3cLine(e.fields)), Date.now());
          store.markExported(batch[batch.length - 1]!.id);
          this.counters.exported += batch.length;
        }
      } catch (err) {
        this.counters.exportErrors++;
        this.log.error('logs.export-failed', { dir: this.w3c.dir, error: err });
      }
    });
    return this.exporting;
  }

  private prune(): void {
    try {
      const removed = this.store?.prune(Date.now() - this.config.retainDays * 86_400_000) ?? 0;
      if (removed > 0) this.log.info('logs.pruned', { removed });
    } catch (err) {
      this.log.warn('logs.prune-failed', { error: err });
    }
  }

  /** stores queued entries and writes pending W3C lines now (tests, shutdown) */
  flush(): Promise<void> {
    this.commitQueue();
    return this.runExport();
  }
}
