/**
 * On-demand playback of one ASF file to one player, paced by send time on the shared scheduler: the first
 * preroll + 1 s of media leave at once (or the player's AccelBW/AccelDuration burst), then real time. Packets are
 * read in batches ahead of need; a player whose queue is full is waited for (never dropped packets), and dropped
 * when it stays full past the slow-player timeout. A packet that cannot be read (a corrupt file) ends the session with
 * a logged error and frees its slot, file and socket.
 */
import { filterPacketStreams, readSendTime, seekPacketByTime, type AsfFileHandle } from '../asf/index.js';
import type { Logger } from '../core/log.js';
import { PacingScheduler, type PacedTask } from './scheduler.js';
import type { Frame, PacketFramer, PlayerSink, PlayHandle, PlayOptions, PlayStats } from '../contracts/media.js';
import { toMssError } from '../core/errors.js';

/** bytes read ahead per session (in whole packets): bounds memory with thousands of on-demand players */
const READ_AHEAD_BYTES = 64 * 1024;
/** bytes a rate-capped session may send ahead of its cap */
const CAP_ALLOWANCE = 64 * 1024;

export interface OnDemandOptions extends PlayOptions {
  file: AsfFileHandle;
  framer: PacketFramer;
  sink: PlayerSink;
  scheduler: PacingScheduler;
  log: Logger;
  playerQueueBytes: number;
  slowPlayerTimeoutMs: number;
  remote?: string;
  /** called once when the playback has ended (for limits and stats) */
  onEnd?: (stats: PlayStats) => void;
}

export class OnDemandPlayback implements PacedTask, PlayHandle {
  readonly stats: PlayStats = { start: Date.now(), bytesSent: 0, packetsSent: 0 };
  readonly ended: Promise<PlayStats>;
  private resolveEnded!: (s: PlayStats) => void;
  private cursor = 0;
  private endPacket = 0;
  private buffer: Buffer[] = [];
  private bufferHead = 0;
  private readPos = 0;
  private reading = false;
  private done = false;
  private wallStart = 0;
  private firstSendTime = -1;
  private lastSendLimit = Infinity;
  private sequence = 0;
  private slowSince = 0;
  /** wall time the session was paused at (0 = playing) */
  private pausedAt = 0;
  /** why the playback is ending the sink itself */
  private ending: string | undefined;
  private readonly leadMs: number;
  private readonly batch: number;
  private readonly lowWater: number;
  private readonly speedup: number;
  private readonly accelMediaMs: number;
  private streams: ReadonlySet<number> | undefined;

  constructor(private readonly o: OnDemandOptions) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.streams = o.streams;
    this.batch = Math.max(2, Math.min(32, Math.floor(READ_AHEAD_BYTES / o.file.layout.packetSize)));
    this.lowWater = Math.max(1, Math.floor(this.batch / 4));
    const header = o.file.layout.header;
    const bitrate = header.totalBitrate || header.fileProperties.maxBitrate || 1;
    if (o.accel && o.accel.bandwidth > bitrate) {
      this.speedup = o.accel.bandwidth / bitrate;
      this.accelMediaMs = o.accel.durationMs;
      this.leadMs = 0;
    } else {
      this.speedup = 1;
      this.accelMediaMs = 0;
      this.leadMs = header.fileProperties.prerollMs + 1000;
    }
    // a sink that closes as it is ended (UDP, memory) must not turn the reason of that end into client-gone
    o.sink.onClose(() => this.finish(this.ending ?? 'client-gone'));
  }

  /** positions the playback (seek) and starts sending on the scheduler */
  async start(): Promise<void> {
    const { file } = this.o;
    const count = file.layout.packetCount;
    let first = 0;
    if (this.o.startTimeMs && this.o.startTimeMs > 0) first = await seekPacketByTime(file, this.o.startTimeMs);
    else if (this.o.startPacket !== undefined) first = Math.min(this.o.startPacket, count);
    this.cursor = first;
    this.readPos = first;
    this.endPacket = count;
    if (this.o.sendHeader !== false) for (const f of this.o.framer.header(file.layout.headerBytes)) this.write(f, false);
    if (this.done) return;
    this.wallStart = PacingScheduler.now();
    this.o.scheduler.add(this);
    this.tick(this.wallStart);
  }

  selectStreams(streams: ReadonlySet<number> | undefined): void {
    this.streams = streams;
  }

  /** holds the clock: nothing is sent until resume (the position and what was read ahead are kept) */
  pause(): void {
    if (this.done || this.pausedAt) return;
    this.pausedAt = PacingScheduler.now();
    this.o.scheduler.remove(this);
  }

  resume(): void {
    if (this.done || !this.pausedAt) return;
    // the media clock continues where it stood, with no burst for the time spent paused
    this.wallStart += PacingScheduler.now() - this.pausedAt;
    this.pausedAt = 0;
    this.o.scheduler.add(this);
  }

  stop(reason = 'stopped'): void {
    if (this.done) return;
    this.endSink(reason);
  }

  /** ends the sink (after a last frame, if any) and the playback, for this reason */
  private endSink(reason: string, last?: Frame): void {
    this.ending = reason;
    if (!this.o.sink.closed) {
      if (last !== undefined) this.write(last, false);
      this.o.sink.end();
    }
    this.finish(reason);
  }

  tick(now: number): void {
    if (this.done || this.pausedAt) return;
    try {
      this.send(now);
    } catch (err) {
      // a packet the parser refuses (a corrupt file): end this session cleanly, never the scheduler's other tasks
      this.o.log.error('ondemand.bad-packet', { remote: this.o.remote, packet: this.cursor, error: toMssError(err, 'malformed') });
      this.fail();
    }
  }

  private send(now: number): void {
    const sink = this.o.sink;
    if (sink.closed) {
      this.finish('client-gone');
      return;
    }
    const limit = this.o.playerQueueBytes;
    const packetSize = this.o.file.layout.packetSize;
    const cap = this.o.maxBandwidth ?? 0;
    sink.cork?.();
    try {
      while (this.bufferHead < this.buffer.length) {
        if (sink.queuedBytes > limit) {
          if (!this.slowSince) this.slowSince = now;
          if (now - this.slowSince > this.o.slowPlayerTimeoutMs) {
            this.o.log.warn('ondemand.player-dropped', { remote: this.o.remote, reason: 'slow player', queuedBytes: sink.queuedBytes });
            this.finish('slow-player');
            sink.destroy('slow player');
          }
          return;
        }
        this.slowSince = 0;
        const packet = this.buffer[this.bufferHead];
        const sendTime = readSendTime(packet);
        if (this.firstSendTime < 0) {
          this.firstSendTime = sendTime;
          if (this.o.maxDurationMs) this.lastSendLimit = sendTime + this.o.maxDurationMs;
        }
        if (sendTime > this.lastSendLimit) {
          // max-duration reached: drop what was read ahead and end
          this.endPacket = this.cursor;
          this.bufferHead = this.buffer.length;
          break;
        }
        if (this.dueAt(sendTime) > now) break;
        if (cap > 0 && this.stats.bytesSent > ((now - this.wallStart) * cap) / 8000 + CAP_ALLOWANCE) break;
        const out = this.streams ? filterPacketStreams(packet, packetSize, this.streams) : packet;
        this.bufferHead++;
        const index = this.cursor++;
        this.stats.lastLocationId = index;
        this.stats.lastSendTime = sendTime;
        if (out) this.write(this.o.framer.data(out, index, this.sequence++ & 0xff), true);
      }
    } finally {
      sink.uncork?.();
    }
    // drop sent packets at once: they hold their read buffer alive
    if (this.bufferHead > 0 && this.bufferHead >= this.batch / 2) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
    if (this.cursor >= this.endPacket && this.bufferHead >= this.buffer.length) {
      this.endSink('finished', this.o.framer.end('finished'));
      return;
    }
    if (!this.reading && this.buffer.length - this.bufferHead < this.lowWater && this.readPos < this.endPacket) this.readAhead();
  }

  /** wall-clock time a packet is due: an initial burst, then real time */
  private dueAt(sendTime: number): number {
    const media = sendTime - this.firstSendTime;
    if (this.speedup > 1) {
      const fast = Math.min(media, this.accelMediaMs);
      return this.wallStart + fast / this.speedup + (media - fast);
    }
    return this.wallStart + media - this.leadMs;
  }

  private readAhead(): void {
    this.reading = true;
    const n = Math.min(this.batch, this.endPacket - this.readPos);
    const from = this.readPos;
    this.o.file.readPackets(from, n).then(
      (packets) => {
        this.reading = false;
        if (this.done) return;
        this.readPos = from + n;
        this.buffer.push(...packets);
      },
      (err) => {
        this.reading = false;
        if (this.done) return;
        this.o.log.error('ondemand.read-failed', { remote: this.o.remote, error: err });
        this.fail();
      },
    );
  }

  /** ends the stream with an error end-of-stream and frees everything */
  private fail(): void {
    if (this.done) return;
    this.endSink('error', this.o.framer.end('error'));
  }

  private write(frame: Frame, isPacket: boolean): void {
    if (frame === null) return;
    const sink = this.o.sink;
    if (Buffer.isBuffer(frame)) {
      sink.write(frame);
      this.stats.bytesSent += frame.length;
    } else {
      for (const b of frame) {
        sink.write(b);
        this.stats.bytesSent += b.length;
      }
    }
    if (isPacket) this.stats.packetsSent++;
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.stats.endReason = reason;
    this.o.scheduler.remove(this);
    this.buffer = [];
    void this.o.file.close().catch(() => undefined);
    this.o.onEnd?.(this.stats);
    this.resolveEnded(this.stats);
  }
}
