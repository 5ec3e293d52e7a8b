/**
 * The on-demand cache: ASF files in one directory, indexed in SQLite (CacheIndex), bounded by size with
 * least-recently-used eviction. An entry is served only once it is whole and verified: its size and SHA-256 are
 * checked the first time it is opened after a start (and whenever the file changed on disk), then it is parsed as
 * an ASF file; an entry that fails is dropped, so the caller fetches it again. Partial entries (an interrupted
 * fill) are never served as complete: a fill resumes them or they are evicted first.
 *
 * Space is charged before a fill starts (the whole file the origin described, with room for its index), so the
 * files on disk never exceed maxBytes. Entries in use (being filled, read, or looked up a moment ago) are not
 * evicted; when nothing can make room, the caller passes the content through uncached.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openAsfFile } from '../asf/index.js';
import type { ProxyCacheConfig } from '../config/index.js';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { MediaFileHandle } from '../media/origin.js';
import { DATABASE_FILE, openStore, type Db } from '../store/db.js';
import { CacheFill, hashFile, type FillOptions, type OriginDescription } from './cache-fill.js';
import { CacheIndex, proxyMigrations, type CacheRecord } from './cache-index.js';
import { GrowingFile } from './origin-file.js';
import type { UpstreamConnector } from './upstream.js';

/** an entry looked up this recently is not evicted (its player is about to open it) */
const PIN_MS = 3000;
const ACCESS_FLUSH_MS = 5000;

/** bytes a whole file takes: header, packets, and a Simple Index per video stream (1 s entries) */
export function expectedFileSize(origin: OriginDescription): number {
  const h = origin.header;
  const data = h.raw.length + 50 + origin.packetCount * h.fileProperties.packetSize;
  const seconds = Math.ceil((h.durationMs + h.fileProperties.prerollMs) / 1000) + 2;
  const videos = Math.max(1, h.streams.filter((s) => s.type === 'video').length);
  return data + videos * (56 + 6 * seconds);
}

export interface CacheStats {
  entries: number;
  complete: number;
  partial: number;
  bytes: number;
  maxBytes: number;
  fills: number;
  evictions: number;
  verifyFailures: number;
}

export class OnDemandCache {
  private db: Db | null = null;
  private index: CacheIndex | null = null;
  private readonly records = new Map<string, CacheRecord>();
  private readonly fills = new Map<string, CacheFill>();
  /** the index updates of fills that ended, still being written */
  private readonly settling = new Set<Promise<void>>();
  private readonly readers = new Map<string, number>();
  /** file identity (inode, size, mtime) last verified, per URL */
  private readonly verified = new Map<string, string>();
  private readonly pinnedUntil = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | null = null;
  /** settles once start() has run (the HTTP listener takes requests before the modules after it started) */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private readonly counters = { evictions: 0, verifyFailures: 0 };
  readonly dir: string;

  constructor(
    private config: ProxyCacheConfig,
    private readonly dataDir: string,
    private readonly connector: UpstreamConnector,
    private readonly log: Logger,
  ) {
    this.dir = path.isAbsolute(config.dir) ? config.dir : path.join(dataDir, config.dir);
    this.ready = new Promise((r) => (this.markReady = r));
  }

  get settings(): ProxyCacheConfig {
    return this.config;
  }

  /** new limits apply at once (a smaller bound evicts); the directory changes only with a restart */
  update(config: ProxyCacheConfig): void {
    this.config = config;
    if (this.index) void this.makeRoom(0);
  }

  async start(): Promise<void> {
    try {
      await this.open();
    } finally {
      this.markReady();
    }
  }

  private async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    this.db = openStore(path.join(this.dataDir, DATABASE_FILE), proxyMigrations);
    this.index = new CacheIndex(this.db);
    for (const rec of this.index.all()) this.records.set(rec.url, rec);
    await this.reconcile();
    await this.makeRoom(0);
    this.flushTimer = setInterval(() => this.flushAccess(), ACCESS_FLUSH_MS);
    this.flushTimer.unref();
    this.log.info('cache.started', { dir: this.dir, ...this.stats() });
  }

  async stop(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    // fills keep what they wrote: the entries stay partial and resume after the restart
    await Promise.all([...this.fills.values()].map((f) => f.stop('the proxy is stopping')));
    await Promise.all([...this.settling]);
    this.flushAccess();
    this.db?.close();
    this.db = null;
    this.index = null;
  }

  record(url: string): CacheRecord | undefined {
    return this.records.get(url);
  }

  activeFill(url: string): CacheFill | undefined {
    return this.fills.get(url);
  }

  list(): CacheRecord[] {
    return [...this.records.values()].sort((a, b) => b.lastAccess - a.lastAccess);
  }

  get fillCount(): number {
    return this.fills.size;
  }

  private pathOf(rec: Pick<CacheRecord, 'file'>): string {
    return path.join(this.dir, rec.file);
  }

  private partPathOf(rec: Pick<CacheRecord, 'file'>): string {
    return path.join(this.dir, `.${rec.file}.part`);
  }

  /** files with no row are left-overs of a crash; rows whose file is gone are forgotten */
  private async reconcile(): Promise<void> {
    const expected = new Set<string>();
    for (const rec of [...this.records.values()]) {
      const file = rec.state === 'complete' ? this.pathOf(rec) : this.partPathOf(rec);
      const st = await fs.stat(file).catch(() => null);
      if (!st) {
        this.log.warn('cache.entry-missing', { url: rec.url, file: path.basename(file) });
        this.forget(rec.url);
        continue;
      }
      if (rec.state === 'partial' && rec.size !== st.size) {
        rec.size = st.size;
        this.index!.save(rec);
      }
      expected.add(path.basename(file));
    }
    for (const name of await fs.readdir(this.dir)) {
      if (expected.has(name)) continue;
      await fs.rm(path.join(this.dir, name), { force: true, recursive: true }).catch(() => undefined);
      this.log.info('cache.stray-file-removed', { file: name });
    }
  }

  // -- serving ----------------------------------------------------------------------------------------------------

  /**
   * A complete entry, verified: an opener of its file, or null when the file is missing, truncated, corrupt or
   * unreadable (the entry is dropped then, and the caller fetches the content again).
   */
  async openerFor(rec: CacheRecord): Promise<((at?: unknown) => Promise<MediaFileHandle>) | null> {
    if (rec.state !== 'complete') return null;
    const file = this.pathOf(rec);
    try {
      await this.verify(rec, file);
    } catch (err) {
      this.counters.verifyFailures++;
      this.log.warn('cache.entry-invalid', { url: rec.url, file: rec.file, error: toMssError(err) });
      await this.drop(rec.url, 'failed verification');
      return null;
    }
    this.index!.touch(rec);
    this.pinnedUntil.set(rec.url, Date.now() + PIN_MS);
    return async () => {
      const handle = await openAsfFile(file).catch((err) => {
        throw new MssError('unavailable', `cache entry for ${rec.url} cannot be opened: ${toMssError(err).message}`);
      });
      this.addReader(rec.url);
      let closed = false;
      const close = handle.close.bind(handle);
      return {
        ...handle,
        close: async () => {
          if (closed) return;
          closed = true;
          this.removeReader(rec.url);
          await close();
        },
      };
    };
  }

  private async verify(rec: CacheRecord, file: string): Promise<void> {
    const st = await fs.stat(file).catch(() => null);
    if (!st) throw new MssError('not-found', `${rec.file} is missing`);
    if (st.size !== rec.size) throw new MssError('truncated', `${rec.file} has ${st.size} bytes, the index says ${rec.size}`);
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.verified.get(rec.url) === key) return;
    const { sha256 } = await hashFile(file);
    if (sha256 !== rec.sha256) throw new MssError('malformed', `${rec.file} does not have the content it was stored with (SHA-256 differs)`);
    const f = await openAsfFile(file);
    const count = f.layout.packetCount;
    await f.close();
    if (count !== rec.packetCount) throw new MssError('malformed', `${rec.file} has ${count} packets, the index says ${rec.packetCount}`);
    this.verified.set(rec.url, key);
  }

  /** a reader of a growing entry (the fill's part file; the final file once the fill completed) */
  async openGrowing(url: string, fill: CacheFill, origin: OriginDescription): Promise<MediaFileHandle> {
    const rec = this.records.get(url);
    if (!rec) throw new MssError('unavailable', `the cache entry for ${url} went away`);
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(this.partPathOf(rec), 'r');
    } catch (err) {
      // the fill finished in between: the final file is the same bytes at the same places
      if (fill.state === 'complete') fh = await fs.open(this.pathOf(rec), 'r');
      else throw new MssError('unavailable', `cache part file for ${url}: ${(err as Error).message}`);
    }
    this.addReader(url);
    return new GrowingFile(origin, fill, fh, () => this.removeReader(url));
  }

  private addReader(url: string): void {
    this.readers.set(url, (this.readers.get(url) ?? 0) + 1);
  }

  private removeReader(url: string): void {
    const n = (this.readers.get(url) ?? 1) - 1;
    if (n <= 0) this.readers.delete(url);
    else this.readers.set(url, n);
  }

  // -- filling ----------------------------------------------------------------------------------------------------

  /**
   * Starts (or, for a partial entry of the same content, resumes) a fill. Null when it cannot: too many fills,
   * the content is larger than the cache, or no room can be made; the caller then passes the content through.
   */
  async beginFill(url: string, origin: OriginDescription, opts: { fillSpeed: number; onBytes(n: number): void; describe: FillOptions['describe'] }): Promise<CacheFill | null> {
    const running = this.fills.get(url);
    if (running) return running;
    if (!this.index) return null;
    if (this.fills.size >= this.config.maxFills) return null;
    const size = expectedFileSize(origin);
    let rec = this.records.get(url);
    const resume = rec?.state === 'partial' && rec.headerSha256 === origin.headerSha256 && rec.packets > 0 ? rec.packets : 0;
    if (rec && !resume) await this.drop(url, 'replaced');
    if (size > this.config.maxBytes) {
      this.log.info('cache.too-large', { url, bytes: size, maxBytes: this.config.maxBytes });
      return null;
    }
    if (!(await this.makeRoom(size, url))) return null;
    const fp = origin.header.fileProperties;
    const now = Date.now();
    rec = resume
      ? rec!
      : {
          url,
          file: `${createHash('sha1').update(url).digest('hex').slice(0, 16)}-${origin.headerSha256.slice(0, 12)}.asf`,
          fileId: fp.fileId.toString('hex'),
          creationDate: fp.creationDate.toString(),
          headerSha256: origin.headerSha256,
          packetSize: fp.packetSize,
          packetCount: origin.packetCount,
          state: 'partial',
          packets: 0,
          size: 0,
          sha256: null,
          createdAt: now,
          lastAccess: now,
          hits: 0,
        };
    // charged in full while it fills, so others make room for it
    rec.size = size;
    this.records.set(url, rec);
    this.index.save(rec);
    const begin = (fromPacket: number) =>
      CacheFill.begin({
        url,
        finalPath: this.pathOf(rec!),
        partPath: this.partPathOf(rec!),
        origin,
        fromPacket,
        connector: this.connector,
        fillSpeed: opts.fillSpeed,
        log: this.log,
        onBytes: opts.onBytes,
        describe: opts.describe,
      });
    let fill: CacheFill;
    try {
      fill = await begin(resume).catch(async (err) => {
        if (!resume) throw err;
        // the part file is not usable (gone, not this content's): start from the beginning
        this.log.warn('cache.resume-failed', { url, error: toMssError(err) });
        await fs.rm(this.partPathOf(rec!), { force: true });
        rec!.packets = 0;
        return begin(0);
      });
    } catch (err) {
      this.log.warn('cache.fill-failed', { url, error: toMssError(err) });
      await this.drop(url, 'could not start a fill');
      return null;
    }
    this.fills.set(url, fill);
    this.log.info(resume ? 'cache.fill-resumed' : 'cache.fill-started', { url, fromPacket: resume, packets: origin.packetCount, bytes: size });
    const settled: Promise<void> = fill.outcome
      .then((o) => this.fillEnded(url, rec!, fill, o))
      .catch((err) => this.log.error('cache.index-write-failed', { url, error: toMssError(err) }))
      .finally(() => this.settling.delete(settled));
    this.settling.add(settled);
    return fill;
  }

  private async fillEnded(url: string, rec: CacheRecord, fill: CacheFill, o: Awaited<CacheFill['outcome']>): Promise<void> {
    if (this.fills.get(url) === fill) this.fills.delete(url);
    if (this.records.get(url) !== rec || !this.index) return;
    if (o.kind === 'complete') {
      rec.state = 'complete';
      rec.packets = rec.packetCount;
      rec.size = o.size;
      rec.sha256 = o.sha256;
      this.index.save(rec);
      const st = await fs.stat(this.pathOf(rec)).catch(() => null);
      if (st) this.verified.set(url, `${st.ino}:${st.size}:${st.mtimeMs}`);
      // the index objects may take a little more than was charged
      await this.makeRoom(0);
    } else if (o.kind === 'partial') {
      rec.packets = o.packets;
      const st = await fs.stat(this.partPathOf(rec)).catch(() => null);
      rec.size = st?.size ?? 0;
      this.index.save(rec);
    } else {
      await this.drop(url, o.reason);
    }
  }

  // -- space ------------------------------------------------------------------------------------------------------

  /** bytes the entries take (a filling entry: its whole expected size) */
  usage(): number {
    let n = 0;
    for (const r of this.records.values()) n += r.size;
    return n;
  }

  /** evicts least recently used entries not in use until `bytes` more fit; false when they cannot */
  private async makeRoom(bytes: number, forUrl?: string): Promise<boolean> {
    const max = this.config.maxBytes;
    let used = this.usage() - (forUrl ? (this.records.get(forUrl)?.size ?? 0) : 0);
    if (used + bytes <= max) return true;
    const now = Date.now();
    const candidates = [...this.records.values()]
      .filter((r) => r.url !== forUrl && !this.fills.has(r.url) && !this.readers.has(r.url) && (this.pinnedUntil.get(r.url) ?? 0) < now)
      // partial entries first (they cannot be served), then the least recently used
      .sort((a, b) => (a.state === b.state ? a.lastAccess - b.lastAccess : a.state === 'partial' ? -1 : 1));
    for (const r of candidates) {
      if (used + bytes <= max) break;
      used -= r.size;
      this.counters.evictions++;
      await this.drop(r.url, 'evicted (least recently used)');
    }
    return used + bytes <= max;
  }

  /** removes an entry and its files (players reading it keep their open file until they finish) */
  async drop(url: string, reason: string): Promise<void> {
    const rec = this.records.get(url);
    const fill = this.fills.get(url);
    this.fills.delete(url);
    if (fill) await fill.discard(reason);
    this.forget(url);
    if (!rec) return;
    await fs.rm(this.pathOf(rec), { force: true }).catch(() => undefined);
    await fs.rm(this.partPathOf(rec), { force: true }).catch(() => undefined);
    this.log.info('cache.entry-removed', { url, file: rec.file, reason });
  }

  private forget(url: string): void {
    this.records.delete(url);
    this.verified.delete(url);
    this.pinnedUntil.delete(url);
    this.index?.remove(url);
  }

  private flushAccess(): void {
    try {
      this.index?.flush();
    } catch (err) {
      this.log.warn('cache.index-write-failed', { error: toMssError(err) });
    }
  }

  stats(): CacheStats {
    let complete = 0;
    let partial = 0;
    for (const r of this.records.values()) (r.state === 'complete' ? complete++ : partial++);
    return {
      entries: this.records.size,
      complete,
      partial,
      bytes: this.usage(),
      maxBytes: this.config.maxBytes,
      fills: this.fills.size,
      evictions: this.counters.evictions,
      verifyFailures: this.counters.verifyFailures,
    };
  }
}
