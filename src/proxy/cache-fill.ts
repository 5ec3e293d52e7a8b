/**
 * One fill: the origin's stream of an on-demand file written into the cache with the ASF file writer (to a
 * part file named after the entry, renamed when whole). The first player does not wait for it: players read the
 * part file as it grows (GrowingFile), each packet as soon as it is on disk. The fill asks the origin for
 * `fillSpeed` times real time, goes on when the players leave, and pauses the origin when the disk lags.
 *
 * Every packet must arrive in order (the origin's LocationId is the packet number): a gap or a header that is not
 * the one the origin described means the copy would not be the origin's file, and the fill is abandoned. A fill
 * that stops early (the origin failed, stalled past the timeout, or the box shuts down) keeps what it wrote: the
 * entry stays partial and the next fill resumes at the next packet.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { AsfFileWriter, openAsfFile, readSendTime, type AsfHeader } from '../asf/index.js';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PlaySession } from '../player/protocol-client.js';
import type { UpstreamConnector } from './upstream.js';

/** packets reach the part file (where players read them) at least this often */
const FLUSH_MS = 200;
const FLUSH_BYTES = 256 * 1024;
/** written but not yet on disk beyond this: the origin is paused until the disk catches up */
const PAUSE_BYTES = 4 * 1024 * 1024;

export interface OriginDescription {
  headerBytes: Buffer;
  header: AsfHeader;
  headerSha256: string;
  packetCount: number;
}

export interface FillOptions {
  url: string;
  /** the entry's final file and its part file */
  finalPath: string;
  partPath: string;
  origin: OriginDescription;
  /** packets already in the part file (a resumed fill), 0 for a new one */
  fromPacket: number;
  connector: UpstreamConnector;
  fillSpeed: number;
  log: Logger;
  /** bytes received from the origin */
  onBytes(n: number): void;
  /** what a description from the origin says (the same reading the check before the fill made) */
  describe(info: { header: AsfHeader; headerBytes: Buffer }): OriginDescription;
}

export type FillOutcome =
  | { kind: 'complete'; size: number; sha256: string }
  | { kind: 'partial'; packets: number; reason: string }
  | { kind: 'discard'; reason: string };

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (err: MssError) => void;
}

export function sha256Hex(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** SHA-256 of a file, read in chunks */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const fh = await fs.open(file, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return { sha256: hash.digest('hex'), size: pos };
  } finally {
    await fh.close();
  }
}

export class CacheFill {
  /** packets readable from the part file */
  durable = 0;
  /** send time (ms) of the last durable packet; -1 before the first */
  durableSendTime = -1;
  state: 'filling' | 'complete' | 'partial' | 'discarded' = 'filling';
  readonly outcome: Promise<FillOutcome>;
  private settle!: (o: FillOutcome) => void;
  private session: PlaySession | null = null;
  private waiters: Waiter[] = [];
  private written = 0;
  private lastSendTime = -1;
  private unflushedBytes = 0;
  private lastFlush = 0;
  private flushing = false;
  private flushAgain = false;
  private paused = false;
  private ending = false;
  readonly startedAt = Date.now();

  private constructor(
    private readonly o: FillOptions,
    private readonly writer: AsfFileWriter,
  ) {
    this.outcome = new Promise((r) => (this.settle = r));
    this.written = this.durable = writer.packetsWritten;
  }

  /** creates (or resumes) the part file and starts the origin stream */
  static async begin(o: FillOptions): Promise<CacheFill> {
    const creationDate = o.origin.header.fileProperties.creationDate;
    const wopts = { partPath: o.partPath, rebase: false, creationDate };
    const writer = o.fromPacket > 0 ? await AsfFileWriter.resume(o.finalPath, o.origin.headerBytes, o.fromPacket, wopts) : await AsfFileWriter.create(o.finalPath, o.origin.headerBytes, wopts);
    const fill = new CacheFill(o, writer);
    fill.open();
    return fill;
  }

  get packetCount(): number {
    return this.o.origin.packetCount;
  }

  /** what the origin described when the fill began */
  get origin(): OriginDescription {
    return this.o.origin;
  }

  get packetsWritten(): number {
    return this.written;
  }

  /** resolves once `n` packets are on disk; rejects when the fill stops before */
  waitFor(n: number): Promise<void> {
    if (this.durable >= n) return Promise.resolve();
    if (this.state !== 'filling') return Promise.reject(this.stoppedError(n));
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve, reject }));
  }

  /** the box is shutting down (or the entry is evicted): stop, keeping what is on disk */
  stop(reason = 'stopped'): Promise<FillOutcome> {
    void this.suspend(reason);
    return this.outcome;
  }

  /** abandons the fill and deletes its part file */
  discard(reason: string): Promise<FillOutcome> {
    void this.abandon(reason);
    return this.outcome;
  }

  private open(): void {
    const origin = this.o.origin;
    const fp = origin.header.fileProperties;
    const bitrate = origin.header.totalBitrate || fp.maxBitrate;
    const accel = this.o.fillSpeed > 1 && bitrate > 0 ? { bandwidth: bitrate * this.o.fillSpeed, durationMs: origin.header.durationMs + fp.prerollMs + 60_000 } : undefined;
    this.o.connector.open(this.o.url, { packetNumber: this.written > 0 ? this.written : undefined, accel }).then(
      (session) => {
        if (this.state !== 'filling') {
          session.close();
          return;
        }
        this.session = session;
        // the origin may have changed the file since it was checked: then this is not that content
        if (session.info && this.o.describe(session.info).headerSha256 !== origin.headerSha256) {
          void this.abandon('the origin now describes different content');
          return;
        }
        session.on('packet', (packet, info) => this.onPacket(packet, info.locationId));
        session.on('end', () => {
          if (!this.ending) void this.suspend(`the origin ended the stream after ${this.written} of ${this.packetCount} packets`);
        });
        session.on('error', (err) => void this.suspend(err.message));
      },
      (err) => void this.suspend(toMssError(err, 'unavailable').message),
    );
  }

  private onPacket(packet: Buffer, locationId: number): void {
    if (this.state !== 'filling' || this.ending) return;
    if (locationId < this.written) return; // a resumed origin may start a little early
    if (locationId > this.written) {
      void this.abandon(`the origin skipped packets ${this.written}..${locationId - 1}: the copy would not be its file`);
      return;
    }
    try {
      this.lastSendTime = readSendTime(packet);
    } catch (err) {
      void this.abandon(`packet ${locationId} is not an ASF data packet: ${toMssError(err).message}`);
      return;
    }
    this.o.onBytes(packet.length);
    this.writer.write(packet).catch((err) => void this.abandon(`cannot write the cache file: ${toMssError(err).message}`));
    this.written++;
    this.unflushedBytes += packet.length;
    if (this.written >= this.packetCount) {
      this.ending = true;
      this.session?.close();
      void this.complete();
      return;
    }
    const now = Date.now();
    if (now - this.lastFlush >= FLUSH_MS || this.unflushedBytes >= FLUSH_BYTES) this.flush();
    if (!this.paused && this.unflushedBytes > PAUSE_BYTES) {
      this.paused = true;
      this.session?.pause();
    }
  }

  private flush(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    this.lastFlush = Date.now();
    const upto = this.written;
    const sendTime = this.lastSendTime;
    const bytes = this.unflushedBytes;
    this.writer.flush().then(
      () => {
        this.flushing = false;
        this.unflushedBytes -= bytes;
        this.advance(upto, sendTime);
        if (this.paused && this.unflushedBytes < PAUSE_BYTES / 4) {
          this.paused = false;
          this.session?.resume();
        }
        if (this.flushAgain && this.state === 'filling') {
          this.flushAgain = false;
          this.flush();
        }
      },
      (err) => {
        this.flushing = false;
        void this.abandon(`cannot write the cache file: ${toMssError(err).message}`);
      },
    );
  }

  private advance(upto: number, sendTime: number): void {
    if (upto <= this.durable) return;
    this.durable = upto;
    this.durableSendTime = sendTime;
    const ready = this.waiters.filter((w) => w.n <= upto);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.n > upto);
    for (const w of ready) w.resolve();
  }

  private async complete(): Promise<void> {
    try {
      await this.writer.flush();
      this.advance(this.written, this.lastSendTime);
      await this.writer.finish();
      // what is on disk is checked as a reader will see it, then hashed for later verification
      const check = await openAsfFile(this.o.finalPath);
      const count = check.layout.packetCount;
      await check.close();
      if (count !== this.packetCount) throw new MssError('malformed', `the written file has ${count} packets, the origin's ${this.packetCount}`);
      const { sha256, size } = await hashFile(this.o.finalPath);
      this.state = 'complete';
      this.o.log.info('cache.filled', { url: this.o.url, packets: count, bytes: size, ms: Date.now() - this.startedAt });
      this.settle({ kind: 'complete', size, sha256 });
    } catch (err) {
      await fs.rm(this.o.finalPath, { force: true }).catch(() => undefined);
      this.finishWith('discarded', { kind: 'discard', reason: `could not complete the cache file: ${toMssError(err).message}` });
    }
  }

  /** stops and keeps the part file for a resume */
  private async suspend(reason: string): Promise<void> {
    if (this.state !== 'filling' || this.ending) return;
    this.ending = true;
    this.session?.close();
    let packets: number;
    try {
      packets = await this.writer.suspend();
    } catch (err) {
      await this.writer.abort().catch(() => undefined);
      this.finishWith('discarded', { kind: 'discard', reason: `${reason}; the part file could not be kept: ${toMssError(err).message}` });
      return;
    }
    this.durable = packets;
    this.o.log.warn('cache.fill-interrupted', { url: this.o.url, packets, of: this.packetCount, reason });
    this.finishWith('partial', { kind: 'partial', packets, reason });
  }

  private async abandon(reason: string): Promise<void> {
    // once ending, complete() or suspend() settles the fill (and handles its own failures)
    if (this.state !== 'filling' || this.ending) return;
    this.ending = true;
    this.session?.close();
    await this.writer.abort().catch(() => undefined);
    this.o.log.warn('cache.fill-abandoned', { url: this.o.url, reason });
    this.finishWith('discarded', { kind: 'discard', reason });
  }

  private finishWith(state: CacheFill['state'], outcome: FillOutcome): void {
    this.state = state;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (w.n <= this.durable && state === 'partial') w.resolve();
      else w.reject(this.stoppedError(w.n));
    }
    this.settle(outcome);
  }

  private stoppedError(n: number): MssError {
    return new MssError('unavailable', `the origin's copy of ${this.o.url} stopped at packet ${this.durable} of ${this.packetCount} (packet ${n - 1} is needed)`);
  }
}
