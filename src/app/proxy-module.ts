/**
 * The proxy module: the upstream connector (protocol by URL scheme, the box's origin accounts), the live
 * splitter (one upstream per live URL) and the on-demand cache (disk + SQLite index), with their state as
 * health/telemetry for the device agent, prestuffing as a command and an API call, and the cache listing.
 *
 * It is its own module, before the media server in the list, rather than part of the media module: it owns a
 * database, a directory and upstream connections with a life cycle of their own, and the media module only
 * needs the two seams it hands to the core (openLive for pull sources, origins for reverse-proxied points and the
 * forward proxy), which it takes from here in its constructor. Started before the media core, the cache is open
 * before any point can ask it anything.
 */
import type { MssConfig, ProxyConfig } from '../config/index.js';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleCommand, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { HttpRoute } from '../http/route.js';
import type { PulledStream } from '../media/pull-source.js';
import { defaultRegistry } from '../player/session.js';
import { OnDemandCache } from '../proxy/cache.js';
import { ProxyOrigins } from '../proxy/origin-access.js';
import { LiveSplitter } from '../proxy/splitter.js';
import { UpstreamConnector } from '../proxy/upstream.js';
import type { AppContext } from './context.js';

const MAX_URL = 2048;

/** What the proxy module needs of the media module to map a request path to its origin URL (prestuffing). */
export interface OriginPathMapper {
  originUrlOf(requestPath: string): string;
}

export class ProxyModule implements AppModule {
  readonly name = 'proxy';
  readonly connector: UpstreamConnector;
  readonly splitter: LiveSplitter;
  readonly cache: OnDemandCache;
  /** what the media core asks about origin URLs (MediaCore.origins) */
  readonly origins: ProxyOrigins;
  private config: ProxyConfig;
  private readonly log: Logger;
  private state: 'stopped' | 'running' | 'degraded' = 'stopped';
  private cacheError = '';

  constructor(private readonly ctx: AppContext) {
    this.config = ctx.config.proxy;
    this.log = ctx.log.child('proxy');
    this.connector = new UpstreamConnector(defaultRegistry(), { credentials: this.config.credentials, timeoutMs: this.config.upstream.timeoutMs });
    this.splitter = new LiveSplitter({ connector: this.connector, log: this.log, bufferMs: this.config.live.bufferMs });
    this.cache = new OnDemandCache(this.config.cache, ctx.config.dataDir, this.connector, this.log.child('cache'));
    this.origins = new ProxyOrigins({ config: () => this.config, cache: this.cache, connector: this.connector, log: this.log });
    // operator endpoints: behind the API's guard (loopback unless api.allowRemote, then the api credentials)
    ctx.http.addRoute(ctx.api.protect(this.prestuffRoute()));
    ctx.http.addRoute(ctx.api.protect(this.cacheRoute()));
  }

  /** a pull source's upstream: the one shared connection of its URL */
  openLive(url: string): PulledStream {
    return this.splitter.subscribe(url);
  }

  async start(): Promise<void> {
    try {
      await this.cache.start();
      this.state = 'running';
    } catch (err) {
      // without its disk the proxy still splits live streams and passes on-demand content through
      this.cacheError = toMssError(err).message;
      this.state = 'degraded';
      this.log.error('proxy.cache-unavailable', { dir: this.cache.dir, error: toMssError(err) });
    }
  }

  async stop(): Promise<void> {
    this.splitter.closeAll();
    if (this.state === 'running') await this.cache.stop();
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return {
      ok: this.state === 'running',
      state: this.state,
      detail: {
        cache: { ...this.cache.stats(), error: this.cacheError || undefined },
        splitter: { ...this.splitter.stats(), upstreamList: this.splitter.status().slice(0, 50) },
        forward: this.config.forward.enabled,
      },
    };
  }

  telemetry(): Record<string, unknown> {
    const c = this.cache.stats();
    const s = this.splitter.stats();
    return {
      cache: { entries: c.entries, bytes: c.bytes, maxBytes: c.maxBytes, fills: c.fills, evictions: c.evictions, verifyFailures: c.verifyFailures },
      splitter: { upstreams: s.upstreams, subscribers: s.subscribers, bytesIn: s.bytesIn },
      upstream: { ...this.connector.counters },
    };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    const n = next.proxy;
    if (JSON.stringify(n) === JSON.stringify(previous.proxy)) return 'unchanged';
    this.config = n;
    this.connector.update({ credentials: n.credentials, timeoutMs: n.upstream.timeoutMs });
    this.cache.update(n.cache);
    return n.cache.dir !== previous.proxy.cache.dir || n.live.bufferMs !== previous.proxy.live.bufferMs || next.dataDir !== previous.dataDir ? 'pending-restart' : 'applied';
  }

  commands(): ModuleCommand[] {
    return [
      {
        name: 'proxy.prestuff',
        description: 'load on-demand content into the proxy cache ahead of its players: {url: origin URL or /point/path of a proxied point, wait?: boolean}',
        run: async (args) => {
          const unknown = Object.keys(args).filter((k) => k !== 'url' && k !== 'wait');
          if (unknown.length > 0) throw new MssError('invalid-argument', `unknown argument(s) ${unknown.join(', ')}; expected url, wait`);
          if (typeof args.url !== 'string' || args.url === '' || args.url.length > MAX_URL) throw new MssError('invalid-argument', 'args.url must be a URL or a request path');
          if (args.wait !== undefined && typeof args.wait !== 'boolean') throw new MssError('invalid-argument', 'args.wait must be true or false');
          return this.prestuff(args.url, args.wait === true);
        },
      },
      {
        name: 'proxy.cache',
        description: 'the entries of the proxy cache, most recently used first',
        run: async (args) => {
          if (Object.keys(args).length > 0) throw new MssError('invalid-argument', 'proxy.cache takes no arguments');
          return this.cacheListing();
        },
      },
    ];
  }

  /**
   * Prestuffs a URL: an origin URL some proxied point (or the forward proxy) may fetch, or a request path of a
   * proxied point (`/rp/a.wmv`). Other URLs are refused: the box fetches only from its configured origins.
   */
  async prestuff(input: string, wait: boolean): Promise<Record<string, unknown>> {
    return this.origins.prestuff(this.originUrlFor(input), wait);
  }

  private originUrlFor(input: string): string {
    const media = this.ctx.modules.get('media') as unknown as Partial<OriginPathMapper> | undefined;
    if (input.startsWith('/')) {
      if (!media?.originUrlOf) throw new MssError('unavailable', 'no media server to map the path');
      return media.originUrlOf(input);
    }
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new MssError('invalid-argument', `not a URL or a request path: ${JSON.stringify(input.slice(0, 200))}`);
    }
    if (url.username || url.password) throw new MssError('invalid-argument', 'URLs carry no user-info (accounts for origins are in proxy.credentials)');
    const text = url.href;
    for (const p of this.ctx.config.server.publishingPoints) {
      if (p.type !== 'ondemand' || !p.origin) continue;
      const base = p.origin.replace(/\/+$/, '');
      // mapped as that point maps its request paths, so players later find the entry under the same URL
      if ((text === base || text.startsWith(base + '/')) && media?.originUrlOf) return media.originUrlOf(`/${p.name}${text.slice(base.length)}`);
    }
    // an http:// URL the forward proxy may fetch (throws 'forbidden' otherwise)
    return this.origins.forwardUrl(input);
  }

  private cacheListing(): Record<string, unknown> {
    return {
      ...this.cache.stats(),
      entries: this.cache.list().map((r) => ({
        url: r.url,
        file: r.file,
        state: r.state,
        bytes: r.size,
        packets: this.cache.activeFill(r.url)?.packetsWritten ?? r.packets,
        of: r.packetCount,
        fileId: r.fileId,
        createdAt: new Date(r.createdAt).toISOString(),
        lastAccess: new Date(r.lastAccess).toISOString(),
        hits: r.hits,
        filling: this.cache.activeFill(r.url) !== undefined,
      })),
    };
  }

  private prestuffRoute(): HttpRoute {
    return {
      name: 'proxy.prestuff',
      priority: 100,
      match: (req) => (req.url ?? '').split('?')[0] === '/api/proxy/prestuff',
      handle: async (req, res, ctx) => {
        if (req.method !== 'POST') throw new MssError('unsupported', `/api/proxy/prestuff answers POST, not ${req.method}`, { status: 405 });
        // it makes the box download: an operator request (the API guard in front), or the proxy.prestuff command
        const body = await ctx.readBody(8192);
        let doc: unknown;
        try {
          doc = JSON.parse(body.toString('utf8'));
        } catch {
          throw new MssError('malformed', 'the body must be JSON: {"url": "...", "wait": false}');
        }
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MssError('malformed', 'the body must be a JSON object');
        const [command] = this.commands();
        const result = await command!.run(doc as Record<string, unknown>);
        const out = JSON.stringify(result);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out), 'Cache-Control': 'no-cache' });
        res.end(out);
      },
    };
  }

  private cacheRoute(): HttpRoute {
    return {
      name: 'proxy.cache',
      priority: 100,
      match: (req) => (req.url ?? '').split('?')[0] === '/api/proxy/cache',
      handle: async (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new MssError('unsupported', `/api/proxy/cache answers GET, not ${req.method}`, { status: 405 });
        await this.cache.ready;
        const out = JSON.stringify(this.cacheListing());
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : out);
      },
    };
  }
}
