/**
 * Plays ASF files as a live stream into a LiveChannel: one file looped, or the entries of a server-side playlist
 * in order (optionally looped). Packets leave at their send times on the shared scheduler's clock, re-stamped so
 * the timeline runs on across loops and entries; a playlist entry change gives the channel a new header (players
 * get a stream change and the new header). Files are read in batches ahead of time, never per packet.
 */
import { fileLayouts, openAsfFile, readSendTime, restampPacket, seekPacketByTime, type AsfFileHandle } from '../asf/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { LiveChannel } from './live.js';
import { LATE_SEND_MS, PacingScheduler, type PacedTask } from './scheduler.js';

export interface FeedEntry {
  path: string;
  clipBegin?: number;
  clipEnd?: number;
}

export interface FeederOptions {
  channel: LiveChannel;
  scheduler: PacingScheduler;
  log: Logger;
  /** entries to play (a single-file loop is one entry with loop=true) */
  entries: () => Promise<{ entries: FeedEntry[]; loop: boolean }>;
  /** a single looped file keeps its header across loops; a playlist announces every entry */
  newHeaderPerEntry: boolean;
}

const BATCH = 64;
const LOW_WATER = 16;

interface Pending {
  packet: Buffer;
  sendTime: number;
}

export class FileFeeder implements PacedTask {
  private file: AsfFileHandle | null = null;
  private entries: FeedEntry[] = [];
  private loop = false;
  private entryIndex = -1;
  private nextPacket = 0;
  private endPacket = 0;
  private clipEndSendTime = Infinity;
  private buffer: Pending[] = [];
  private bufferHead = 0;
  private reading = false;
  private stopped = false;
  /** added to the current entry's send and presentation times */
  private delta = 0;
  /** timeline position where the next entry starts */
  private nextEntryStart = 0;
  private entryFirstSend = -1;
  private entryLastSend = 0;
  private entryDurationMs = 0;
  private wallOrigin = -1;
  private timelineOrigin = 0;
  private headerSent = false;
  private emptyPasses = 0;

  constructor(private readonly opts: FeederOptions) {}

  async start(): Promise<void> {
    const { entries, loop } = await this.opts.entries();
    if (entries.length === 0) throw new MssError('invalid-config', `publishing point ${this.opts.channel.name}: nothing to play`);
    this.entries = entries;
    this.loop = loop;
    await this.openNextEntry();
    this.opts.scheduler.add(this);
  }

  tick(now: number): void {
    if (this.stopped) return;
    const ch = this.opts.channel;
    while (this.bufferHead < this.buffer.length) {
      const item = this.buffer[this.bufferHead];
      if (this.wallOrigin < 0) {
        this.wallOrigin = now;
        this.timelineOrigin = item.sendTime;
      }
      const due = this.wallOrigin + (item.sendTime - this.timelineOrigin);
      if (due > now) break;
      if (now - due > LATE_SEND_MS) this.opts.scheduler.lateSends++;
      this.bufferHead++;
      ch.pushPacket(item.packet);
    }
    if (this.bufferHead >= 64) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
    if (!this.reading && this.buffer.length - this.bufferHead < LOW_WATER) {
      this.reading = true;
      this.fill().then(
        () => (this.reading = false),
        (err) => {
          this.reading = false;
          this.fail(err);
        },
      );
    }
  }

  private async fill(): Promise<void> {
    if (!this.file) return;
    if (this.nextPacket >= this.endPacket) {
      await this.advance();
      return;
    }
    const n = Math.min(BATCH, this.endPacket - this.nextPacket);
    const packets = await this.file.readPackets(this.nextPacket, n);
    this.nextPacket += n;
    const size = this.file.layout.packetSize;
    for (const raw of packets) {
      if (this.stopped) return;
      let sendTime: number;
      try {
        const packet = this.delta === 0 ? raw : restampPacket(raw, size, this.delta);
        sendTime = readSendTime(packet);
        const original = sendTime - this.delta;
        if (original > this.clipEndSendTime) {
          this.nextPacket = this.endPacket;
          break;
        }
        if (this.entryFirstSend < 0) this.entryFirstSend = original;
        this.entryLastSend = original;
        this.buffer.push({ packet, sendTime });
      } catch (err) {
        this.opts.log.warn('feeder.bad-packet', { point: this.opts.channel.name, file: this.entries[this.entryIndex]?.path, error: err });
      }
    }
  }

  /** the current entry is done: the next one (or the same file again), or the end */
  private async advance(): Promise<void> {
    const span = Math.max(this.entryLastSend - Math.max(0, this.entryFirstSend) + 1, this.entryDurationMs);
    this.nextEntryStart = this.delta + Math.max(0, this.entryFirstSend) + span;
    const last = this.entryIndex === this.entries.length - 1;
    if (last && !this.loop) {
      await this.closeFile();
      this.stopped = true;
      this.opts.scheduler.remove(this);
      // let the buffered packets go out before the end
      const wait = () => {
        if (this.bufferHead < this.buffer.length) {
          this.tickWhileDraining();
          setTimeout(wait, this.opts.scheduler.tickMs).unref();
        } else {
          this.opts.channel.end('finished');
        }
      };
      wait();
      return;
    }
    if (this.entries.length === 1 && !this.opts.newHeaderPerEntry) {
      // same file again: keep the handle and the header, continue the timeline
      this.entryIndex = 0;
      this.startEntry(this.file!);
      await this.positionEntry(this.file!, this.entries[0]);
      this.emptyPasses = this.nextPacket >= this.endPacket ? this.emptyPasses + 1 : 0;
      if (this.emptyPasses > 2) throw new MssError('malformed', `${this.entries[0].path}: no packets to play`);
      return;
    }
    await this.openNextEntry();
  }

  private tickWhileDraining(): void {
    const now = PacingScheduler.now();
    while (this.bufferHead < this.buffer.length) {
      const item = this.buffer[this.bufferHead];
      if (this.wallOrigin + (item.sendTime - this.timelineOrigin) > now) break;
      this.bufferHead++;
      this.opts.channel.pushPacket(item.packet);
    }
  }

  private async openNextEntry(): Promise<void> {
    let tries = 0;
    for (;;) {
      this.entryIndex = (this.entryIndex + 1) % this.entries.length;
      const entry = this.entries[this.entryIndex];
      try {
        await this.closeFile();
        const file = await openAsfFile(entry.path, { layouts: fileLayouts });
        if (this.stopped) {
          await file.close();
          return;
        }
        this.file = file;
        this.startEntry(file);
        await this.positionEntry(file, entry);
        if (this.opts.newHeaderPerEntry || !this.headerSent) {
          this.opts.channel.setHeader(file.layout.headerBytes);
          this.headerSent = true;
        }
        this.opts.log.info('feeder.entry', { point: this.opts.channel.name, file: entry.path, index: this.entryIndex, packets: this.endPacket - this.nextPacket });
        return;
      } catch (err) {
        this.opts.log.warn('feeder.entry-failed', { point: this.opts.channel.name, file: entry.path, error: err });
        if (++tries >= this.entries.length) throw err;
      }
    }
  }

  private startEntry(file: AsfFileHandle): void {
    this.entryFirstSend = -1;
    this.entryLastSend = 0;
    this.entryDurationMs = file.layout.header.durationMs;
    this.delta = this.nextEntryStart;
  }

  private async positionEntry(file: AsfFileHandle, entry: FeedEntry): Promise<void> {
    this.nextPacket = entry.clipBegin ? await seekPacketByTime(file, entry.clipBegin) : 0;
    this.endPacket = file.layout.packetCount;
    this.clipEndSendTime = entry.clipEnd ?? Infinity;
    if (entry.clipBegin || entry.clipEnd) this.entryDurationMs = 0;
    // the timeline continues where the previous entry stopped, whatever this entry's own first send time
    if (this.nextPacket < this.endPacket) {
      const first = readSendTime(await file.readPacket(this.nextPacket));
      this.delta = this.nextEntryStart - first;
      if (this.delta < 0 && this.nextEntryStart === 0) this.delta = 0;
    }
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.opts.log.error('feeder.failed', { point: this.opts.channel.name, error: err });
    this.stopped = true;
    this.opts.scheduler.remove(this);
    void this.closeFile();
    this.opts.channel.end('error');
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    this.file = null;
    if (f) await f.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.scheduler.remove(this);
    await this.closeFile();
  }
}
