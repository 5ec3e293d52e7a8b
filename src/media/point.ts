/**
 * A publishing point: on-demand (a directory of ASF files, or an origin server's content through the proxy) or
 * broadcast (a file or .wsx playlist played as live, an encoder's push, or a pull from another server). It owns
 * its live channel and feeder, its access list and authenticator, and counts its players; admission against the
 * server-wide limits goes through the Admission passed in. An origin point's live URLs are live children (pull
 * points of the same name) routed by its OriginRouter.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileLayouts, openAsfFile, type AsfFileHandle } from '../asf/index.js';
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
import type { FileOpener, MediaFileHandle, OriginAccess } from './origin.js';
import { liveChildConfig, OriginRouter, type OriginRoute } from './origin-point.js';
import { resolveMediaFile, safeSegments } from './paths.js';
import { chooseStreams } from './selection.js';
import { parseWsxPlaylist } from './playlist.js';
import type { PacingScheduler } from './scheduler.js';
import type { MediaCounters } from './counters.js';
import type { ContentDescription, PacketFramer, PlayerIdentity, PlayerSink, PlayHandle, PlayOptions, PlayStats } from '../contracts/media.js';

const MAX_PLAYLIST_BYTES = 1024 * 1024;
/** how long a player waits for a broadcast that has not started (push points, demand start) */
const HEADER_WAIT_MS = 10_000;
/** a demand-started broadcast with no players for this long is stopped */
const DEMAND_IDLE_MS = 30_000;
/** a boot-started pull that is down (its upstream lost for good, or never reached) is tried again this often */
const PULL_RESTART_MS = 10_000;
/** on-demand files whose protection was seen, remembered for the status (bounded) */
const MAX_PROTECTED_FILES = 1000;

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
  /** the proxy: what origin URLs serve (reverse-proxied points and the forward proxy); undefined without one */
  origins?: () => OriginAccess | undefined;
  /** the core's counters and event hub (joins, bytes, drops; point and player events) */
  counters: MediaCounters;
}

export interface PointRole {
  /** the forward proxy: request paths are whole origin URLs (see MediaCore.resolveForward) */
  forward?: boolean;
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
  /** origin points and the forward proxy: request paths map to origin URLs */
  readonly router: OriginRouter<PublishingPoint> | null = null;
  /** when a boot-started pull that is down is tried again (0: not scheduled) */
  private restartAt = 0;
  /** stopped through the API or a command: players and pushes are refused until it is started again */
  operatorStopped = false;
  /** on-demand files described so far that carry DRM objects */
  private readonly protectedFiles = new Set<string>();

  constructor(readonly config: PublishingPointConfig, private readonly deps: PointDeps, role: PointRole = {}) {
    this.name = config.name;
    this.access = createAccessList(config.access);
    this.auth = config.auth.scheme === 'none' ? null : createAuthenticator(config.auth);
    this.log = deps.log.child('point', { point: config.name });
    if (config.type === 'ondemand' && (config.origin !== '' || role.forward)) {
      this.router = new OriginRouter({
        point: this.name,
        origin: config.origin,
        origins: () => deps.origins?.(),
        log: this.log,
        createLive: (url) => this.createLiveChild(url),
        onForget: (child) => this.keepTotals(child),
      });
    }
  }

  /** a live child that goes: what it sent stays in this point's totals */
  private keepTotals(child: PublishingPoint): void {
    const s = child.stats();
    this.totals.sessions += s.sessions;
    this.totals.bytesSent += s.bytesSent;
    this.totals.packetsSent += s.packetsSent;
    this.totals.drops += s.drops;
  }

  /** serves an origin's content (reverse proxy) rather than a directory */
  get proxied(): boolean {
    return this.config.type === 'ondemand' && this.config.origin !== '';
  }

  /**
   * A live URL of an origin point: a demand-started pull of the same name and settings, whose players count
   * against this point's limits.
   */
  private createLiveChild(url: string): PublishingPoint {
    const cfg = liveChildConfig(this.config, url, this.deps.origins?.()?.liveEndAfterMs ?? 0);
    return new PublishingPoint(cfg, { ...this.deps, admission: { admit: (_child, bitrate) => this.deps.admission.admit(this, bitrate) } });
  }

  /** the origin route of a request path's rest (origin points) or of a whole URL (the forward proxy) */
  async routeOrigin(rawRestOrUrl: string, isUrl = false): Promise<OriginRoute<PublishingPoint>> {
    if (!this.router) throw new MssError('not-found', `publishing point ${this.name} serves no origin`);
    return this.router.route(isUrl ? rawRestOrUrl : this.router.urlFor(rawRestOrUrl));
  }

  /** a pull running or starting, its channel open: requests need not ask the origin what the URL is */
  get broadcasting(): boolean {
    return this.feeder !== null && this.channel !== null && !this.channel.closed;
  }

  /** stopped and unused: an origin point may forget this live child */
  get idle(): boolean {
    return this.feeder === null && this.starting === null && this.playerCount === 0;
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
    });
    const channel = new LiveChannel(this.name, fanout, this.log, cfg.archive, this.live);
    channel.onStateChange = (state, detail) => {
      if (this.channel !== channel) return;
      if (state === 'started') this.deps.counters.emit({ type: 'point-started', point: this.name, source: channel.feeder || cfg.source.type, protected: channel.content?.protected === true });
      else this.deps.counters.emit({ type: 'point-stopped', point: this.name, reason: detail });
    };
    this.channel = channel;
    return this.channel;
  }

  /** starts a file/playlist broadcast (once; concurrent callers share the start) */
  ensureStarted(): Promise<void> {
    if (this.config.type !== 'broadcast') return Promise.resolve();
    if (this.operatorStopped) return Promise.reject(new MssError('unavailable', `publishing point ${this.name} was stopped by the operator`, { reason: 'stopped' }));
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
    const src = (this.config as BroadcastPointConfig).source as { endAfterMs?: number };
    const pull: PullSource = new PullSource({
      url,
      channel,
      openStream: this.deps.openPullStream!,
      log: this.log,
      endAfterMs: src.endAfterMs ?? 0,
      onGiveUp: () => {
        // the upstream stayed away: players get an end of stream; a boot point tries again later
        if (this.feeder !== pull) return;
        this.feeder = null;
        channel.end('upstream lost');
        if (this.config.type === 'broadcast' && this.config.start === 'boot') this.restartAt = Date.now() + PULL_RESTART_MS;
      },
    });
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
        if (this.config.type === 'broadcast' && this.config.start === 'boot') this.restartAt = Date.now() + PULL_RESTART_MS;
        throw err;
      },
    );
    return this.starting;
  }

  async stop(): Promise<void> {
    this.restartAt = 0;
    await this.router?.stop();
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

  /** the operator's stop: the broadcast ends (players get an end of stream) and stays stopped until startBroadcast */
  async stopBroadcast(): Promise<void> {
    if (this.config.type !== 'broadcast') throw new MssError('conflict', `publishing point ${this.name} is on-demand: only broadcasts start and stop`);
    this.operatorStopped = true;
    await this.stop();
    this.log.info('point.stopped-by-operator', {});
  }

  /** the operator's start: file, playlist and pull sources start now; a push point waits for its encoder again */
  async startBroadcast(): Promise<void> {
    if (this.config.type !== 'broadcast') throw new MssError('conflict', `publishing point ${this.name} is on-demand: only broadcasts start and stop`);
    this.operatorStopped = false;
    await this.ensureStarted();
  }

  /** housekeeping from the media core: stop an idle demand-started broadcast, retry a boot pull that is down */
  sweep(now: number): void {
    this.router?.sweep(now);
    if (this.restartAt && Date.now() >= this.restartAt && !this.feeder && !this.starting) {
      this.restartAt = 0;
      void this.ensureStarted().catch(() => undefined);
    }
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

  /** the opener of a file: a local path, or (origin points) the proxy's opener of the origin URL's content */
  private opener(file: string, open?: FileOpener): FileOpener {
    if (open) return open;
    if (this.router) throw new MssError('internal', `publishing point ${this.name}: ${file} has no opener from the proxy`);
    return () => openAsfFile(file, { layouts: fileLayouts });
  }

  async describeFile(file: string, open?: FileOpener): Promise<ContentDescription> {
    const f = await this.opener(file, open)();
    try {
      const d = describeFile(f);
      if (d.protected && this.protectedFiles.size < MAX_PROTECTED_FILES) this.protectedFiles.add(file);
      return d;
    } finally {
      await f.close();
    }
  }

  async describeLive(): Promise<ContentDescription> {
    if (this.operatorStopped) throw new MssError('unavailable', `publishing point ${this.name} was stopped by the operator`, { reason: 'stopped' });
    await this.ensureStarted().catch((err: unknown) => {
      // the point exists; its source does not work (missing file, bad playlist): unavailable, not "not found"
      throw new MssError('unavailable', `publishing point ${this.name} cannot broadcast: ${(err as Error).message}`);
    });
    const ch = this.ensureChannel();
    return ch.waitForHeader(HEADER_WAIT_MS);
  }

  async playFile(file: string, opts: PlayOptions, framer: PacketFramer, sink: PlayerSink, who: PlayerIdentity, open?: FileOpener): Promise<PlayHandle> {
    const handle: MediaFileHandle = await this.opener(file, open)({ startTimeMs: opts.startTimeMs, startPacket: opts.startPacket });
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
    const handle = ch.fanout.join({ sink, framer, streams, accel: relay ? undefined : opts.accel, maxBandwidth: this.config.maxPlayerBandwidth || opts.maxBandwidth, remote: who.remote, liveEdge: relay, sendHeader: opts.sendHeader });
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
    if (slot.role === 'player') {
      this.totals.sessions++;
      this.deps.counters.joined(this.name, who.protocol);
    }
    this.deps.counters.emit({ type: 'player-joined', point: this.name, id: slot.id, role: slot.role, who, bitrate });
    return slot;
  }

  private ended(slot: PlayerSlot, release: () => void, stats: PlayStats): void {
    if (!this.active.delete(slot)) return;
    release();
    this.totals.bytesSent += stats.bytesSent;
    this.totals.packetsSent += stats.packetsSent;
    if (stats.endReason === 'slow-player') this.totals.drops++;
    const c = this.deps.counters;
    c.sessionEnded(this.name, slot.who.protocol, stats.bytesSent, stats.endReason);
    c.emit({ type: 'player-left', point: this.name, id: slot.id, role: slot.role, who: slot.who, bitrate: slot.bitrate, bytesSent: stats.bytesSent, durationMs: Date.now() - slot.startedAt, reason: stats.endReason ?? 'finished' });
  }

  /** bytes sent to the players of this point by protocol: running sessions only (ended ones are in the counters) */
  runningBytesByProtocol(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.active) out.set(s.who.protocol, (out.get(s.who.protocol) ?? 0) + (s.handle?.stats.bytesSent ?? 0));
    return out;
  }

  /** whether what this point serves carries DRM objects (broadcast: the current stream; on-demand: a file seen so far) */
  get protected(): boolean {
    if (this.config.type === 'ondemand') return this.protectedFiles.size > 0;
    return this.channel?.content?.protected === true;
  }

  /** the players and relay outputs playing now (an origin point's live children's included) */
  slots(): PlayerSlot[] {
    const own = [...this.active];
    return this.router ? [...own, ...this.router.children().flatMap((c) => c.slots())] : own;
  }

  /** players counted against the limits (relay outputs are not) */
  get playerCount(): number {
    let n = 0;
    for (const s of this.active) if (s.role === 'player') n++;
    if (this.router) for (const c of this.router.children()) n += c.playerCount;
    return n;
  }

  stats(): PointStats {
    let bitrate = 0;
    let players = 0;
    // bytes of the sessions that ended plus what the running ones have sent so far
    let bytesSent = this.totals.bytesSent;
    let packetsSent = this.totals.packetsSent;
    let sessions = this.totals.sessions;
    let drops = this.totals.drops;
    for (const s of this.active) {
      bitrate += s.bitrate;
      if (s.role === 'player') players++;
      bytesSent += s.handle?.stats.bytesSent ?? 0;
      packetsSent += s.handle?.stats.packetsSent ?? 0;
    }
    for (const c of this.router?.children() ?? []) {
      const cs = c.stats();
      bitrate += cs.bitrate;
      players += cs.players;
      bytesSent += cs.bytesSent;
      packetsSent += cs.packetsSent;
      sessions += cs.sessions;
      drops += cs.drops;
    }
    return { players, sessions, bytesSent, packetsSent, drops, bitrate };
  }

  /** status API view */
  status(): Record<string, unknown> {
    const base: Record<string, unknown> = { name: this.name, type: this.type, ...this.stats(), protected: this.protected };
    if (this.router) {
      const live = this.router.liveUrls().map(([url, c]) => {
        const s = c.status();
        return { url, players: s.players, broadcasting: s.broadcasting, upstream: s.upstream, contentBitrate: s.contentBitrate, bytesSent: s.bytesSent };
      });
      return { ...base, origin: this.config.type === 'ondemand' ? this.config.origin || undefined : undefined, proxy: this.deps.origins?.()?.pointStatus(this.name), live };
    }
    if (this.config.type === 'ondemand') return { ...base, path: this.config.path, protectedFiles: this.protectedFiles.size };
    const ch = this.channel;
    const content = ch?.content;
    return {
      ...base,
      source: { ...this.config.source, pusher: this.pusher ?? undefined },
      start: this.config.start,
      state: this.operatorStopped ? 'stopped' : content ? 'broadcasting' : this.starting ? 'starting' : 'idle',
      broadcasting: Boolean(content),
      startedAt: ch?.startedAt ? new Date(ch.startedAt).toISOString() : undefined,
      contentBitrate: content?.bitrate,
      streams: content?.streams,
      packetsIn: ch?.packetsIn ?? 0,
      liveBytesSent: ch?.fanout.bytesSent ?? 0,
      upstream: this.feeder instanceof PullSource ? this.feeder.status() : undefined,
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
