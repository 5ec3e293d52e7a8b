/**
 * The protocol-agnostic media core: the publishing points of the config, the one pacing scheduler, server-wide
 * admission (players and bandwidth), push ingest, status and telemetry, and live reconfiguration. Protocol
 * adapters ask it to resolve a request path to a target they can describe and play.
 */
import type { PublishingPointConfig, ServerConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { LiveIngest, LiveIngestOptions, MediaResolver, MediaTarget } from '../contracts/media.js';
import { PublishingPoint, type Admission, type PlayerSlot } from './point.js';
import type { PulledStream } from './pull-source.js';
import { PacingScheduler } from './scheduler.js';
import { chooseStreams } from './selection.js';

export type { MediaTarget };

const POINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class MediaCore implements Admission, MediaResolver {
  readonly scheduler: PacingScheduler;
  private readonly points = new Map<string, PublishingPoint>();
  private config: ServerConfig;
  private playersNow = 0;
  private bitrate = 0;
  private startedAt = 0;
  private removeSweep: (() => void) | null = null;
  /** set by the media server module: the WMSP client that pull sources use */
  openPullStream: ((url: string) => PulledStream) | undefined;

  constructor(config: ServerConfig, private readonly log: Logger) {
    this.config = config;
    this.scheduler = new PacingScheduler(undefined, (err) => log.error('scheduler.task-failed', { error: err }));
    for (const p of config.publishingPoints) this.points.set(p.name, this.createPoint(p));
  }

  private createPoint(cfg: PublishingPointConfig): PublishingPoint {
    return new PublishingPoint(cfg, { scheduler: this.scheduler, log: this.log, server: () => this.config, admission: this, openPullStream: (url) => {
        if (!this.openPullStream) throw new MssError('unsupported', 'pull sources need a WMSP client (none was given to the media core)');
        return this.openPullStream(url);
      } });
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.removeSweep = this.scheduler.addSweep((now) => {
      for (const p of this.points.values()) p.sweep(now);
    });
    for (const p of this.points.values()) {
      // one failing broadcast (missing file) must not keep the others from starting
      await p.start().catch((err) => this.log.error('point.start-failed', { point: p.name, error: err }));
    }
  }

  async stop(): Promise<void> {
    this.removeSweep?.();
    await Promise.all([...this.points.values()].map((p) => p.stop()));
    this.scheduler.stop();
  }

  point(name: string): PublishingPoint | undefined {
    return this.points.get(name);
  }

  pointNames(): string[] {
    return [...this.points.keys()];
  }

  /** whether a raw request path names an existing publishing point (cheap: routes use it to claim requests) */
  owns(rawPath: string): boolean {
    const clean = rawPath.split('?')[0]!;
    const slash = clean.indexOf('/', 1);
    const name = slash < 0 ? clean.slice(1) : clean.slice(1, slash);
    return POINT_NAME.test(name) && this.points.has(name);
  }

  /** Resolves a raw request path (`/<point>` or `/<point>/<file...>`, still percent-encoded). */
  async resolve(rawPath: string): Promise<MediaTarget> {
    const clean = rawPath.split('?')[0];
    const slash = clean.indexOf('/', 1);
    const name = slash < 0 ? clean.slice(1) : clean.slice(1, slash);
    const rest = slash < 0 ? '' : clean.slice(slash + 1);
    const point = POINT_NAME.test(name) ? this.points.get(name) : undefined;
    if (!point) throw new MssError('not-found', `no publishing point ${JSON.stringify(name.slice(0, 64))}`);
    const common = {
      point: point.name,
      live: point.live,
      auth: point.auth,
      allows: (a: string) => point.access.allows(a),
      chooseStreams,
    };
    if (point.type === 'broadcast') {
      if (rest.replace(/\/+$/, '') !== '') throw new MssError('not-found', `broadcast point ${point.name} has no file ${JSON.stringify(rest.slice(0, 100))}`);
      return {
        ...common,
        kind: 'broadcast',
        describe: () => point.describeLive(),
        play: (opts, framer, sink, who) => point.joinLive(opts, framer, sink, who),
      };
    }
    const file = await point.resolveFile(rest);
    return {
      ...common,
      kind: 'ondemand',
      file,
      describe: () => point.describeFile(file),
      play: (opts, framer, sink, who) => point.playFile(file, opts, framer, sink, who),
    };
  }

  /** Admission against the point's and the server's limits; returns the release function. */
  admit(point: PublishingPoint, bitrate: number): () => void {
    const s = this.config;
    const pc = point.config;
    if (s.maxPlayers && this.playersNow >= s.maxPlayers) throw new MssError('limit-reached', `the server is at its limit of ${s.maxPlayers} players`, { limit: 'server.maxPlayers' });
    if (pc.maxPlayers && point.playerCount >= pc.maxPlayers) throw new MssError('limit-reached', `publishing point ${pc.name} is at its limit of ${pc.maxPlayers} players`, { limit: 'maxPlayers' });
    if (pc.maxPlayerBandwidth && bitrate > pc.maxPlayerBandwidth) {
      throw new MssError('limit-reached', `the content needs ${bitrate} bit/s, more than the ${pc.maxPlayerBandwidth} bit/s allowed per player on ${pc.name}`, { limit: 'maxPlayerBandwidth' });
    }
    if (s.maxBandwidth && this.bitrate + bitrate > s.maxBandwidth) {
      throw new MssError('limit-reached', `the server would exceed its bandwidth limit of ${s.maxBandwidth} bit/s`, { limit: 'server.maxBandwidth' });
    }
    this.playersNow++;
    this.bitrate += bitrate;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.playersNow--;
      this.bitrate -= bitrate;
    };
  }

  /**
   * An encoder's push into a broadcast point with a push source. Unknown point + template: a point is created
   * from the template's settings. Throws 'not-found' (unknown point, no template) or 'conflict' (the point
   * already has a pusher, or does not take pushes).
   */
  openLiveIngest(pointName: string, opts: LiveIngestOptions): LiveIngest {
    let point = this.points.get(pointName);
    if (!point) {
      const tpl = opts.template ? this.points.get(opts.template) : undefined;
      if (!tpl) throw new MssError('not-found', `no publishing point ${JSON.stringify(pointName)}${opts.template ? ` and no template ${JSON.stringify(opts.template)}` : ''}`);
      if (!POINT_NAME.test(pointName)) throw new MssError('invalid-argument', `${JSON.stringify(pointName)} is not a valid publishing point name`);
      if (tpl.config.type !== 'broadcast' || tpl.config.source.type !== 'push') throw new MssError('conflict', `template ${tpl.name} is not a push broadcast point`);
      point = this.createPoint({ ...structuredClone(tpl.config), name: pointName });
      point.autoDestroy = opts.autoDestroy ?? false;
      this.points.set(pointName, point);
      this.log.info('point.created', { point: pointName, template: tpl.name, remote: opts.remote });
    }
    if (point.config.type !== 'broadcast' || point.config.source.type !== 'push') {
      throw new MssError('conflict', `publishing point ${point.name} does not take pushes (its source is ${point.type === 'broadcast' ? (point.config as { source: { type: string } }).source.type : 'a directory'})`);
    }
    if (point.pusher) throw new MssError('conflict', `publishing point ${point.name} already has a pusher (${point.pusher})`);
    void point.ensureStarted();
    const channel = (point as PublishingPoint).liveChannel!;
    channel.reopen();
    channel.feeder = `push from ${opts.remote}`;
    point.pusher = opts.remote;
    const target = point;
    this.log.info('ingest.opened', { point: target.name, remote: opts.remote });
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      target.pusher = null;
      if (target.autoDestroy && this.points.get(target.name) === target) {
        this.points.delete(target.name);
        void target.stop();
        this.log.info('point.removed', { point: target.name, reason: 'push ended' });
      }
    };
    return {
      setHeader: (h) => {
        if (closed) throw new MssError('conflict', `the ingest into ${target.name} has ended`);
        channel.setHeader(h);
      },
      pushPacket: (p) => {
        if (!closed) channel.pushPacket(p);
      },
      end: (reason) => {
        if (closed) return;
        channel.end(reason);
        finish();
      },
      get closed() {
        return closed || channel.closed;
      },
    };
  }

  /**
   * Applies a new server config: points added, removed, or (when their settings changed) restarted. Every new point
   * is built before any running one is touched, so a point that cannot be built changes nothing.
   */
  async reconfigure(next: ServerConfig): Promise<'applied' | 'unchanged'> {
    const prev = this.config;
    const wanted = new Map(next.publishingPoints.map((p) => [p.name, p]));
    const replaced = [...this.points].filter(([name, point]) => {
      const cfg = wanted.get(name);
      if (cfg && JSON.stringify(cfg) === JSON.stringify(point.config)) return false;
      return !(!cfg && point.autoDestroy); // a point created by a push stays while it runs
    });
    const kept = (name: string) => this.points.has(name) && !replaced.some(([n]) => n === name);
    const built = next.publishingPoints.filter((cfg) => !kept(cfg.name)).map((cfg) => this.createPoint(cfg));
    this.config = next;
    let changed = JSON.stringify({ ...prev, publishingPoints: [] }) !== JSON.stringify({ ...next, publishingPoints: [] });
    for (const [name, point] of replaced) {
      this.points.delete(name);
      await point.stop();
      changed = true;
      this.log.info('point.removed', { point: name, reason: wanted.has(name) ? 'reconfigured' : 'removed from config' });
    }
    for (const point of built) {
      this.points.set(point.name, point);
      changed = true;
      this.log.info('point.added', { point: point.name, type: point.type });
      await point.start().catch((err) => this.log.error('point.start-failed', { point: point.name, error: err }));
    }
    return changed ? 'applied' : 'unchanged';
  }

  /** every player and relay output of every point */
  players(): PlayerSlot[] {
    return [...this.points.values()].flatMap((p) => p.slots());
  }

  /** stops one player by its slot id; false when there is none */
  disconnect(id: number, reason = 'disconnected by the operator'): boolean {
    const slot = this.players().find((s) => s.id === id);
    if (!slot?.handle) return false;
    slot.handle.stop(reason);
    return true;
  }

  status(): Record<string, unknown> {
    const points = [...this.points.values()].map((p) => p.status());
    return {
      startedAt: this.startedAt ? new Date(this.startedAt).toISOString() : null,
      uptimeMs: this.startedAt ? Date.now() - this.startedAt : 0,
      players: this.playersNow,
      bitrate: this.bitrate,
      bytesSent: points.reduce((a, p) => a + Number(p.bytesSent ?? 0), 0),
      limits: { maxPlayers: this.config.maxPlayers, maxBandwidth: this.config.maxBandwidth },
      memory: process.memoryUsage(),
      points,
    };
  }

  telemetry(): Record<string, unknown> {
    const points: Record<string, unknown> = {};
    let bytes = 0;
    let drops = 0;
    for (const p of this.points.values()) {
      const s = p.stats();
      bytes += s.bytesSent;
      drops += s.drops;
      points[p.name] = { players: s.players, bitrate: s.bitrate, bytesSent: s.bytesSent, drops: s.drops };
    }
    return { players: this.playersNow, bitrate: this.bitrate, bytesSent: bytes, drops, points };
  }

  get playerCount(): number {
    return this.playersNow;
  }
}
