/**
 * The media server module: the protocol-agnostic media core plus its protocol adapters on the shared HTTP
 * listener (WMSP players, the forward proxy's absolute-URI requests, .asx and .nsc announcements, the status API)
 * and the points' multicast outputs. Other modules reach it through `ctx.modules.get('media')`: the encoder pushes
 * with openLiveIngest, the device agent calls reconfigure and telemetry. The proxy module (earlier in the list) gives
 * the core its upstreams: pulls go through its splitter, origin URLs through its cache.
 */
import type { MssConfig } from '../config/index.js';
import { redactDeep } from '../config/redact.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { HttpRoute } from '../http/route.js';
import { buildAsx } from '../media/asx.js';
import { WEB_LOG_PATH } from '../logs/routes.js';
import { MediaCore } from '../media/core.js';
import { AuthGuard } from '../auth/guard.js';
import type { LiveIngest, LiveIngestOptions } from '../contracts/media.js';
import { WmspServer } from '../protocols/wmsp/server.js';
import { PushReceiver } from '../protocols/wmhttp/server.js';
import { openWmspStream } from '../protocols/wmsp/client.js';
import { MulticastOutputs } from '../protocols/msb/outputs.js';
import { openMsbdStream } from '../protocols/msbd/client.js';
import { nscRoute } from '../protocols/msb/nsc-route.js';
import type { PulledStream } from '../media/pull-source.js';
import { isAbsoluteRequestUri } from '../proxy/forward.js';
import type { AppContext } from './context.js';
import type { ProxyModule } from './proxy-module.js';

const POINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A protocol module on a listener of its own (RTSP): its part of /api/status and of the .asx announcements. */
export interface ProtocolPresence {
  name: string;
  status(): unknown;
  /** the URL players use for a stream path on this host, listed before mmsh:// in .asx files */
  streamUrl?(hostname: string, path: string): string | undefined;
}

/** the host name of a Host header (`h:8080`, `[::1]:8080`) */
function hostnameOf(host: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host);
  return m ? m[1]! : host;
}

function firstSegment(rawPath: string): string {
  const p = rawPath.split('?')[0];
  const slash = p.indexOf('/', 1);
  return slash < 0 ? p.slice(1) : p.slice(1, slash);
}

export class MediaServerModule implements AppModule {
  readonly name = 'media';
  readonly liveSections = ['server'];
  readonly core: MediaCore;
  readonly wmsp: WmspServer;
  /** the streaming protocols' shared guard against guessed credentials (RTSP and MMS use it too) */
  readonly authGuard: AuthGuard;
  /** encoders pushing with MS-WMHTTP */
  readonly push: PushReceiver;
  /** MS-MSB senders of the broadcast points that have a multicast group */
  readonly multicast: MulticastOutputs;
  private readonly log: Logger;
  private state: 'stopped' | 'running' | 'failed' = 'stopped';
  private readonly routes: HttpRoute[];
  private readonly protocols: ProtocolPresence[] = [];

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('media');
    this.core = new MediaCore(ctx.config.server, this.log);
    const proxy = ctx.modules.get('proxy') as ProxyModule | undefined;
    this.core.openPullStream = (url) => this.pullStream(url, proxy);
    this.core.origins = proxy?.origins;
    // failed stream credentials are answered late and guessing is rate-limited per address, like the operator API
    this.authGuard = new AuthGuard(null, { refusalDelayMs: ctx.config.api.refusalDelayMs, maxFailures: ctx.config.api.maxFailuresPerMinute, windowMs: 60_000 });
    this.wmsp = new WmspServer({
      log: ctx.log.child('wmsp'),
      resolver: this.core,
      authGuard: this.authGuard,
      onPlayerLog: async (report) => {
        await ctx.hooks.onPlayerLog?.(report);
      },
      onSessionEnd: (summary) => ctx.hooks.onSessionEnd?.(summary),
      browserResponse: (_target, url, host) => (isAbsoluteRequestUri(url) ? undefined : { contentType: 'video/x-ms-asf', body: this.asxFor(url.split('?')[0], host) }),
      maxBodyBytes: ctx.config.http.maxBodyBytes,
    });
    this.push = new PushReceiver({
      log: ctx.log.child('wmhttp'),
      target: {
        openLiveIngest: (point, opts) => this.core.openLiveIngest(point, opts),
        authenticatorFor: async (point, template) => (this.core.point(point) ?? (template ? this.core.point(template) : undefined))?.auth ?? null,
      },
    });
    this.multicast = new MulticastOutputs({ resolver: this.core, sweeper: this.core.scheduler, log: ctx.log.child('msb') });
    const nsc = nscRoute({
      outputs: this.multicast,
      // the web logging route, when logs are kept
      logUrl: (host) => (ctx.modules.has('logs') ? `http://${host}${WEB_LOG_PATH}` : undefined),
      unicastUrl: (point, host) => `http://${host}/${point}`,
    });
    const forward = { owns: (raw: string) => isAbsoluteRequestUri(raw) && this.core.forwardEnabled, resolve: (raw: string) => this.core.resolveForward(raw) };
    this.routes = [ctx.api.protect(this.statusRoute()), this.asxRoute(), nsc, this.push.route(70), this.wmsp.route(55, forward, 'wmsp-forward'), this.wmsp.route(50)];
    for (const r of this.routes) ctx.http.addRoute(r);
  }

  /**
   * A pull source's upstream, by URL scheme: MSBD's client for msbd://, else through the proxy's splitter (one
   * connection per URL, the protocol client the scheme names), or the WMSP client directly when there is no proxy.
   */
  private pullStream(url: string, proxy: ProxyModule | undefined): PulledStream {
    // MSBD pulls (legacy encoders, NT4-era servers) go to their own client: one pull point is their one consumer
    if (/^msbd:/i.test(url)) return openMsbdStream(url);
    if (proxy) return proxy.openLive(url);
    return openWmspStream(url);
  }

  /** the origin URL a request path of a proxied point names (prestuffing by path) */
  originUrlOf(requestPath: string): string {
    const clean = requestPath.split('?')[0]!;
    const slash = clean.indexOf('/', 1);
    const name = slash < 0 ? clean.slice(1) : clean.slice(1, slash);
    const point = POINT_NAME.test(name) ? this.core.point(name) : undefined;
    if (!point?.router || !point.proxied) throw new MssError('not-found', `${JSON.stringify(clean.slice(0, 100))} is not a path of a proxied publishing point`);
    return point.router.urlFor(slash < 0 ? '' : clean.slice(slash + 1));
  }

  async start(): Promise<void> {
    await this.core.setForwardProxy(forwardSettings(this.ctx.config));
    await this.core.start();
    this.wmsp.start(this.core.scheduler);
    await this.multicast.apply(this.ctx.config.server.publishingPoints);
    this.state = 'running';
    this.log.info('media.started', { points: this.core.pointNames() });
  }

  async stop(): Promise<void> {
    this.push.stop();
    this.wmsp.stop();
    await this.multicast.stop();
    await this.core.stop();
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: this.state === 'running', state: this.state, detail: { points: this.core.pointNames().length, players: this.core.playerCount, sessions: this.wmsp.sessionCount } };
  }

  telemetry(): Record<string, unknown> {
    return { ...this.core.telemetry(), wmsp: { ...this.wmsp.counters }, multicast: this.multicast.status() };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    const forwardChanged = JSON.stringify(forwardSettings(next)) !== JSON.stringify(forwardSettings(previous));
    await this.core.setForwardProxy(forwardSettings(next));
    const r = await this.core.reconfigure(next.server);
    await this.multicast.apply(next.server.publishingPoints);
    return forwardChanged ? 'applied' : r;
  }

  /** a protocol module adds its status and its stream URLs (called from its start) */
  addProtocol(p: ProtocolPresence): void {
    const i = this.protocols.findIndex((x) => x.name === p.name);
    if (i >= 0) this.protocols.splice(i, 1);
    this.protocols.push(p);
  }

  /** encoder push into a broadcast point (see LiveIngest) */
  openLiveIngest(pointName: string, opts: LiveIngestOptions): LiveIngest {
    return this.core.openLiveIngest(pointName, opts);
  }

  /** the .asx for a stream path (`/live`, `/vod/a.wmv`); its LOGURL is the web logging route when logs are kept */
  private asxFor(streamPath: string, host: string): string {
    const h = host || `127.0.0.1:${this.ctx.config.http.port}`;
    const title = decodeURIComponent(streamPath.replace(/^\//, ''));
    // a multicast point: its .nsc first (players that can join the group do); then RTSP when it runs, with mmsh://
    // as the fallback (as Windows Media Services announced), else mms://; http:// last
    const nsc = this.multicast.get(firstSegment(streamPath)) && !streamPath.slice(1).includes('/') ? [`http://${h}${streamPath}.nsc`] : [];
    const logUrl = this.ctx.modules.has('logs') ? `http://${h}${WEB_LOG_PATH}` : undefined;
    const first = this.protocols.map((p) => p.streamUrl?.(hostnameOf(h), streamPath)).filter((u): u is string => u !== undefined);
    const unicast = first.length > 0 ? [...first, `mmsh://${h}${streamPath}`] : [`mms://${h}${streamPath}`, `mmsh://${h}${streamPath}`];
    return buildAsx({ title, logUrl, entries: [{ title, refs: [...nsc, ...unicast, `http://${h}${streamPath}`] }] });
  }

  private asxRoute(): HttpRoute {
    return {
      name: 'asx',
      priority: 60,
      match: (req) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return false;
        const p = (req.url ?? '').split('?')[0];
        if (!/\.asx$/i.test(p)) return false;
        const seg = firstSegment(p.replace(/\.asx$/i, ''));
        return POINT_NAME.test(seg) && this.core.point(seg) !== undefined;
      },
      handle: async (req, res, ctx) => {
        const streamPath = (req.url ?? '').split('?')[0].replace(/\.asx$/i, '');
        // the named point or file must exist (and the path be safe) before it is announced
        const target = await this.core.resolve(streamPath);
        if (!target.allows(ctx.remoteAddress)) throw new MssError('forbidden', `${ctx.remoteAddress} may not use publishing point ${target.point}`);
        const body = this.asxFor(streamPath, String(req.headers.host ?? ''));
        res.writeHead(200, { 'Content-Type': 'video/x-ms-asf', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    };
  }

  private statusRoute(): HttpRoute {
    return {
      name: 'status-api',
      priority: 100,
      match: (req) => (req.url ?? '').split('?')[0] === '/api/status',
      handle: (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new MssError('unsupported', `/api/status answers GET, not ${req.method}`);
        const proxy = this.ctx.modules.get('proxy') as ProxyModule | undefined;
        const proxyStatus = proxy ? { cache: proxy.cache.stats(), upstreams: proxy.splitter.status() } : undefined;
        const others = Object.fromEntries(this.protocols.map((p) => [p.name, p.status()]));
        const body = JSON.stringify(redactDeep({ ...this.core.status(), wmsp: { sessions: this.wmsp.sessionCount, ...this.wmsp.counters }, multicast: this.multicast.status(), proxy: proxyStatus, ...others }));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    };
  }
}

/** the forward proxy's point settings (accounts, access list, limits), or null when it is off */
function forwardSettings(config: MssConfig) {
  const f = config.proxy.forward;
  if (!f.enabled) return null;
  return { auth: f.auth, access: f.access, maxPlayers: f.maxPlayers, maxPlayerBandwidth: f.maxPlayerBandwidth };
}
