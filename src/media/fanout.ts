/**
 * Live fan-out: one broadcast stream, many players. Each packet is framed once per group of players that share
 * a framer and a stream selection, and the same Buffer is written to every player of the group. A ring of recent
 * packets (with their framed buffers) serves Fast Start: a joining player gets the header and the packets from
 * the last key frame of every selected video stream, at the accelerated rate it asked for, then joins the live
 * edge. Every player has a bounded queue (its socket's pending bytes): while it is over the bound the player
 * skips packets (and resumes at a key frame); one that stays over it for slowPlayerTimeoutMs is dropped. Nothing
 * here runs a timer of its own: catch-up and the slow-player sweep run on the shared PacingScheduler.
 */
import { filterPacketStreams, packetKeyFrameStreams, parseDataPacket, readSendTime, serializeDataPacket } from '../asf/index.js';
import type { Logger } from '../core/log.js';
import { GroupSlot } from './group-slot.js';
import { PlayerList } from './player-list.js';
import { RawBatch } from './raw-batch.js';
import { PacingScheduler, type PacedTask } from './scheduler.js';
import type { Frame, PacketFramer, PlayerSink, PlayHandle, PlayStats } from '../contracts/media.js';

/** What goes to a sink in one call: one buffer (stream transports) or datagrams, each written on its own. */
export type Payload = Buffer | readonly Buffer[];

function payloadBytes(p: Payload): number {
  if (Buffer.isBuffer(p)) return p.length;
  let n = 0;
  for (const b of p) n += b.length;
  return n;
}

/** A frame as the fan-out keeps it: stream frames joined into one Buffer, datagram frames as a list. */
function normalize(frame: Frame, datagram: boolean): Payload | null {
  if (frame === null) return null;
  if (Buffer.isBuffer(frame)) return datagram ? [frame] : frame;
  if (frame.length === 0) return null;
  if (datagram) return frame;
  return frame.length === 1 ? frame[0]! : Buffer.concat(frame as Buffer[]);
}

/** Joins the frames of a batch: one Buffer for a stream transport, one flat list of datagrams otherwise. */
function joinPayloads(frames: readonly Payload[], datagram: boolean): Payload {
  if (!datagram) return frames.length === 1 ? frames[0]! : Buffer.concat(frames as Buffer[]);
  const out: Buffer[] = [];
  for (const f of frames) out.push(...(f as readonly Buffer[]));
  return out;
}

export interface FanoutOptions {
  scheduler: PacingScheduler;
  log: Logger;
  /** bytes a player may have queued before it counts as slow */
  playerQueueBytes: number;
  /** a player slow for this long is dropped */
  slowPlayerTimeoutMs: number;
  /** media kept for Fast Start (ms of send time) */
  ringMs?: number;
  /** bytes kept for Fast Start */
  ringBytes?: number;
  /**
   * live packets are written to players in batches this old at most (ms): one shared Buffer and one write per
   * player per batch instead of per packet (fewer syscalls and far less garbage with thousands of players).
   * 0 = write every packet at once.
   */
  batchMs?: number;
  /** called when a slow player is dropped */
  onDrop?: (info: { remote?: string; queuedBytes: number }) => void;
}

export interface StreamLayout {
  packetSize: number;
  /** video stream numbers (key frames matter for them only) */
  videoStreams: readonly number[];
  allStreams: readonly number[];
  /** players buffer this much before playing: a join gets at least this much history when the ring has it */
  prerollMs?: number;
}

interface RingEntry {
  packet: Buffer;
  locationId: number;
  sendTime: number;
  keyStreams: ReadonlySet<number>;
  /** bytes this entry holds: the packet, its framed copies and the batches that begin with it */
  bytes: number;
  /** framed packet by group id */
  framed: GroupSlot<Payload | null>;
  /** the batch that began with this entry, by group id: catching-up players reuse it (one write, no copy) */
  batch?: GroupSlot<{ payload: Payload; entries: number; packets: number }>;
}

/** the key streams of the ~39 in 40 packets that start no key frame: one shared empty set, not one each in the ring */
const NO_KEY_FRAMES: ReadonlySet<number> = new Set();

interface Group {
  /** unique per group's life: a group that empties and forms again frames anew (its framer may count) */
  id: number;
  key: string;
  /** the first member's framer frames data packets for every member */
  framer: PacketFramer;
  datagram: boolean;
  streams: ReadonlySet<number> | null;
  live: PlayerList<LivePlayer>;
  /** members still catching up */
  joining: number;
  /** the group frames ring entries in order from here (entries before it are not available to its members) */
  firstLocationId: number;
  /** next locationId this group frames */
  nextToFrame: number;
}

export interface JoinOptions {
  sink: PlayerSink;
  framer: PacketFramer;
  streams?: ReadonlySet<number>;
  accel?: { bandwidth: number; durationMs: number };
  /** bits/s cap for this player's catch-up burst (0 = none) */
  maxBandwidth?: number;
  /** label for logs */
  remote?: string;
  /** join at the live edge without a Fast Start burst (a multicast sender, a relay to another server) */
  liveEdge?: boolean;
  /** false: the protocol already sent this header (MMS ReadBlock); later headers (stream changes) still go out */
  sendHeader?: boolean;
}

type PlayerState = 'catchup' | 'live' | 'closed';

class LivePlayer implements PlayHandle {
  state: PlayerState = 'catchup';
  /** next ring locationId to send while catching up */
  cursor = 0;
  /** when the queue first went over the bound (0 = not slow) */
  slowSince = 0;
  /** skipping packets until the queue drains and a key frame comes */
  skipping = false;
  catchupStart = 0;
  catchupBytes = 0;
  /** the first packet of a join is trimmed to begin at the key frame */
  sentFirst = false;
  readonly stats: PlayStats = { start: Date.now(), bytesSent: 0, packetsSent: 0 };
  readonly ended: Promise<PlayStats>;
  private resolveEnded!: (s: PlayStats) => void;

  constructor(
    readonly fanout: LiveFanout,
    public group: Group,
    readonly opts: JoinOptions,
  ) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  selectStreams(streams: ReadonlySet<number> | undefined): void {
    this.fanout.reselect(this, streams);
  }

  stop(reason = 'stopped'): void {
    this.fanout.removePlayer(this, reason);
    if (!this.opts.sink.closed) this.opts.sink.end();
  }

  finish(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stats.endReason = reason;
    this.resolveEnded(this.stats);
  }
}

export class LiveFanout implements PacedTask {
  private layout: StreamLayout | null = null;
  private headerBytes: Buffer | null = null;
  private headerFrames = new Map<string, Buffer[]>();
  private generation = 0;
  private nextGroupId = 1;
  private ring: RingEntry[] = [];
  private ringHead = 0;
  private ringBytesHeld = 0;
  private nextLocationId = 0;
  private readonly groups = new Map<string, Group>();
  private readonly catchingUp = new Set<LivePlayer>();
  private readonly players = new PlayerList<LivePlayer>();
  private readonly removeSweep: () => void;
  /** the players of the group being flushed that take its batch in one native call */
  private readonly raw = new RawBatch();
  private ended = true;
  /** packets in the ring not yet written to live players */
  private pending: RingEntry[] = [];
  private pendingSince = 0;
  /** totals for telemetry */
  bytesSent = 0;
  packetsIn = 0;
  drops = 0;

  constructor(private readonly opts: FanoutOptions) {
    this.removeSweep = opts.scheduler.addSweep((now) => this.sweep(now));
  }

  get playerCount(): number {
    return this.players.size;
  }

  get currentHeader(): Buffer | null {
    return this.headerBytes;
  }

  get headerGeneration(): number {
    return this.generation;
  }

  get active(): boolean {
    return !this.ended && this.headerBytes !== null;
  }

  // -- source side ------------------------------------------------------------------------------------------------

  /** A (new) header: players already here get a stream change and the new header; the ring restarts. */
  setHeader(headerBytes: Buffer, layout: StreamLayout): void {
    this.flush(PacingScheduler.now());
    const hadHeader = this.headerBytes !== null && !this.ended;
    this.headerBytes = headerBytes;
    this.layout = layout;
    this.generation++;
    this.headerFrames.clear();
    this.clearRing();
    this.nextLocationId = 0;
    for (const g of this.groups.values()) g.firstLocationId = g.nextToFrame = 0;
    this.ended = false;
    if (!hadHeader) return;
    for (const p of this.players.snapshot()) {
      if (p.state === 'closed') continue;
      const sink = p.opts.sink;
      sink.cork?.();
      this.write(p, p.opts.framer.streamChange());
      for (const f of this.headerFramesFor(p.opts.framer)) this.write(p, f);
      sink.uncork?.();
      if (p.state === 'catchup') this.goLive(p);
    }
  }

  /** One packet from the source, in send-time order. */
  push(packet: Buffer): void {
    const layout = this.layout;
    if (!layout || this.ended) return;
    this.packetsIn++;
    let keyStreams: ReadonlySet<number>;
    let sendTime: number;
    try {
      const keys = packetKeyFrameStreams(packet, layout.packetSize);
      keyStreams = keys.size > 0 ? keys : NO_KEY_FRAMES;
      sendTime = readSendTime(packet);
    } catch (err) {
      this.opts.log.warn('fanout.bad-packet', { error: err });
      return;
    }
    const entry: RingEntry = { packet, locationId: this.nextLocationId++, sendTime, keyStreams, bytes: packet.length, framed: new GroupSlot() };
    this.ring.push(entry);
    this.ringBytesHeld += entry.bytes;
    this.trimRing(sendTime);
    const now = PacingScheduler.now();
    if (this.pending.length === 0) this.pendingSince = now;
    this.pending.push(entry);
    if (this.batchDue(now)) this.flush(now);
    else this.opts.scheduler.add(this);
  }

  /** writes the pending packets to every live player: per group one Buffer, the same for all its players */
  private flush(now: number): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    for (const group of this.groups.values()) {
      if (group.live.size === 0) continue;
      const frames: Payload[] = [];
      let firstKey = -1;
      for (const entry of batch) {
        const frame = this.framedFor(entry, group);
        if (!frame) continue;
        if (firstKey < 0 && this.isKeyFor(entry, group.streams)) firstKey = frames.length;
        frames.push(frame);
      }
      if (frames.length === 0) continue;
      const joined = joinPayloads(frames, group.datagram);
      if (!group.datagram && frames.length > 1) this.hold(batch[0]!, payloadBytes(joined)); // a joined copy
      (batch[0].batch ??= new GroupSlot()).set(group.id, { payload: joined, entries: batch.length, packets: frames.length });
      group.live.walk((p) => this.deliver(p, joined, frames, firstKey, now));
      if (Buffer.isBuffer(joined)) this.raw.send(joined);
    }
    this.idleIfNothingToDo();
  }

  /** The source ended: every player gets an end of stream and is closed. */
  end(reason: 'finished' | 'error' = 'finished'): void {
    this.flush(PacingScheduler.now());
    this.ended = true;
    for (const p of this.players.snapshot()) {
      // removed first, so the sink's close callback does not count it as gone
      this.removePlayer(p, reason === 'finished' ? 'finished' : 'source-error');
      if (!p.opts.sink.closed) {
        this.write(p, p.opts.framer.end(reason));
        p.opts.sink.end();
      }
    }
    this.clearRing();
    this.headerBytes = null;
  }

  close(): void {
    this.end('finished');
    this.removeSweep();
    this.opts.scheduler.remove(this);
  }

  // -- player side ------------------------------------------------------------------------------------------------

  /**
   * Adds a player: it gets the current header frames (unless sendHeader is false), then the ring from the last key
   * frame of every selected video stream (at its accel rate), then the live packets. Requires a header (check
   * `active` first).
   */
  join(opts: JoinOptions): PlayHandle {
    const group = this.groupFor(opts.framer, opts.streams ?? null, opts.liveEdge ? 'edge' : 'fast-start');
    const p = new LivePlayer(this, group, opts);
    this.players.add(p);
    opts.sink.onClose(() => this.removePlayer(p, 'client-gone'));
    if (!this.active) {
      this.removePlayer(p, 'finished');
      this.write(p, opts.framer.end('finished'));
      opts.sink.end();
      return p;
    }
    if (opts.sendHeader !== false) for (const f of this.headerFramesFor(opts.framer)) this.write(p, f);
    p.cursor = opts.liveEdge ? this.liveEdge() : Math.max(this.fastStartPosition(group.streams), group.firstLocationId);
    if (opts.liveEdge) p.sentFirst = true;
    p.catchupStart = PacingScheduler.now();
    this.startCatchUp(p);
    this.catchUp(p, p.catchupStart);
    return p;
  }

  private startCatchUp(p: LivePlayer): void {
    this.catchingUp.add(p);
    p.group.joining++;
    this.opts.scheduler.add(this);
  }

  /** the next packet live players will be written (pending ones go out with the next flush) */
  private liveEdge(): number {
    return this.pending.length > 0 ? this.pending[0]!.locationId : this.nextLocationId;
  }

  /** moves a player to the group of its new stream selection; it resumes at the next key frame */
  reselect(p: LivePlayer, streams: ReadonlySet<number> | undefined): void {
    if (p.state === 'closed') return;
    const g = this.groupFor(p.opts.framer, streams ?? null, p.state === 'live' ? 'edge' : 'fast-start');
    if (g === p.group) return;
    const old = p.group;
    old.live.delete(p);
    if (this.catchingUp.has(p)) {
      old.joining--;
      g.joining++;
    }
    p.group = g;
    this.forgetIfEmpty(old);
    if (p.state === 'live') {
      g.live.add(p);
      p.skipping = true;
    }
  }

  private forgetIfEmpty(g: Group): void {
    if (g.live.size === 0 && g.joining === 0 && this.groups.get(g.key) === g) this.groups.delete(g.key);
  }

  removePlayer(p: LivePlayer, reason: string): void {
    if (!this.players.delete(p)) return;
    if (this.catchingUp.delete(p)) p.group.joining--;
    p.group.live.delete(p);
    this.forgetIfEmpty(p.group);
    this.idleIfNothingToDo();
    p.finish(reason);
  }

  /**
   * whether the pending batch goes out now: at batchMs of age, less half a tick, so that a batch of two ticks
   * leaves on the second (timers fire a little late or early; without the slack it would wait a third)
   */
  private batchDue(now: number): boolean {
    const batchMs = this.opts.batchMs ?? 0;
    return batchMs === 0 || now - this.pendingSince >= batchMs - this.opts.scheduler.tickMs / 2;
  }

  /** scheduler tick: move catching-up players forward */
  tick(now: number): void {
    if (this.pending.length > 0 && this.batchDue(now)) this.flush(now);
    for (const p of this.catchingUp) this.catchUp(p, now);
    this.idleIfNothingToDo();
  }

  // -- internals --------------------------------------------------------------------------------------------------

  private catchUp(p: LivePlayer, now: number): void {
    const sink = p.opts.sink;
    if (sink.closed) return;
    const limit = this.opts.playerQueueBytes;
    const rate = p.opts.accel?.bandwidth ?? 0;
    const cap = p.opts.maxBandwidth ?? 0;
    const bw = rate > 0 && cap > 0 ? Math.min(rate, cap) : rate || cap;
    // bytes allowed so far at the accelerated rate (a first packet always goes)
    const allowance = bw > 0 ? ((now - p.catchupStart) * bw) / 8000 + 16384 : Infinity;
    const base = this.ring.length > this.ringHead ? this.ring[this.ringHead]!.locationId : this.nextLocationId;
    if (p.cursor < base) p.cursor = Math.max(this.fastStartPosition(p.group.streams), p.group.firstLocationId);
    // packets not yet flushed to live players come with the next flush once this player is live
    const edge = this.liveEdge();
    sink.cork?.();
    try {
      while (p.cursor < edge) {
        if (sink.queuedBytes > limit / 2) {
          if (!p.slowSince) p.slowSince = now;
          return;
        }
        p.slowSince = 0;
        if (p.catchupBytes >= allowance) return;
        const entry = this.ring[this.ringHead + (p.cursor - base)];
        if (entry && p.sentFirst) {
          // a whole batch already framed for live players goes out as one write
          const b = entry.batch?.get(p.group.id);
          if (b && p.cursor + b.entries <= edge) {
            p.cursor += b.entries;
            p.catchupBytes += this.writeBatch(p, b.payload, b.packets);
            continue;
          }
        }
        p.cursor++;
        if (!entry) continue;
        const frame = p.sentFirst ? this.framedFor(entry, p.group) : this.firstFrame(entry, p.group);
        p.sentFirst = true;
        if (!frame) continue;
        p.catchupBytes += this.writeBatch(p, frame, 1);
      }
    } finally {
      sink.uncork?.();
    }
    this.goLive(p);
  }

  /** off the scheduler when there is nothing to flush and nobody catching up */
  private idleIfNothingToDo(): void {
    if (this.pending.length === 0 && this.catchingUp.size === 0) this.opts.scheduler.remove(this);
  }

  private goLive(p: LivePlayer): void {
    if (this.catchingUp.delete(p)) p.group.joining--;
    this.idleIfNothingToDo();
    if (p.state === 'closed') return;
    p.state = 'live';
    p.group.live.add(p);
  }

  private deliver(p: LivePlayer, joined: Payload, frames: readonly Payload[], firstKey: number, now: number): void {
    const sink = p.opts.sink;
    if (sink.closed) return;
    const queued = sink.queuedBytes;
    if (p.skipping) {
      // resume only when drained and at a packet a decoder can start from
      if (queued > this.opts.playerQueueBytes / 2 || firstKey < 0) return;
      p.skipping = false;
      p.slowSince = 0;
      if (firstKey > 0) {
        const from = frames.slice(firstKey);
        this.writeBatch(p, joinPayloads(from, p.group.datagram), from.length);
        return;
      }
    }
    if (queued > this.opts.playerQueueBytes) {
      p.skipping = true;
      if (!p.slowSince) p.slowSince = now;
      return;
    }
    // most players of a group take the batch together, in one native call after the walk (raw-batch.ts)
    if (Buffer.isBuffer(joined) && this.raw.add(sink)) this.count(p, joined.length, frames.length);
    else this.writeBatch(p, joined, frames.length);
  }

  /** writes data packets (one Buffer, or datagrams one by one); returns the bytes written */
  private writeBatch(p: LivePlayer, payload: Payload, packets: number): number {
    const sink = p.opts.sink;
    let bytes: number;
    if (Buffer.isBuffer(payload)) {
      sink.write(payload);
      bytes = payload.length;
    } else {
      bytes = 0;
      for (const d of payload) bytes += d.length;
      if (sink.writeDatagrams) sink.writeDatagrams(payload);
      else for (const d of payload) sink.write(d);
    }
    this.count(p, bytes, packets);
    return bytes;
  }

  private count(p: LivePlayer, bytes: number, packets: number): void {
    p.stats.bytesSent += bytes;
    p.stats.packetsSent += packets;
    this.bytesSent += bytes;
  }

  /** writes a control frame (header, stream change, end) */
  private write(p: LivePlayer, frame: Frame): void {
    const payload = normalize(frame, p.group.datagram);
    if (!payload) return;
    const sink = p.opts.sink;
    const bytes = Buffer.isBuffer(payload) ? (sink.write(payload), payload.length) : payload.reduce((n, d) => (sink.write(d), n + d.length), 0);
    p.stats.bytesSent += bytes;
    this.bytesSent += bytes;
  }

  /** housekeeping: drop players that stayed slow too long */
  private sweep(now: number): void {
    // the players are walked in place (no copy of thousands per sweep); the few to remove are collected first
    const gone: LivePlayer[] = [];
    const slow: LivePlayer[] = [];
    this.players.walk((p) => {
      const sink = p.opts.sink;
      if (sink.closed) gone.push(p);
      else if (p.slowSince && sink.queuedBytes > this.opts.playerQueueBytes / 2 && now - p.slowSince > this.opts.slowPlayerTimeoutMs) slow.push(p);
      else if (p.slowSince && sink.queuedBytes <= this.opts.playerQueueBytes / 2 && !p.skipping && p.state === 'live') p.slowSince = 0;
    });
    for (const p of gone) this.removePlayer(p, 'client-gone');
    for (const p of slow) {
      const sink = p.opts.sink;
      this.drops++;
      this.opts.log.warn('fanout.player-dropped', { remote: p.opts.remote, reason: 'slow player', queuedBytes: sink.queuedBytes, slowMs: Math.round(now - p.slowSince) });
      this.opts.onDrop?.({ remote: p.opts.remote, queuedBytes: sink.queuedBytes });
      this.removePlayer(p, 'slow-player');
      sink.destroy('slow player');
    }
  }

  /** the group of a framer and selection; a new one frames from the live edge or from its Fast Start position */
  private groupFor(framer: PacketFramer, streams: ReadonlySet<number> | null, start: 'edge' | 'fast-start'): Group {
    const all = this.layout?.allStreams ?? [];
    // a selection of every stream is no selection: those players share the unfiltered frames
    const effective = streams && !all.every((s) => streams.has(s)) ? streams : null;
    const key = `${framer.packetKey ?? framer.name}|${effective ? [...effective].sort((a, b) => a - b).join(',') : '*'}`;
    let g = this.groups.get(key);
    if (!g) {
      const from = start === 'edge' ? this.liveEdge() : this.fastStartPosition(effective);
      g = { id: this.nextGroupId++, key, framer, datagram: framer.transport === 'datagram', streams: effective, live: new PlayerList(), joining: 0, firstLocationId: from, nextToFrame: from };
      this.groups.set(key, g);
    }
    return g;
  }

  /** adds bytes a ring entry holds (framed copies, batches) to the ring's account */
  private hold(entry: RingEntry, bytes: number): void {
    entry.bytes += bytes;
    this.ringBytesHeld += bytes;
  }

  private ringIndexOf(locationId: number): number {
    if (this.ring.length === this.ringHead) return -1;
    const i = this.ringHead + (locationId - this.ring[this.ringHead]!.locationId);
    return i >= this.ringHead && i < this.ring.length ? i : -1;
  }

  /**
   * The entry framed for the group. A group frames its entries in packet order, each once (a sequenced framer
   * counts what it frames), so asking for a later entry frames the ones before it first.
   */
  private framedFor(entry: RingEntry, group: Group): Payload | null {
    const cached = entry.framed.get(group.id);
    if (cached !== undefined) return cached;
    if (entry.locationId < group.nextToFrame) return null; // before the group formed: not framed for it
    const start = Math.max(this.ringIndexOf(group.nextToFrame), this.ringHead);
    const end = this.ringIndexOf(entry.locationId);
    if (end < 0) return null;
    for (let i = start; i <= end; i++) this.frameEntry(this.ring[i]!, group);
    group.nextToFrame = entry.locationId + 1;
    return entry.framed.get(group.id) ?? null;
  }

  private frameEntry(entry: RingEntry, group: Group): void {
    if (entry.framed.has(group.id)) return;
    let packet: Buffer | null = entry.packet;
    if (group.streams && this.layout) {
      try {
        packet = filterPacketStreams(entry.packet, this.layout.packetSize, group.streams);
      } catch {
        packet = null;
      }
    }
    const frame = packet ? normalize(group.framer.data(packet, entry.locationId, entry.locationId & 0xff), group.datagram) : null;
    entry.framed.set(group.id, frame);
    if (frame && frame !== entry.packet) this.hold(entry, payloadBytes(frame));
  }

  /**
   * The packet a join starts with holds the key frame, but may also hold the end of the frame before it (or a
   * small whole one): those video payloads are cut so the player's first decoded picture is the key frame.
   */
  private firstFrame(entry: RingEntry, group: Group): Payload | null {
    const layout = this.layout;
    const shared = this.framedFor(entry, group);
    if (!layout || !shared || group.framer.sequenced) return shared;
    const videos = layout.videoStreams.filter((v) => !group.streams || group.streams.has(v));
    if (!videos.some((v) => entry.keyStreams.has(v))) return shared;
    try {
      const parsed = parseDataPacket(entry.packet, layout.packetSize);
      const firstKey = new Map<number, number>();
      parsed.payloads.forEach((pl, i) => {
        if (pl.keyFrame && pl.offsetIntoObject === 0 && !firstKey.has(pl.streamNumber)) firstKey.set(pl.streamNumber, i);
      });
      const kept = parsed.payloads.filter((pl, i) => {
        if (group.streams && !group.streams.has(pl.streamNumber)) return false;
        if (!videos.includes(pl.streamNumber)) return true;
        const k = firstKey.get(pl.streamNumber);
        return k !== undefined && i >= k;
      });
      if (kept.length === parsed.payloads.length || kept.length === 0) return shared;
      const packet = serializeDataPacket({ ...parsed, payloads: kept, multiplePayloads: true }, layout.packetSize);
      return normalize(group.framer.data(packet, entry.locationId, entry.locationId & 0xff), group.datagram);
    } catch {
      return shared;
    }
  }

  private headerFramesFor(framer: PacketFramer): Buffer[] {
    let frames = this.headerFrames.get(framer.name);
    if (!frames) {
      frames = this.headerBytes ? framer.header(this.headerBytes) : [];
      this.headerFrames.set(framer.name, frames);
    }
    return frames;
  }

  private isKeyFor(entry: RingEntry, streams: ReadonlySet<number> | null): boolean {
    const videos = (this.layout?.videoStreams ?? []).filter((v) => !streams || streams.has(v));
    if (videos.length === 0) return true;
    return videos.some((v) => entry.keyStreams.has(v));
  }

  /** ring position where every selected video stream has had a key frame: the min of each stream's last key frame */
  private fastStartPosition(streams: ReadonlySet<number> | null): number {
    const videos = (this.layout?.videoStreams ?? []).filter((v) => !streams || streams.has(v));
    if (this.ring.length === this.ringHead) return this.nextLocationId;
    if (videos.length === 0) {
      // audio only: a little history is enough to fill the player's buffer quickly
      return this.ring[this.ringHead].locationId;
    }
    // the latest key frame that still leaves about a preroll of media to send at once (players start sooner
    // with a full buffer); failing that, the oldest key frame held
    const newest = this.ring[this.ring.length - 1].sendTime;
    const target = newest - Math.max(1000, this.layout?.prerollMs ?? 0);
    let start = Infinity;
    for (const v of videos) {
      let found = -1;
      let oldest = -1;
      for (let i = this.ring.length - 1; i >= this.ringHead; i--) {
        const e = this.ring[i];
        if (!e.keyStreams.has(v)) continue;
        oldest = e.locationId;
        if (e.sendTime <= target) {
          found = e.locationId;
          break;
        }
      }
      if (found < 0) found = oldest;
      if (found >= 0) start = Math.min(start, found);
    }
    // no key frame of any selected video stream yet: wait at the live edge for the next one
    return Number.isFinite(start) ? start : this.nextLocationId;
  }

  private trimRing(newestSendTime: number): void {
    const maxMs = this.opts.ringMs ?? 20_000;
    const maxBytes = this.opts.ringBytes ?? 8 * 1024 * 1024;
    while (this.ring.length - this.ringHead > 1) {
      const oldest = this.ring[this.ringHead];
      if (newestSendTime - oldest.sendTime <= maxMs && this.ringBytesHeld <= maxBytes) break;
      this.ringBytesHeld -= oldest.bytes;
      oldest.framed.clear();
      oldest.batch = undefined;
      this.ringHead++;
    }
    // drop trimmed entries from the array soon, so their packets are not held past the ring's span
    if (this.ringHead >= 64) {
      this.ring = this.ring.slice(this.ringHead);
      this.ringHead = 0;
    }
  }

  private clearRing(): void {
    this.ring = [];
    this.ringHead = 0;
    this.ringBytesHeld = 0;
  }

  /** ring contents for tests and status */
  ringInfo(): { packets: number; bytes: number; firstLocationId: number; nextLocationId: number } {
    return {
      packets: this.ring.length - this.ringHead,
      bytes: this.ringBytesHeld,
      firstLocationId: this.ring.length > this.ringHead ? this.ring[this.ringHead].locationId : this.nextLocationId,
      nextLocationId: this.nextLocationId,
    };
  }
}
