/**
 * The proxy as the media core sees it (OriginAccess): what an origin URL serves, and the opener of its
 * on-demand content. A lookup serves a cached entry when the origin still describes the same content (a hash of
 * the header it sends, with its file id and creation date), or when the origin cannot be reached; it starts a
 * fill on a miss (players read the fill as it grows) and passes the content through uncached when it cannot be
 * stored. A live URL is played through the splitter by the core's pull points.
 *
 * Concurrent lookups of one URL share one origin check; a complete entry checked less than revalidateMs ago is
 * served without asking the origin again.
 */
import { DATA_OBJECT_HEAD_SIZE, parseHeaderObject, serializeDataObjectHead } from '../asf/index.js';
import type { ProxyConfig } from '../config/index.js';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { FileOpener, OpenPosition, OriginAccess, OriginContent } from '../media/origin.js';
import type { PlaySessionInfo } from '../player/protocol-client.js';
import { sha256Hex, type CacheFill, type OriginDescription } from './cache-fill.js';
import type { OnDemandCache } from './cache.js';
import { forwardOriginUrl, normalizeAllowList } from './forward.js';
import { RelayFile } from './origin-file.js';
import { canonicalUrl, type UpstreamConnector } from './upstream.js';

/** a packet count beyond this (times the packet size: about a terabyte) is not a real file */
const MAX_CONTENT_BYTES = 2 ** 40;
/** a seek further than this past what a fill has on disk is passed through instead of waiting for the fill */
const FAR_SEEK_MS = 10_000;
const DOWN_MEMO_MS = 2000;
/**
 * origin checks in flight at once, all URLs together: protocols resolve a target before they check a player's
 * credentials, so requests for many different paths could otherwise make the box flood its origins
 */
const MAX_CHECKS = 32;
/** a URL whose fill was abandoned (the origin's stream is not an exact copy of its file) is passed through this long */
const UNCACHEABLE_MS = 10 * 60_000;

/** per point, counted per play (a Describe alone counts nothing) */
export interface PointProxyStats {
  /** plays of a cached copy the origin confirmed (or confirmed less than revalidateMs ago) */
  hits: number;
  /** plays of content being fetched into the cache */
  misses: number;
  /** plays of a cached copy because the origin could not be reached */
  staleHits: number;
  /** plays passed through from the origin, not stored */
  passThrough: number;
  /** times the origin was asked what a URL is */
  originChecks: number;
  /** requests refused because of the origin (not there, unreachable with nothing cached, refusing the proxy) */
  errors: number;
  /** bytes this point's fills and pass-throughs received from origins (split live streams: see live[].upstream) */
  bytesFromOrigin: number;
}

/** whom prestuffing counts as in the per-point stats */
export const PRESTUFF_POINT = '(prestuff)';

type Outcome = 'hit' | 'stale-hit' | 'miss' | 'pass-through' | 'live';

/** what the origin's description says about on-demand content; throws MssError for one that cannot be played */
export function describeOrigin(info: Pick<PlaySessionInfo, 'header' | 'headerBytes'>): OriginDescription {
  const header = info.header;
  let headerBytes = info.headerBytes;
  if (headerBytes.length < header.raw.length + DATA_OBJECT_HEAD_SIZE) {
    // an origin that sent the Header Object alone: the Data Object head is rebuilt from File Properties
    headerBytes = Buffer.concat([header.raw, serializeDataObjectHead({ fileId: header.fileProperties.fileId, size: 0n, totalPackets: header.fileProperties.dataPacketsCount, reserved: 0x0101 })]);
  } else {
    headerBytes = Buffer.from(headerBytes.subarray(0, header.raw.length + DATA_OBJECT_HEAD_SIZE));
  }
  const ps = header.fileProperties.packetSize;
  const count = header.fileProperties.dataPacketsCount;
  if (ps < 1) throw new MssError('malformed', 'the origin describes content with no packet size');
  if (count < 1n) throw new MssError('unsupported', 'the origin describes on-demand content without a packet count');
  if (count * BigInt(ps) > BigInt(MAX_CONTENT_BYTES)) throw new MssError('too-large', `the origin describes ${count} packets of ${ps} bytes`);
  return { headerBytes, header: parseHeaderObject(headerBytes), headerSha256: sha256Hex(headerBytes), packetCount: Number(count) };
}

/** URLs remembered per memo (the forward proxy may see many): the oldest are forgotten first */
const MAX_REMEMBERED = 10_000;

function remember(map: Map<string, number>, key: string, value: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value!);
}

type Probe = { ok: true; live: boolean; origin?: OriginDescription; storable: boolean } | { ok: false; error: MssError };

/** Cache-Control directives by which an origin forbids a proxy to keep its content (MS-WMSP 2.2.1.1) */
export function storable(cacheControl: string | undefined): boolean {
  return !/(^|[\s,])(no-store|private)([\s,=]|$)/i.test(cacheControl ?? '');
}

export interface ProxyOriginsOptions {
  config(): ProxyConfig;
  cache: OnDemandCache;
  connector: UpstreamConnector;
  log: Logger;
}

export class ProxyOrigins implements OriginAccess {
  private readonly inflight = new Map<string, Promise<{ content: OriginContent; outcome: Outcome }>>();
  /** when a URL's complete entry was last confirmed by its origin */
  private readonly checkedAt = new Map<string, number>();
  private readonly uncacheableUntil = new Map<string, number>();
  /** an origin that just failed a check is not asked again for a moment (a Play follows every Describe) */
  private readonly downUntil = new Map<string, number>();
  private readonly perPoint = new Map<string, PointProxyStats>();
  private allow: { entries: readonly string[]; set: Set<string> } = { entries: [], set: new Set() };
  private checking = 0;

  constructor(private readonly o: ProxyOriginsOptions) {}

  get liveEndAfterMs(): number {
    return this.o.config().live.endAfterMs;
  }

  forwardUrl(requestUri: string): string {
    const fwd = this.o.config().forward;
    if (!fwd.enabled) throw new MssError('forbidden', 'this server is not a forward proxy');
    if (this.allow.entries !== fwd.allow) this.allow = { entries: fwd.allow, set: normalizeAllowList(fwd.allow) };
    return forwardOriginUrl(requestUri, this.allow.set);
  }

  async lookup(rawUrl: string, point: string): Promise<OriginContent> {
    const url = canonicalUrl(rawUrl);
    const stats = this.statsOf(point);
    let p = this.inflight.get(url);
    if (!p) {
      p = this.resolve(url, point).finally(() => this.inflight.delete(url));
      this.inflight.set(url, p);
    }
    try {
      const { content, outcome } = await p;
      if (content.kind === 'broadcast') return content;
      // counted when a play opens the content (a describe opens it with no position)
      const inner = content.open;
      const count = () => {
        if (outcome === 'hit') stats.hits++;
        else if (outcome === 'stale-hit') stats.staleHits++;
        else if (outcome === 'miss') stats.misses++;
        else stats.passThrough++;
      };
      return { kind: 'ondemand', open: (at) => (at ? (count(), inner(at)) : inner(at)) };
    } catch (err) {
      stats.errors++;
      throw err;
    }
  }

  /**
   * Loads an origin URL into the cache ahead of its players. Resolves once the fill began (or at once when the
   * entry is cached and fresh); with `wait`, once the fill ended.
   */
  async prestuff(rawUrl: string, wait = false): Promise<Record<string, unknown>> {
    const url = canonicalUrl(rawUrl);
    const { cache } = this.o;
    const before = cache.record(url);
    const content = await this.lookup(url, PRESTUFF_POINT);
    if (content.kind === 'broadcast') throw new MssError('invalid-argument', `${url} is a live broadcast at the origin: there is nothing to store`);
    const fill = cache.activeFill(url);
    if (!fill) {
      const rec = cache.record(url);
      if (rec?.state === 'complete') return { url, state: before === rec ? 'cached' : 'complete', bytes: rec.size, packets: rec.packets };
      throw new MssError('limit-reached', `${url} cannot be stored now (cache disabled, full of entries in use, too many fills, or larger than proxy.cache.maxBytes)`);
    }
    if (!wait) return { url, state: 'filling', packets: fill.packetsWritten, of: fill.packetCount };
    const outcome = await fill.outcome;
    if (outcome.kind === 'complete') return { url, state: 'complete', bytes: outcome.size, packets: fill.packetCount };
    throw new MssError('unavailable', `prestuffing ${url} stopped: ${outcome.reason}`, { packets: outcome.kind === 'partial' ? outcome.packets : 0 });
  }

  pointStatus(point: string): Record<string, unknown> {
    return { ...this.statsOf(point) };
  }

  private statsOf(point: string): PointProxyStats {
    let s = this.perPoint.get(point);
    if (!s) {
      s = { hits: 0, misses: 0, staleHits: 0, passThrough: 0, originChecks: 0, errors: 0, bytesFromOrigin: 0 };
      this.perPoint.set(point, s);
    }
    return s;
  }

  private async resolve(url: string, point: string): Promise<{ content: OriginContent; outcome: Outcome }> {
    const { cache } = this.o;
    await cache.ready;
    const cfg = this.o.config();
    const onBytes = (n: number) => (this.statsOf(point).bytesFromOrigin += n);
    const fill = cache.activeFill(url);
    if (fill) return { content: this.growing(url, fill, onBytes), outcome: 'miss' };
    let rec = cache.record(url);
    const now = Date.now();
    const originDown = (this.downUntil.get(url) ?? 0) > now;
    if (rec?.state === 'complete' && (now - (this.checkedAt.get(url) ?? 0) < cfg.cache.revalidateMs || originDown)) {
      const open = await cache.openerFor(rec);
      if (open) return { content: { kind: 'ondemand', open }, outcome: originDown ? 'stale-hit' : 'hit' };
      rec = undefined;
    }
    this.statsOf(point).originChecks++;
    const probe = await this.probe(url, cfg.upstream.checkTimeoutMs);
    if (!probe.ok && probe.error.code !== 'not-found' && probe.error.code !== 'limit-reached') remember(this.downUntil, url, Date.now() + DOWN_MEMO_MS);
    else this.downUntil.delete(url);
    if (!probe.ok) {
      const e = probe.error;
      if (e.code === 'not-found') {
        // the origin has it no more: neither do we
        if (rec) await cache.drop(url, 'gone from the origin');
        throw e;
      }
      if (e.code === 'unauthorized' || e.code === 'forbidden') {
        throw new MssError('unavailable', `the origin refused this proxy (${e.message}); check proxy.credentials`, { origin: url });
      }
      // unreachable, stalled, busy or talking garbage: a whole cached copy is better than nothing
      if (rec?.state === 'complete') {
        const open = await cache.openerFor(rec);
        if (open) {
          this.o.log.info('cache.served-stale', { url, reason: e.message });
          return { content: { kind: 'ondemand', open }, outcome: 'stale-hit' };
        }
      }
      if (e.code === 'limit-reached') throw e;
      throw new MssError(e.code === 'timeout' ? 'timeout' : 'unavailable', `origin ${url}: ${e.message}`, { origin: url, ...(e.code === 'timeout' ? { status: 504 } : { status: 502 }) });
    }
    if (probe.live) {
      if (rec) await cache.drop(url, 'the URL is live at the origin now');
      return { content: { kind: 'broadcast' }, outcome: 'live' };
    }
    const origin = probe.origin!;
    if (rec && !probe.storable) {
      await cache.drop(url, 'the origin forbids keeping it (Cache-Control)');
      rec = undefined;
    }
    if (rec && rec.headerSha256 === origin.headerSha256 && rec.state === 'complete') {
      remember(this.checkedAt, url, Date.now());
      const open = await cache.openerFor(rec);
      if (open) return { content: { kind: 'ondemand', open }, outcome: 'hit' };
    } else if (rec && rec.headerSha256 !== origin.headerSha256) {
      await cache.drop(url, 'changed at the origin');
    }
    // the origin may forbid proxies to keep its content (no-store, private): passed through then
    const cacheable = cfg.cache.enabled && probe.storable && (this.uncacheableUntil.get(url) ?? 0) < Date.now();
    const started = cacheable ? await cache.beginFill(url, origin, { fillSpeed: cfg.cache.fillSpeed, onBytes, describe: describeOrigin }) : null;
    if (started) {
      void started.outcome.then((o) => {
        if (o.kind === 'discard' && /skipped packets|not an ASF data packet|describes different/.test(o.reason)) remember(this.uncacheableUntil, url, Date.now() + UNCACHEABLE_MS);
        if (o.kind === 'complete') remember(this.checkedAt, url, Date.now());
      });
      return { content: this.growing(url, started, onBytes), outcome: 'miss' };
    }
    return { content: { kind: 'ondemand', open: () => Promise.resolve(this.relay(url, origin, onBytes)) }, outcome: 'pass-through' };
  }

  /** players of a filling entry read it as it grows; one seeking far ahead of the fill is passed through */
  private growing(url: string, fill: CacheFill, onBytes: (n: number) => void): OriginContent {
    const desc = fill.origin;
    const open: FileOpener = async (at?: OpenPosition) => {
      const farTime = at?.startTimeMs !== undefined && at.startTimeMs > 0 && at.startTimeMs > fill.durableSendTime + FAR_SEEK_MS;
      const farPacket = at?.startPacket !== undefined && at.startPacket > fill.durable + 256;
      if (fill.state === 'filling' && (farTime || farPacket)) return this.relay(url, desc, onBytes);
      return this.o.cache.openGrowing(url, fill, desc);
    };
    return { kind: 'ondemand', open };
  }

  private relay(url: string, origin: OriginDescription, onBytes: (n: number) => void): RelayFile {
    return new RelayFile(origin, url, this.o.connector, onBytes, () => undefined);
  }

  /** asks the origin what the URL is (Describe only), within `timeoutMs` */
  private async probe(url: string, timeoutMs: number): Promise<Probe> {
    if (this.checking >= MAX_CHECKS) return { ok: false, error: new MssError('limit-reached', `${MAX_CHECKS} origin checks are already in progress`) };
    this.checking++;
    try {
      return await this.probeOnce(url, timeoutMs);
    } finally {
      this.checking--;
    }
  }

  private async probeOnce(url: string, timeoutMs: number): Promise<Probe> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MssError('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const opening = this.o.connector.open(url, { describeOnly: true, timeoutMs });
    try {
      const session = await Promise.race([opening, timeout]);
      const info = session.info!;
      session.close();
      const keep = storable(info.cacheControl);
      if (info.broadcast) return { ok: true, live: true, storable: keep };
      return { ok: true, live: false, origin: describeOrigin(info), storable: keep };
    } catch (err) {
      // a late answer to a probe that timed out is closed, not leaked
      void opening.then((s) => s.close(), () => undefined);
      return { ok: false, error: toMssError(err, 'unavailable') };
    } finally {
      clearTimeout(timer);
    }
  }
}
