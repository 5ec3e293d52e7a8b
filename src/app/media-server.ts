/**
 * The media server module: the protocol-agnostic media core plus its protocol adapters on the shared HTTP
 * listener (WMSP players, .asx announcements, the status API). Other modules reach it through
 * `ctx.modules.get('media')`: the encoder pushes with openLiveIngest, the device agent calls reconfigure and
 * telemetry.
 */
import type { MssConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { HttpRoute } from '../http/route.js';
import { buildAsx } from '../media/asx.js';
import { MediaCore } from '../media/core.js';
import type { LiveIngest, LiveIngestOptions } from '../contracts/media.js';
import { WmspServer } from '../protocols/wmsp/server.js';
import { PushReceiver } from '../protocols/wmhttp/server.js';
import { openWmspStream } from '../protocols/wmsp/client.js';
import type { AppContext } from './context.js';

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
  readonly core: MediaCore;
  readonly wmsp: WmspServer;
  /** encoders pushing with MS-WMHTTP */
  readonly push: PushReceiver;
  private readonly log: Logger;
  private state: 'stopped' | 'running' | 'failed' = 'stopped';
  private readonly routes: HttpRoute[];
  private readonly protocols: ProtocolPresence[] = [];

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('media');
    this.core = new MediaCore(ctx.config.server, this.log);
    this.core.openPullStream = (url) => openWmspStream(url);
    this.wmsp = new WmspServer({
      log: ctx.log.child('wmsp'),
      resolver: this.core,
      onPlayerLog: async (report) => {
        await ctx.hooks.onPlayerLog?.(report);
      },
      onSessionEnd: (summary) => ctx.hooks.onSessionEnd?.(summary),
      browserResponse: (_target, url, host) => ({ contentType: 'video/x-ms-asf', body: this.asxFor(url.split('?')[0], host) }),
      maxBodyBytes: ctx.config.http.maxBodyBytes,
    });
    this.push = new PushReceiver({
      log: ctx.log.child('wmhttp'),
      target: {
        openLiveIngest: (point, opts) => this.core.openLiveIngest(point, opts),
        authenticatorFor: async (point, template) => (this.core.point(point) ?? (template ? this.core.point(template) : undefined))?.auth ?? null,
      },
    });
    this.routes = [this.statusRoute(), this.asxRoute(), this.push.route(70), this.wmsp.route(50)];
    for (const r of this.routes) ctx.http.addRoute(r);
  }

  async start(): Promise<void> {
    await this.core.start();
    this.wmsp.start(this.core.scheduler);
    this.state = 'running';
    this.log.info('media.started', { points: this.core.pointNames() });
  }

  async stop(): Promise<void> {
    this.push.stop();
    this.wmsp.stop();
    await this.core.stop();
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: this.state === 'running', state: this.state, detail: { points: this.core.pointNames().length, players: this.core.playerCount, sessions: this.wmsp.sessionCount } };
  }

  telemetry(): Record<string, unknown> {
    return { ...this.core.telemetry(), wmsp: { ...this.wmsp.counters } };
  }

  async reconfigure(next: MssConfig, _previous: MssConfig): Promise<ReconfigureResult> {
    return this.core.reconfigure(next.server);
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

  /** the .asx for a stream path (`/live`, `/vod/a.wmv`) */
  private asxFor(streamPath: string, host: string): string {
    const h = host || `127.0.0.1:${this.ctx.config.http.port}`;
    const title = decodeURIComponent(streamPath.replace(/^\//, ''));
    // RTSP first when it runs, mmsh:// as the fallback (as Windows Media Services announced); mms:// otherwise
    const first = this.protocols.map((p) => p.streamUrl?.(hostnameOf(h), streamPath)).filter((u): u is string => u !== undefined);
    const refs = first.length > 0 ? [...first, `mmsh://${h}${streamPath}`, `http://${h}${streamPath}`] : [`mms://${h}${streamPath}`, `mmsh://${h}${streamPath}`, `http://${h}${streamPath}`];
    return buildAsx({ title, entries: [{ title, refs }] });
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
        const others = Object.fromEntries(this.protocols.map((p) => [p.name, p.status()]));
        const body = JSON.stringify({ ...this.core.status(), wmsp: { sessions: this.wmsp.sessionCount, ...this.wmsp.counters }, ...others });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    };
  }
}
