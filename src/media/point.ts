/**
 * A publishing point: on-demand (a directory of ASF files) or broadcast (a file or .wsx playlist played as live,
 * or an encoder's push). It owns its live channel and feeder, its access list and authenticator, and counts its
 * players; admission against the server-wide limits goes through the Admission passed in.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openAsfFile, type AsfFileHandle } from '../asf/index.js';
import type { BroadcastPointConfig, PublishingPointConfig, ServerConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { createAccessList, type AccessList } from '../auth/access.js';
import { createAuthenticator, type Authenticator } from '../auth/http-auth.js';
import { LiveFanout } from './fanout.js';
import { FileFeeder, type FeedEntry } from './feeder.js';
import { PullSource, type PulledStream } from './pull-source.js';
import { describeHeader, LiveChannel } from './live.js';
import { OnDemandPlayback } from './ondemand.js';
import { resolveMediaFile, safeSegments } from './paths.js';
import { chooseStreams } from './selection.js';
import { parseWsxPlaylist } from './playlist.js';
import type { PacingScheduler } from './scheduler.js';
import type { ContentDescription, PacketFramer, PlayerIdentity, PlayerSink, PlayHandle, PlayOptions, PlayStats } from '../contracts/media.js';

const MAX_PLAYLIST_BYTES = 1024 * 1024;
/** how long a player waits for a broadcast that has not started (push points, demand start) */
const HEADER_WAIT_MS = 10_000;
/** a demand-started broadcast with no players for this long is stopped */
const DEMAND_IDLE_MS = 30_000;

/** Server-wide player and bandwidth bookkeeping. */
export interface Admission {
  /** reserves a player slot of `bitrate` bits/s or throws MssError('limit-reached') naming the limit */
  admit(point: PublishingPoint, bitrate: number): () => void;
}

export interface PointDeps {
  scheduler: PacingScheduler;
  log: Logger;
  server: () => ServerConfig;
  admission: Admission;
  /** opens a WMSP stream for a pull source (the protocol client, injected so media imports no protocol) */
  openPullStream?: (url: string) => PulledStream;
}

/** One player (or relay output) of a point: for limits, status, the players list and disconnects. */
export interface PlayerSlot {
  id: number;
  point: string;
  who: PlayerIdentity;
  bitrate: number;
  /** epoch ms */
  startedAt: number;
  role: 'player' | 'relay';
  handle: PlayHandle | null;
}

let nextSlotId = 1;

export interface PointStats {
  players: number;
  sessions: number;
  bytesSent: number;
  packetsSent: number;
  drops: number;
  /** bits/s being sent right now: sum of the playing sessions' content bitrates */
  bitrate: number;
}

export class PublishingPoint {
  readonly name: string;
  readonly access: AccessList;
  readonly auth: Authenticator | null;
  private channel: LiveChannel | null = null;
  private feeder: FileFeeder | PullSource | null = null;
  private starting: Promise<void> | null = null;
  private readonly active = new Set<PlayerSlot>();
  private idleSince = 0;
  /** the push ingest's address while one is connected */
  pusher: string | null = null;
  /** created from a template for a push and removed when it ends */
  autoDestroy = false;
  private totals = { sessions: 0, bytesSent: 0, packetsSent: 0, drops: 0 };
  private readonly log: Logger;

  constructor(readonly config: PublishingPointConfig, private readonly deps: PointDeps) {
    this.name = config.name;
    this.access = createAccessList(config.access);
    this.auth = config.auth.scheme === 'none' ? null : createAuthenticator(config.auth);
    this.log = deps.log.child('point', { point: config.name });
  }

  get type(): 'ondemand' | 'broadcast' {
    return this.config.type;
  }

  /** an encoder feeds it (WMSP features "live") */
  get live(): boolean {
    return this.config.type === 'broadcast' && (this.config.source.type === 'push' || this.config.source.type === 'pull');
  }

  get liveChannel(): LiveChannel | null {
    return this.channel;
  }

  // -- life cycle -------------------------------------------------------------------------------------------------

  /** boot-started broadcasts begin here; others wait for their first player (or pusher) */
  async start(): Promise<void> {
    if (this.config.type !== 'broadcast') return;
    if (this.config.source.type === 'push') {
      this.ensureChannel();
      return;
    }
    if (this.config.start === 'boot') await this.ensureStarted();
  }

  private ensureChannel(): LiveChannel {
    if (this.channel && !this.channel.closed) return this.channel;
    const cfg = this.config as BroadcastPointConfig;
    const server = this.deps.server();
    const fanout = this.channel?.fanout ?? new LiveFanout({
      scheduler: this.deps.scheduler,
      log: this.log,
      playerQueueBytes: server.playerQueueBytes,
      slowPlayerTimeoutMs: server.slowPlayerTimeoutMs,
      batchMs: server.liveBatchMs,
      onDrop: () => this.totals.drops++,
    });
    this.channel = new LiveChannel(this.name, fanout, this.log, cfg.archive, this.live);
    return this.channel;
  }

  /** starts a file/playlist broadcast (once; concurrent callers share the start) */
  ensureStarted(): Promise<void> {
    if (this.config.type !== 'broadcast') return Promise.resolve();
    const src = this.config.source;
    if (src.type === 'push') {
      this.ensureChannel();
      return Promise.resolve();
    }
    if (this.feeder && this.channel && !this.channel.closed) return Promise.resolve();
    if (this.starting) return this.starting;
    if (src.type === 'pull' && !this.deps.openPullStream) return Promise.reject(new MssError('unsupported', `publishing point ${this.name}: pull sources are not available in this build`));
    const channel = this.ensureChannel();
    channel.reopen();
    if (src.type === 'pull') return this.startPull(channel, src.url);
    const entries = async (): Promise<{ entries: FeedEntry[]; loop: boolean }> => {
      if (src.type === 'file') return { entries: [{ path: src.path }], loop: src.loop };
      const buf = await readFile(src.path).catch((err: Error) => {
        throw new MssError('not-found', `publishing point ${this.name}: cannot read playlist ${src.path}: ${err.message}`);
      });
      if (buf.length > MAX_PLAYLIST_BYTES) throw new MssError('too-large', `playlist ${src.path} is ${buf.length} bytes, limit ${MAX_PLAYLIST_BYTES}`);
      const pl = parseWsxPlaylist(buf.toString('utf8'), path.dirname(src.path));
      return { entries: pl.entries.map((e) => ({ path: e.path, clipBegin: e.clipBegin, clipEnd: e.clipEnd })), loop: pl.loop };
    };
    const feeder = new FileFeeder({ channel, scheduler: this.deps.scheduler, log: this.log, entries, newHeaderPerEntry: src.type === 'playlist' });
    channel.feeder = src.type;
    this.feeder = feeder;
    this.starting = feeder.start().then(
      () => {
        this.starting = null;
        this.idleSince = 0;
        this.log.info('point.started', { source: src.type, path: src.path });
      },
      (err) => {
        this.starting = null;
        this.feeder = null;
        channel.end('error');
        this.log.error('point.start-failed', { source: src.type, error: err });
        throw err;
      },
    );
    return this.starting;
  }

  private startPull(channel: LiveChannel, url: string): Promise<void> {
    const pull = new PullSource({ url, channel, openStream: this.deps.openPullStream!, log: this.log });
    channel.feeder = `pull from ${url}`;
    this.feeder = pull;
    this.starting = pull.start().then(
      () => {
        this.starting = null;
        this.idleSince = 0;
        this.log.info('point.started', { source: 'pull', url });
      },
      (err) => {
        this.starting = null;
        this.feeder = null;
        channel.end('error');
        this.log.error('point.start-failed', { source: 'pull', url, error: err });
        throw err;
      },
    );
    return this.starting;
  }

  async stop(): Promise<void> {
    const f = this.feeder;
    this.feeder = null;
    await f?.stop();
    const ch = this.channel;
    if (ch) {
      await ch.close();
      ch.fanout.close();
    }
    this.channel = null;
  }

  /** housekeeping from the media core: stop an idle demand-started broadcast */
  sweep(now: number): void {
    if (this.config.type !== 'broadcast' || this.config.start !== 'demand' || !this.feeder) return;
    // relay outputs (a multicast sender, a downstream server) are an audience too: they keep the point up
    if (this.active.size > 0) {
      this.idleSince = 0;
      return;
    }
    if (!this.idleSince) this.idleSince = now;
    else if (now - this.idleSince > DEMAND_IDLE_MS) {
      this.log.info('point.idle-stop', {});
      this.idleSince = 0;
      void this.stop();
    }
  }

  // -- playing ----------------------------------------------------------------------------------------------------

  /** the file a request's rest-of-path names (on-demand points) */
  async resolveFile(rawRest: string): Promise<string> {
    if (this.config.type !== 'ondemand') throw new MssError('not-found', `publishing point ${this.name} is a broadcast: it has no files`);
    return resolveMediaFile(this.config.path, safeSegments(rawRest));
  }

  async describeFile(file: string): Promise<ContentDescription> {
    const f = await openAsfFile(file);
    try {
      return describeFile(f);
    } finally {
      await f.close();
    }
  }

  async describeLive(): Promise<ContentDescription> {
    await this.ensureStarted().catch((err: unknown) => {
      // the point exists; its source does not work (missing file, bad playlist): unavailable, not "not found"
      throw new MssError('unavailable', `publishing point ${this.name} cannot broadcast: ${(err as Error).message}`);
    });
    const ch = this.ensureChannel();
    return ch.waitForHeader(HEADER_WAIT_MS);
  }

  async playFile(file: string, opts: PlayOptions, framer: PacketFramer, sink: PlayerSink, who: PlayerIdentity): Promise<PlayHandle> {
    const handle = await openAsfFile(file);
    let slot: PlayerSlot | null = null;
    let release: (() => void) | null = null;
    try {
      const desc = describeFile(handle);
      const streams = chooseStreams(desc, opts.streams, opts.linkBandwidth);
      const bitrate = selectedBitrate(desc, streams);
      release = this.admit(opts, bitrate);
      slot = this.addSlot(who, bitrate, opts);
      const server = this.deps.server();
      const s = slot;
      const r = release;
      const playback = new OnDemandPlayback({
        ...opts,
        streams,
        maxBandwidth: this.config.maxPlayerBandwidth || opts.maxBandwidth,
        file: handle,
        framer,
        sink,
        scheduler: this.deps.scheduler,
        log: this.log,
        playerQueueBytes: server.playerQueueBytes,
        slowPlayerTimeoutMs: server.slowPlayerTimeoutMs,
        remote: who.remote,
        onEnd: (stats) => this.ended(s, r, stats),
      });
      slot.handle = playback;
      await playback.start();
      return playback;
    } catch (err) {
      // a start that failed (a seek into a broken file) frees its slot
      if (slot) this.active.delete(slot);
      release?.();
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async joinLive(opts: PlayOptions, framer: PacketFramer, sink: PlayerSink, who: PlayerIdentity): Promise<PlayHandle> {
    const desc = await this.describeLive();
    const streams = chooseStreams(desc, opts.streams, opts.linkBandwidth);
    const bitrate = selectedBitrate(desc, streams);
    const release = this.admit(opts, bitrate);
    const slot = this.addSlot(who, bitrate, opts);
    const ch = this.ensureChannel();
    const relay = opts.role === 'relay';
    const handle = ch.fanout.join({ sink, framer, streams, accel: relay ? undefined : opts.accel, maxBandwidth: this.config.maxPlayerBandwidth || opts.maxBandwidth, remote: who.remote, liveEdge: relay });
    slot.handle = handle;
    void handle.ended.then((stats) => this.ended(slot, release, stats));
    return handle;
  }

  /** a relay output (multicast, a downstream server) takes no player slot */
  private admit(opts: PlayOptions, bitrate: number): () => void {
    return opts.role === 'relay' ? () => undefined : this.deps.admission.admit(this, bitrate);
  }

  private addSlot(who: PlayerIdentity, bitrate: number, opts: PlayOptions): PlayerSlot {
    const slot: PlayerSlot = { id: nextSlotId++, point: this.name, who, bitrate, startedAt: Date.now(), role: opts.role ?? 'player', handle: null };
    this.active.add(slot);
    if (slot.role === 'player') this.totals.sessions++;
    return slot;
  }

  private ended(slot: PlayerSlot, release: () => void, stats: PlayStats): void {
    if (!this.active.delete(slot)) return;
    release();
    this.totals.bytesSent += stats.bytesSent;
    this.totals.packetsSent += stats.packetsSent;
  }

  /** the players and relay outputs playing now */
  slots(): PlayerSlot[] {
    return [...this.active];
  }

  /** players counted against the limits (relay outputs are not) */
  get playerCount(): number {
    let n = 0;
    for (const s of this.active) if (s.role === 'player') n++;
    return n;
  }

  stats(): PointStats {
    let bitrate = 0;
    let players = 0;
    // bytes of the sessions that ended plus what the running ones have sent so far
    let bytesSent = this.totals.bytesSent;
    let packetsSent = this.totals.packetsSent;
    for (const s of this.active) {
      bitrate += s.bitrate;
      if (s.role === 'player') players++;
      bytesSent += s.handle?.stats.bytesSent ?? 0;
      packetsSent += s.handle?.stats.packetsSent ?? 0;
    }
    return { players, sessions: this.totals.sessions, bytesSent, packetsSent, drops: this.totals.drops, bitrate };
  }

  /** status API view */
  status(): Record<string, unknown> {
    const base: Record<string, unknown> = { name: this.name, type: this.type, ...this.stats() };
    if (this.config.type === 'ondemand') return { ...base, path: this.config.path };
    const ch = this.channel;
    const content = ch?.content;
    return {
      ...base,
      source: { ...this.config.source, pusher: this.pusher ?? undefined },
      start: this.config.start,
      broadcasting: Boolean(content),
      startedAt: ch?.startedAt ? new Date(ch.startedAt).toISOString() : undefined,
      contentBitrate: content?.bitrate,
      streams: content?.streams,
      packetsIn: ch?.packetsIn ?? 0,
      liveBytesSent: ch?.fanout.bytesSent ?? 0,
      archive: this.config.archive || undefined,
    };
  }
}

export function describeFile(f: AsfFileHandle): ContentDescription {
  const l = f.layout;
  return describeHeader(l.header, l.headerBytes, {
    packetCount: l.packetCount,
    fileSize: l.firstPacketOffset + l.packetCount * l.packetSize,
    packetSize: l.packetSize,
  });
}

/** bits/s of the selected streams (all when no selection; the content total when streams carry no bitrates) */
export function selectedBitrate(desc: ContentDescription, streams?: ReadonlySet<number>): number {
  if (!streams) return desc.bitrate;
  const sum = desc.streams.filter((s) => streams.has(s.number)).reduce((a, s) => a + s.bitrate, 0);
  return sum || desc.bitrate;
}
