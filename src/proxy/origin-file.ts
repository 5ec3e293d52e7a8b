/**
 * File handles the media core plays like a local ASF file, for content that is not (yet) whole on disk:
 * - GrowingFile: a cache entry being filled; a packet is read from the part file once the fill has it on disk.
 * - RelayFile: straight from the origin, nothing stored (a seek far beyond what a fill has, content too big for
 *   the cache, too many fills at once). Its upstream opens on the first read or seek, so describing costs the
 *   origin nothing; the origin does the seeking.
 * Both take their layout from the header the origin described.
 */
import { promises as fs } from 'node:fs';
import { DATA_OBJECT_HEAD_SIZE, parseDataObjectHead, readSendTime, type AsfFileLayout } from '../asf/index.js';
import { MssError, toMssError } from '../core/errors.js';
import type { MediaFileHandle } from '../media/origin.js';
import type { PlaySession } from '../player/protocol-client.js';
import type { CacheFill, OriginDescription } from './cache-fill.js';
import type { UpstreamConnector } from './upstream.js';

/** the layout of the origin's file as its header tells it (no index: it is not sent) */
export function originLayout(o: OriginDescription): AsfFileLayout {
  const header = o.header;
  const dataObjectOffset = header.raw.length;
  return {
    header,
    headerBytes: o.headerBytes,
    dataObject: parseDataObjectHead(o.headerBytes, dataObjectOffset),
    dataObjectOffset,
    firstPacketOffset: dataObjectOffset + DATA_OBJECT_HEAD_SIZE,
    packetSize: header.fileProperties.packetSize,
    packetCount: o.packetCount,
    simpleIndexes: [],
    indexObjects: [],
    trailingObjects: [],
  };
}

function checkRange(layout: AsfFileLayout, first: number, n: number): void {
  if (!Number.isInteger(first) || !Number.isInteger(n) || first < 0 || n < 0 || first + n > layout.packetCount) {
    throw new MssError('invalid-argument', `packets ${first}..${first + n - 1} outside 0..${layout.packetCount - 1}`, { first, count: n });
  }
}

export class GrowingFile implements MediaFileHandle {
  readonly layout: AsfFileLayout;
  private closed = false;

  constructor(
    origin: OriginDescription,
    private readonly fill: CacheFill,
    private readonly fh: fs.FileHandle,
    private readonly onClose: () => void,
  ) {
    this.layout = originLayout(origin);
  }

  async readPacket(i: number): Promise<Buffer> {
    return (await this.readPackets(i, 1))[0]!;
  }

  async readPackets(first: number, n: number): Promise<Buffer[]> {
    checkRange(this.layout, first, n);
    if (n === 0) return [];
    await this.fill.waitFor(first + n);
    const ps = this.layout.packetSize;
    const buf = Buffer.alloc(n * ps);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.layout.firstPacketOffset + first * ps);
    if (bytesRead < buf.length) throw new MssError('truncated', `cache part file: packets ${first}..${first + n - 1} are not all on disk`);
    const out: Buffer[] = [];
    for (let k = 0; k < n; k++) out.push(buf.subarray(k * ps, (k + 1) * ps));
    return out;
  }

  /** the last packet on disk whose send time is at most the target (the fill's end when it has not got there) */
  async seekByTime(mediaTimeMs: number): Promise<number> {
    let hi = this.fill.durable - 1;
    if (hi <= 0) return 0;
    let lo = 0;
    if (readSendTime(await this.readPacket(0)) >= mediaTimeMs) return 0;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (readSendTime(await this.readPacket(mid)) <= mediaTimeMs) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    await this.fh.close();
  }
}

/** packets a relay holds for its player before it pauses the origin */
const RELAY_QUEUE_PACKETS = 256;

export class RelayFile implements MediaFileHandle {
  readonly layout: AsfFileLayout;
  private session: PlaySession | null = null;
  private opening: Promise<void> | null = null;
  private queue: Array<{ packet: Buffer; locationId: number }> = [];
  private failure: MssError | null = null;
  private ended = false;
  private wake: (() => void) | null = null;
  private paused = false;
  private closed = false;

  constructor(
    origin: OriginDescription,
    private readonly url: string,
    private readonly connector: UpstreamConnector,
    private readonly onBytes: (n: number) => void,
    private readonly onClose: () => void,
  ) {
    this.layout = originLayout(origin);
  }

  async seekByTime(mediaTimeMs: number): Promise<number> {
    await this.start({ startMs: mediaTimeMs });
    await this.waitQueue(1);
    return this.queue[0]!.locationId;
  }

  async readPacket(i: number): Promise<Buffer> {
    return (await this.readPackets(i, 1))[0]!;
  }

  /** the next `n` packets from the origin, in order (the player reads sequentially from where it started) */
  async readPackets(first: number, n: number): Promise<Buffer[]> {
    checkRange(this.layout, first, n);
    if (n === 0) return [];
    await this.start(first > 0 ? { packetNumber: first } : {});
    await this.waitQueue(n);
    const out = this.queue.splice(0, n).map((q) => q.packet);
    if (this.paused && this.queue.length < RELAY_QUEUE_PACKETS / 2) {
      this.paused = false;
      this.session?.resume();
    }
    return out;
  }

  private start(at: { startMs?: number; packetNumber?: number }): Promise<void> {
    this.opening ??= this.connector.open(this.url, at).then((session) => {
      if (this.closed) {
        session.close();
        return;
      }
      this.session = session;
      session.on('packet', (packet, info) => {
        this.onBytes(packet.length);
        this.queue.push({ packet, locationId: info.locationId });
        if (!this.paused && this.queue.length >= RELAY_QUEUE_PACKETS) {
          this.paused = true;
          session.pause();
        }
        this.notify();
      });
      session.on('end', () => {
        this.ended = true;
        this.notify();
      });
      session.on('error', (err) => {
        this.failure = err;
        this.notify();
      });
    });
    return this.opening;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async waitQueue(n: number): Promise<void> {
    while (this.queue.length < n) {
      if (this.failure) throw toMssError(this.failure, 'unavailable');
      if (this.ended || this.closed) throw new MssError('truncated', `the origin ended ${this.url} before the packets the player needs`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.session?.close();
    this.queue = [];
    this.notify();
  }
}
