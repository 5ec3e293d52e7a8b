/**
 * A broadcast point's live stream: the current (broadcast-patched) header, the fan-out to players, and an
 * optional archive. File and playlist feeders and encoder pushes all arrive through the LiveIngest interface.
 */
import { describeHeader } from '../asf/description.js';
import { makeBroadcastHeader, parseHeaderObject, type AsfHeader } from '../asf/index.js';

export { describeHeader };
import { Archiver } from './archiver.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { LiveFanout, type StreamLayout } from './fanout.js';
import type { ContentDescription, LiveIngest } from '../contracts/media.js';

export function streamLayout(header: AsfHeader): StreamLayout {
  return {
    packetSize: header.fileProperties.packetSize,
    videoStreams: header.streams.filter((s) => s.type === 'video').map((s) => s.number),
    allStreams: header.streams.map((s) => s.number),
    prerollMs: header.fileProperties.prerollMs,
  };
}

export class LiveChannel implements LiveIngest {
  readonly fanout: LiveFanout;
  private description: ContentDescription | null = null;
  private headerWaiters: Array<() => void> = [];
  private archiver: Archiver | null;
  private _closed = false;
  /** who feeds it: file, playlist, push from <address> */
  feeder = '';
  startedAt = 0;
  /** told when the stream starts (its first header after a (re)open) and when it ends */
  onStateChange: ((state: 'started' | 'stopped', detail: string) => void) | null = null;
  private announced = false;
  packetsIn = 0;
  bytesIn = 0;

  constructor(
    readonly name: string,
    fanout: LiveFanout,
    private readonly log: Logger,
    archivePath = '',
    /** true when the stream comes from an encoder (WMSP features "live") */
    readonly fromEncoder = false,
  ) {
    this.fanout = fanout;
    this.archiver = archivePath ? new Archiver(archivePath, log) : null;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** the current header's description; null before the first header or after the end */
  get content(): ContentDescription | null {
    return this.description;
  }

  /** reopens a closed channel for a new ingest (push points accept one pusher after another) */
  reopen(): void {
    this._closed = false;
  }

  setHeader(headerBytes: Buffer): void {
    if (this._closed) throw new MssError('conflict', `live stream ${this.name} has ended`);
    const live = makeBroadcastHeader(headerBytes);
    const header = parseHeaderObject(live);
    if (header.fileProperties.packetSize < 1) throw new MssError('malformed', `live stream ${this.name}: header has no packet size`);
    this.description = describeHeader(header, live, { generation: this.fanout.headerGeneration + 1 });
    if (!this.startedAt) this.startedAt = Date.now();
    this.fanout.setHeader(live, streamLayout(header));
    this.archiver?.startFile(header.raw);
    if (!this.announced) {
      this.announced = true;
      this.onStateChange?.('started', '');
    }
    const waiters = this.headerWaiters;
    this.headerWaiters = [];
    for (const w of waiters) w();
  }

  pushPacket(packet: Buffer): void {
    const d = this.description;
    if (this._closed || !d) return;
    let p = packet;
    if (p.length > d.packetSize) {
      this.log.warn('live.bad-packet', { point: this.name, bytes: p.length, packetSize: d.packetSize });
      return;
    }
    // pushes may arrive with padding stripped: restore the fixed packet size players expect
    if (p.length < d.packetSize) p = Buffer.concat([p, Buffer.alloc(d.packetSize - p.length)]);
    this.packetsIn++;
    this.bytesIn += p.length;
    this.fanout.push(p);
    this.archiver?.write(p);
  }

  end(reason?: string): void {
    if (this._closed) return;
    this._closed = true;
    this.log.info('live.ended', { point: this.name, reason: reason ?? 'finished', packets: this.packetsIn });
    this.fanout.end(reason && reason !== 'finished' ? 'error' : 'finished');
    this.description = null;
    if (this.announced) {
      this.announced = false;
      this.onStateChange?.('stopped', reason ?? 'finished');
    }
    void this.archiver?.finish();
    const waiters = this.headerWaiters;
    this.headerWaiters = [];
    for (const w of waiters) w();
  }

  /** resolves when a header is available (or at once); rejects with 'unavailable' after timeoutMs */
  async waitForHeader(timeoutMs: number): Promise<ContentDescription> {
    if (this.description) return this.description;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.headerWaiters = this.headerWaiters.filter((w) => w !== done);
        reject(new MssError('unavailable', `publishing point ${this.name} is not broadcasting (no stream within ${timeoutMs} ms)`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.headerWaiters.push(done);
    });
    if (!this.description) throw new MssError('unavailable', `publishing point ${this.name} is not broadcasting`);
    return this.description;
  }

  async close(): Promise<void> {
    this.end('finished');
    await this.archiver?.finish();
  }
}
