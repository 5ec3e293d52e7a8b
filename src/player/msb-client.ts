/**
 * Multicast (MS-MSB) reception for the player, behind PlaySession: joins the group of an `.nsc` station, gives
 * the header of each stream from the station's formats and the packets as they are rebuilt, and follows MS-MSB's
 * client timers (3.2.2): the Open timer (no packet or Beacon in time: an error, so the player rolls over to the
 * unicast URL) and the End-of-Stream timer (no packet in time after packets came: the stream has ended).
 * A packet of a Format ID the station does not list makes it fetch the .nsc again (a new playlist entry's
 * header), at most every few seconds. There is no way back to the server: the log goes to the .nsc Log URL.
 *
 * A multicast is joined wherever it is: each stream's output starts at a key frame of its video (the packets
 * before it are skipped, and the frame ends before it in the first packet are cut), as a decoder needs.
 */
import { EventEmitter } from 'node:events';
import { parseHeaderObject } from '../asf/header.js';
import { parseDataPacket, serializeDataPacket } from '../asf/packet.js';
import { MssError, toMssError } from '../core/errors.js';
import type { NscStation } from '../protocols/msb/nsc.js';
import { MsbReceiver, type MsbReceiverCounters } from '../protocols/msb/receiver.js';
import type { PlaySession, PlaySessionEvents, PlaySessionInfo, PlaySessionStats } from './protocol-client.js';

export const DEFAULT_OPEN_TIMEOUT_MS = 20_000;
export const DEFAULT_END_OF_STREAM_MS = 30_000;
const REFETCH_EVERY_MS = 5000;

export interface MulticastPlayOptions {
  station: NscStation;
  /** where the station came from (the log's c-channelURL) */
  nscUrl: string;
  /** local address of the interface to join on */
  interface?: string;
  /** MS-MSB says 10 to 30 s (20 recommended); lower values are for tests */
  openTimeoutMs?: number;
  endOfStreamMs?: number;
  /** fetches the station file again */
  refetch?: () => Promise<NscStation>;
  /** notes for the user (progress events) */
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

/** What the station must have for multicast reception; null when it has it, else why not. */
export function multicastUnusable(s: NscStation): string | null {
  if (!s.ipAddress || !s.ipPort) return 'it names no multicast group and port';
  if (!/^2(2[4-9]|3\d)\./.test(s.ipAddress)) return `${s.ipAddress} is not an IPv4 multicast group`;
  if (s.formats.length === 0) return 'it lists no stream format';
  return null;
}

export interface MulticastPlaySession extends PlaySession {
  /** the receiver's counters (datagrams, parity, recovered, lost, malformed, spoofed, ...) */
  readonly counters: MsbReceiverCounters & { droppedWhilePaused: number; skippedBeforeKeyFrame: number };
}

class MsbPlaySession extends EventEmitter<PlaySessionEvents> implements MulticastPlaySession {
  readonly protocol = 'msb';
  readonly transport = 'UDP' as const;
  info: PlaySessionInfo | undefined;
  private readonly receiver: MsbReceiver;
  private readonly url: URL;
  private openTimer: NodeJS.Timeout | null = null;
  private eosTimer: NodeJS.Timeout | null = null;
  private paused = false;
  private droppedWhilePaused = 0;
  private bytes = 0;
  private packets = 0;
  private lastSequence: number | undefined;
  private lastRefetch = 0;
  private sawBeacon = false;
  private closed = false;
  /** events held between 'describe' and the next turn of the event loop, when the player is listening */
  private held: Array<() => void> | null = null;
  /** video streams of the current header; until a key frame of one of them arrives, packets are skipped */
  private awaitingKey: { videos: Set<number>; packetSize: number } | null = null;
  private skippedBeforeKey = 0;

  constructor(private readonly o: MulticastPlayOptions) {
    super();
    const s = o.station;
    this.url = new URL(`asfm://${s.ipAddress}:${s.ipPort}`);
    this.receiver = new MsbReceiver({
      group: s.ipAddress!,
      port: s.ipPort!,
      interface: o.interface,
      source: s.multicastAdapter,
      formats: s.formats,
      defaultEcc: s.defaultEcc,
    });
    this.receiver.on('beacon', () => this.onBeacon());
    this.receiver.on('stream', (_formatId, header) => this.onStream(header));
    this.receiver.on('packet', (packet, sequence) => this.onPacket(packet, sequence));
    this.receiver.on('unknown-format', (streamId) => void this.refetch(streamId));
    this.receiver.on('error', (err) => this.fail(err));
    void this.start();
  }

  private async start(): Promise<void> {
    try {
      await this.receiver.start();
    } catch (err) {
      this.fail(toMssError(err, 'unavailable'));
      return;
    }
    if (this.closed) return;
    const ms = this.o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.openTimer = setTimeout(() => {
      this.openTimer = null;
      this.fail(new MssError('timeout', `no multicast packet or Beacon from ${this.url.host} within ${ms} ms`));
    }, ms);
    this.o.onEvent?.('multicast-joined', { group: this.url.host, interface: this.o.interface, formats: this.receiver.knownFormats });
  }

  get stats(): PlaySessionStats {
    const c = this.receiver.counters;
    return { bytesReceived: this.bytes, packetsReceived: this.packets, packetsLost: c.lost + this.droppedWhilePaused, lastLocationId: this.lastSequence, packetsRecovered: c.recovered };
  }

  get counters(): MsbReceiverCounters & { droppedWhilePaused: number; skippedBeforeKeyFrame: number } {
    return { ...this.receiver.counters, droppedWhilePaused: this.droppedWhilePaused, skippedBeforeKeyFrame: this.skippedBeforeKey };
  }

  private stopOpenTimer(): void {
    if (this.openTimer) clearTimeout(this.openTimer);
    this.openTimer = null;
  }

  private onBeacon(): void {
    this.stopOpenTimer();
    if (!this.sawBeacon && !this.info) this.o.onEvent?.('multicast-beacon', { group: this.url.host, message: 'the server is there; its stream has not started' });
    this.sawBeacon = true;
  }

  private onStream(headerBytes: Buffer): void {
    this.stopOpenTimer();
    let header;
    try {
      header = parseHeaderObject(headerBytes);
    } catch (err) {
      this.fail(new MssError('malformed', `the .nsc header of the stream on ${this.url.host} does not parse: ${toMssError(err).message}`));
      return;
    }
    if (!this.info) {
      this.info = { url: this.url, broadcast: true, seekable: false, header, headerBytes, selectedStreams: header.streams.map((s) => s.number) };
      this.emit('describe', this.info);
      // the player attaches its header/packet listeners once 'describe' resolved its open: hold what follows
      this.held = [];
      setImmediate(() => {
        const held = this.held ?? [];
        this.held = null;
        for (const fn of held) if (!this.closed) fn();
      });
    } else {
      this.later(() => this.emit('stream-change'));
      this.info = { ...this.info, header, headerBytes, selectedStreams: header.streams.map((s) => s.number) };
    }
    this.later(() => this.emit('header', headerBytes, header));
    const videos = new Set(header.streams.filter((s) => s.type === 'video').map((s) => s.number));
    this.awaitingKey = videos.size > 0 ? { videos, packetSize: header.fileProperties.packetSize } : null;
    this.armEndOfStream();
  }

  /** null while no key frame came yet (the packet is skipped); the first one keeps no video before its key frame */
  private fromKeyFrame(packet: Buffer): Buffer | null {
    const wait = this.awaitingKey;
    if (!wait) return packet;
    let p;
    try {
      p = parseDataPacket(packet, wait.packetSize);
    } catch {
      return null;
    }
    const k = p.payloads.findIndex((pl) => wait.videos.has(pl.streamNumber) && pl.keyFrame && pl.offsetIntoObject === 0);
    if (k < 0) return null;
    this.awaitingKey = null;
    const kept = p.payloads.filter((pl, i) => i >= k || !wait.videos.has(pl.streamNumber));
    if (kept.length === p.payloads.length) return packet;
    try {
      return serializeDataPacket({ ...p, payloads: kept, multiplePayloads: true }, wait.packetSize);
    } catch {
      return packet;
    }
  }

  private later(fn: () => void): void {
    if (this.held) this.held.push(fn);
    else fn();
  }

  private onPacket(packet: Buffer, sequence: number): void {
    if (!this.info) return;
    this.eosTimer?.refresh();
    this.lastSequence = sequence;
    if (this.paused) {
      // a multicast cannot be paused: what comes while the player's output is behind is dropped
      this.droppedWhilePaused++;
      return;
    }
    const out = this.fromKeyFrame(packet);
    if (!out) {
      this.skippedBeforeKey++;
      return;
    }
    this.packets++;
    this.bytes += out.length;
    // packets skipped on purpose (before a key frame) leave no gap: the player counts gaps as losses
    const locationId = sequence - this.skippedBeforeKey;
    this.later(() => this.emit('packet', out, { locationId }));
  }

  private armEndOfStream(): void {
    if (this.eosTimer) return;
    this.eosTimer = setTimeout(() => {
      this.eosTimer = null;
      this.o.onEvent?.('multicast-ended', { group: this.url.host, reason: `no packet for ${this.o.endOfStreamMs ?? DEFAULT_END_OF_STREAM_MS} ms` });
      this.emit('end', 0);
    }, this.o.endOfStreamMs ?? DEFAULT_END_OF_STREAM_MS);
  }

  private async refetch(streamId: number): Promise<void> {
    const now = Date.now();
    if (!this.o.refetch || now - this.lastRefetch < REFETCH_EVERY_MS) return;
    this.lastRefetch = now;
    try {
      const fresh = await this.o.refetch();
      if (this.closed) return;
      this.receiver.setFormats(fresh.formats);
      this.o.onEvent?.('nsc-refreshed', { streamId, formats: fresh.formats.length });
    } catch (err) {
      this.o.onEvent?.('nsc-refresh-failed', { error: toMssError(err).message });
    }
  }

  private fail(err: MssError): void {
    if (this.closed) return;
    this.emit('error', err);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopOpenTimer();
    if (this.eosTimer) clearTimeout(this.eosTimer);
    this.eosTimer = null;
    this.receiver.close();
  }
}

export function openMulticast(opts: MulticastPlayOptions): MulticastPlaySession {
  const why = multicastUnusable(opts.station);
  if (why) throw new MssError('unsupported', `${opts.nscUrl}: cannot receive the multicast: ${why}`);
  return new MsbPlaySession(opts);
}
