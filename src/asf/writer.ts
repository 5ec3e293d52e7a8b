/**
 * Writes a valid, seekable ASF file from a Header Object and a sequence of data packets:
 * Broadcast cleared, Seekable set, sizes/counts/durations computed from the packets, and a
 * Simple Index (1 s) per video stream. The streaming writer goes to a temporary name, is fsynced
 * and renamed on finish, so a crash never leaves a half-written file under the final name.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MssError } from '../core/errors.js';
import { ASF_GUID_BYTES } from './guid.js';
import { DATA_OBJECT_HEAD_SIZE, parseHeaderObject, patchFileProperties, serializeDataObjectHead, type AsfHeader } from './header.js';
import { parseDataPacket, restampPacket } from './packet.js';

export interface AsfWriteOptions {
  /** FILETIME for File Properties Creation Date; default now */
  creationDate?: bigint;
  /** Simple Index entry interval in ms; default 1000 */
  indexIntervalMs?: number;
  /**
   * Shift every send and presentation time so the file starts at send time 0 (default true), as a
   * file made by an encoder does. A stream saved from the middle of a live broadcast otherwise starts
   * hours into its timeline and gets a Simple Index covering all those hours. A no-op for packets that
   * already start at 0 (on-demand files); pass false to keep the packets byte for byte.
   */
  rebase?: boolean;
  /**
   * The temporary file to write (default: a unique hidden name next to the final one). A caller that resumes an
   * interrupted write later (AsfFileWriter.resume) names it so it can find it again.
   */
  partPath?: string;
}

/** Decides the time shift at the first packet and applies it to every packet. */
class Rebaser {
  private delta: number | null = null;

  constructor(
    private readonly enabled: boolean,
    private readonly packetSize: number,
  ) {}

  apply(packet: Buffer): Buffer {
    if (!this.enabled) return packet;
    if (this.delta === null) {
      const p = parseDataPacket(packet, this.packetSize);
      let start = p.sendTime;
      for (const pl of p.payloads) if (pl.replicatedData.length >= 8 || pl.compressed) start = Math.min(start, pl.presentationTime);
      this.delta = -start;
    }
    return this.delta === 0 ? packet : restampPacket(packet, this.packetSize, this.delta);
  }
}

interface KeyFrame {
  presentationTime: number;
  packet: number;
  lastPacket: number;
}

/** FILETIME (100-ns ticks since 1601-01-01) for a JS time. */
export function filetimeFromDate(ms: number): bigint {
  return (BigInt(Math.round(ms)) + 11644473600000n) * 10000n;
}

/** Collects what the header and index need while packets pass by. */
class PacketStats {
  packets = 0;
  minSend = Infinity;
  maxSend = -Infinity;
  minPres = Infinity;
  maxPresEnd = -Infinity;
  private lastPres = new Map<number, { last: number; step: number }>();
  private keyFrames = new Map<number, KeyFrame[]>();
  private openKey = new Map<number, { objectNumber: number; frame: KeyFrame }>();
  private readonly videoStreams: number[];

  constructor(readonly header: AsfHeader) {
    this.videoStreams = header.streams.filter((s) => s.type === 'video').map((s) => s.number);
    for (const v of this.videoStreams) this.keyFrames.set(v, []);
  }

  check(packet: Buffer): void {
    const ps = this.header.fileProperties.packetSize;
    if (packet.length !== ps) {
      throw new MssError('invalid-argument', `packet ${this.packets} has ${packet.length} bytes, the header's packet size is ${ps}`, { packet: this.packets });
    }
  }

  add(packet: Buffer): void {
    this.check(packet);
    const p = parseDataPacket(packet, this.header.fileProperties.packetSize);
    const n = this.packets++;
    this.minSend = Math.min(this.minSend, p.sendTime);
    this.maxSend = Math.max(this.maxSend, p.sendTime);
    for (const pl of p.payloads) {
      const pres = pl.presentationTime;
      if (pl.replicatedData.length >= 8 || pl.compressed) {
        this.minPres = Math.min(this.minPres, pres);
        const prev = this.lastPres.get(pl.streamNumber);
        if (!prev) this.lastPres.set(pl.streamNumber, { last: pres, step: 0 });
        else if (pres > prev.last) this.lastPres.set(pl.streamNumber, { last: pres, step: pres - prev.last });
        const end = pres + (this.lastPres.get(pl.streamNumber)?.step ?? 0);
        this.maxPresEnd = Math.max(this.maxPresEnd, end);
      }
      const frames = this.keyFrames.get(pl.streamNumber);
      if (!frames) continue;
      const open = this.openKey.get(pl.streamNumber);
      if (pl.keyFrame && pl.offsetIntoObject === 0) {
        const frame = { presentationTime: pres, packet: n, lastPacket: n };
        frames.push(frame);
        this.openKey.set(pl.streamNumber, { objectNumber: pl.objectNumber, frame });
      } else if (open && open.objectNumber === pl.objectNumber) {
        open.frame.lastPacket = n;
      } else if (open) {
        this.openKey.delete(pl.streamNumber);
      }
    }
  }

  /** Play duration in ms including preroll, on the timeline rebased so the first presentation is at preroll. */
  playMs(): number {
    if (this.maxPresEnd < 0) return 0;
    return Math.max(0, this.maxPresEnd - this.rebase());
  }

  /** How far the presentation times sit after the preroll (0 for a normal file, D for a shifted one). */
  rebase(): number {
    const preroll = this.header.fileProperties.prerollMs;
    return this.minPres === Infinity ? 0 : Math.max(0, this.minPres - preroll);
  }

  indexObjects(fileId: Buffer, intervalMs: number): Buffer[] {
    const out: Buffer[] = [];
    if (this.packets === 0 || this.maxPresEnd < 0) return out;
    const count = Math.floor(this.maxPresEnd / intervalMs) + 1;
    for (const stream of this.videoStreams) {
      const frames = this.keyFrames.get(stream)!;
      if (frames.length === 0) continue;
      const body = Buffer.alloc(56 + count * 6);
      ASF_GUID_BYTES.SimpleIndex.copy(body, 0);
      body.writeBigUInt64LE(BigInt(body.length), 16);
      fileId.copy(body, 24);
      body.writeBigUInt64LE(BigInt(intervalMs) * 10000n, 40);
      body.writeUInt32LE(count, 52);
      let k = 0;
      let maxCount = 0;
      for (let i = 0; i < count; i++) {
        const t = i * intervalMs;
        while (k + 1 < frames.length && frames[k + 1]!.presentationTime <= t) k++;
        const f = frames[k]!;
        const pc = Math.min(0xffff, f.lastPacket - f.packet + 1);
        maxCount = Math.max(maxCount, pc);
        body.writeUInt32LE(f.packet, 56 + i * 6);
        body.writeUInt16LE(pc, 56 + i * 6 + 4);
      }
      body.writeUInt32LE(maxCount, 48);
      out.push(body);
    }
    return out;
  }
}

function finalHeader(header: AsfHeader, stats: PacketStats, fileSize: bigint, creationDate: bigint): Buffer {
  const preroll = header.fileProperties.prerollMs;
  const playMs = stats.playMs();
  return patchFileProperties(header.raw, {
    broadcast: false,
    seekable: true,
    fileSize,
    creationDate,
    dataPacketsCount: BigInt(stats.packets),
    playDuration: BigInt(playMs) * 10000n,
    sendDuration: BigInt(Math.max(0, playMs - preroll)) * 10000n,
  });
}

function dataHead(header: AsfHeader, packets: number): Buffer {
  return serializeDataObjectHead({
    fileId: header.fileProperties.fileId,
    size: BigInt(DATA_OBJECT_HEAD_SIZE + packets * header.fileProperties.packetSize),
    totalPackets: BigInt(packets),
    reserved: 0x0101,
  });
}

/** A whole ASF file in memory. `headerObject` may be a bare Header Object or a `$H` payload. */
export function buildAsfFile(headerObject: Buffer, packets: Buffer[], opts: AsfWriteOptions = {}): Buffer {
  const header = parseHeaderObject(headerObject);
  const stats = new PacketStats(header);
  const rebaser = new Rebaser(opts.rebase ?? true, header.fileProperties.packetSize);
  packets = packets.map((p) => {
    stats.check(p);
    const q = rebaser.apply(p);
    stats.add(q);
    return q;
  });
  const index = stats.indexObjects(header.fileProperties.fileId, opts.indexIntervalMs ?? 1000);
  const total = header.raw.length + DATA_OBJECT_HEAD_SIZE + packets.length * header.fileProperties.packetSize + index.reduce((a, b) => a + b.length, 0);
  const head = finalHeader(header, stats, BigInt(total), opts.creationDate ?? filetimeFromDate(Date.now()));
  return Buffer.concat([head, dataHead(header, packets.length), ...packets, ...index], total);
}

const FLUSH_BYTES = 256 * 1024;

/** Streaming file writer: header placeholder, packets appended, header patched and index added on finish. */
export class AsfFileWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private position: number;
  private chain: Promise<void> = Promise.resolve();
  private state: 'open' | 'finished' | 'aborted' | 'suspended' = 'open';

  private constructor(
    readonly path: string,
    private readonly tmpPath: string,
    private readonly fh: fs.FileHandle,
    private readonly header: AsfHeader,
    private readonly stats: PacketStats,
    private readonly opts: AsfWriteOptions,
    private readonly rebaser = new Rebaser(opts.rebase ?? true, header.fileProperties.packetSize),
  ) {
    this.position = header.raw.length + DATA_OBJECT_HEAD_SIZE;
  }

  static async create(filePath: string, headerObject: Buffer, opts: AsfWriteOptions = {}): Promise<AsfFileWriter> {
    const header = parseHeaderObject(headerObject);
    const tmpPath = opts.partPath ?? path.join(path.dirname(filePath), `.${path.basename(filePath)}.${process.pid}-${randomBytes(4).toString('hex')}.part`);
    const fh = await fs.open(tmpPath, 'w');
    const stats = new PacketStats(header);
    const w = new AsfFileWriter(filePath, tmpPath, fh, header, stats, opts);
    try {
      // placeholder: same sizes as the final header, patched on finish
      await fh.write(Buffer.concat([finalHeader(header, stats, 0n, 0n), dataHead(header, 0)]), 0, undefined, 0);
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w;
  }

  /**
   * Continues an interrupted write: the temporary file `opts.partPath` keeps its first `packets` packets (fewer
   * when fewer are there), which are read back for the header and index statistics; the rest is cut off.
   * Packets must be kept byte for byte (rebase false). Rejects a part file that is not this header's.
   */
  static async resume(filePath: string, headerObject: Buffer, packets: number, opts: AsfWriteOptions & { partPath: string }): Promise<AsfFileWriter> {
    if (opts.rebase !== false) throw new MssError('invalid-argument', 'resuming a write needs rebase: false (packets kept byte for byte)');
    const header = parseHeaderObject(headerObject);
    const ps = header.fileProperties.packetSize;
    const first = header.raw.length + DATA_OBJECT_HEAD_SIZE;
    const fh = await fs.open(opts.partPath, 'r+');
    const stats = new PacketStats(header);
    const w = new AsfFileWriter(filePath, opts.partPath, fh, header, stats, opts);
    try {
      const size = (await fh.stat()).size;
      const head = Buffer.alloc(first);
      const { bytesRead } = await fh.read(head, 0, first, 0);
      // create() began the part file with this exact placeholder
      const placeholder = Buffer.concat([finalHeader(header, new PacketStats(header), 0n, 0n), dataHead(header, 0)]);
      if (bytesRead < first || !head.equals(placeholder)) {
        throw new MssError('malformed', `${opts.partPath}: not the start of this file's write (header differs)`);
      }
      const keep = Math.max(0, Math.min(packets, Math.floor((size - first) / ps)));
      const chunk = Math.max(1, Math.floor(FLUSH_BYTES / ps));
      for (let i = 0; i < keep; i += chunk) {
        const n = Math.min(chunk, keep - i);
        const buf = Buffer.alloc(n * ps);
        await fh.read(buf, 0, buf.length, first + i * ps);
        for (let k = 0; k < n; k++) stats.add(buf.subarray(k * ps, (k + 1) * ps));
      }
      await fh.truncate(first + keep * ps);
      w.position = first + keep * ps;
    } catch (err) {
      await fh.close().catch(() => undefined);
      w.state = 'aborted';
      throw err;
    }
    return w;
  }

  /** Writes what is buffered to the temporary file (readers of that file see it); `sync` also fsyncs. */
  flush(sync = false): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new MssError('invalid-argument', `writer for ${this.path} is ${this.state}`));
    return this.enqueue(async () => {
      await this.flush0();
      if (sync) await this.fh.sync();
    });
  }

  /** the temporary file being written (renamed to `path` by finish) */
  get partPath(): string {
    return this.tmpPath;
  }

  /** Appends one packet (exactly the header's packet size). Rejects malformed packets. */
  write(packet: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new MssError('invalid-argument', `writer for ${this.path} is ${this.state}`));
    let out: Buffer;
    try {
      this.stats.check(packet);
      out = this.rebaser.apply(packet);
      this.stats.add(out);
    } catch (err) {
      return Promise.reject(err);
    }
    this.pending.push(out === packet ? Buffer.from(packet) : out);
    this.pendingBytes += packet.length;
    if (this.pendingBytes >= FLUSH_BYTES) return this.enqueue(() => this.flush0());
    return this.chain;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.chain.then(task);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async flush0(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const chunk = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.write(chunk, 0, chunk.length, this.position);
    this.position += chunk.length;
  }

  /** Completes the file (header, index), fsyncs and renames it to its final name. */
  async finish(): Promise<{ packets: number; durationMs: number }> {
    if (this.state !== 'open') throw new MssError('invalid-argument', `writer for ${this.path} is ${this.state}`);
    try {
      await this.enqueue(() => this.flush0());
      const index = this.stats.indexObjects(this.header.fileProperties.fileId, this.opts.indexIntervalMs ?? 1000);
      for (const obj of index) {
        await this.fh.write(obj, 0, obj.length, this.position);
        this.position += obj.length;
      }
      const head = finalHeader(this.header, this.stats, BigInt(this.position), this.opts.creationDate ?? filetimeFromDate(Date.now()));
      const full = Buffer.concat([head, dataHead(this.header, this.stats.packets)]);
      await this.fh.write(full, 0, full.length, 0);
      await this.fh.sync();
      await this.fh.close();
      await fs.rename(this.tmpPath, this.path);
      await syncDir(path.dirname(this.path));
      this.state = 'finished';
    } catch (err) {
      await this.abort();
      throw err;
    }
    const playMs = this.stats.playMs();
    return { packets: this.stats.packets, durationMs: Math.max(0, playMs - this.header.fileProperties.prerollMs) };
  }

  /**
   * Stops writing but keeps the temporary file for a later resume: what is buffered is written and fsynced.
   * Resolves with the packets the file holds.
   */
  async suspend(): Promise<number> {
    if (this.state !== 'open') throw new MssError('invalid-argument', `writer for ${this.path} is ${this.state}`);
    this.state = 'suspended';
    try {
      await this.chain.catch(() => undefined);
      await this.flush0();
      await this.fh.sync();
    } finally {
      await this.fh.close().catch(() => undefined);
    }
    return this.stats.packets;
  }

  /** Drops the temporary file. */
  async abort(): Promise<void> {
    if (this.state === 'aborted') return;
    const wasOpen = this.state !== 'suspended';
    this.state = 'aborted';
    await this.chain.catch(() => undefined);
    if (wasOpen) await this.fh.close().catch(() => undefined);
    await fs.rm(this.tmpPath, { force: true });
  }

  get packetsWritten(): number {
    return this.stats.packets;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // some filesystems do not allow fsync on a directory; the rename is still atomic
  }
}
