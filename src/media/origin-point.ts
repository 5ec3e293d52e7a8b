/**
 * The origin side of a reverse-proxied point (and of the forward proxy): a request path maps to a URL on the
 * origin, and the proxy (OriginAccess) says what that URL is. On-demand content comes back as an opener the
 * point plays like a local file; a broadcast is played through a live child: a demand-started pull point of the
 * same name whose pull goes through the proxy's splitter, so however many players (and pull points) want that
 * URL, the origin sees one connection.
 *
 * A live child that is broadcasting answers later requests without asking the origin again.
 */
import { validate } from '../config/schema.js';
import { multicastSchema, type MulticastOutputConfig } from '../config/sections/multicast.js';
import type { BroadcastPointConfig, PublishingPointConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { FileOpener, OriginAccess } from './origin.js';
import { safeSegments } from './paths.js';

/** What the router needs of a live child (a PublishingPoint of type broadcast with a pull source). */
export interface LiveChild {
  readonly broadcasting: boolean;
  readonly playerCount: number;
  /** the child stopped and nobody plays: it can be forgotten */
  readonly idle: boolean;
  sweep(now: number): void;
  stop(): Promise<void>;
}

export type OriginRoute<C extends LiveChild> = { kind: 'broadcast'; url: string; child: C } | { kind: 'ondemand'; url: string; open: FileOpener };

export interface OriginRouterOptions<C extends LiveChild> {
  point: string;
  /** base URL of the origin ('' for the forward proxy, whose requests carry whole URLs) */
  origin: string;
  /** the proxy (undefined: this server runs none) */
  origins(): OriginAccess | undefined;
  createLive(url: string): C;
  /** a child is let go (its counters should outlive it) */
  onForget?(child: C): void;
  log: Logger;
}

/** live URLs one point splits at once (each is one upstream and one fan-out) */
const MAX_LIVE_URLS = 64;

export class OriginRouter<C extends LiveChild> {
  private readonly live = new Map<string, C>();

  constructor(private readonly o: OriginRouterOptions<C>) {}

  /** the origin URL of the rest of a request path (`a/b.wmv` → `<origin>/a/b.wmv`), traversal refused */
  urlFor(rawRest: string): string {
    const segments = safeSegments(rawRest);
    const base = this.o.origin.replace(/\/+$/, '');
    return segments.length === 0 ? base : `${base}/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
  }

  async route(url: string): Promise<OriginRoute<C>> {
    const known = this.live.get(url);
    if (known?.broadcasting) return { kind: 'broadcast', url, child: known };
    const origins = this.o.origins();
    if (!origins) throw new MssError('unavailable', `publishing point ${this.o.point} proxies an origin, but this server runs no proxy`);
    const content = await origins.lookup(url, this.o.point);
    if (content.kind === 'ondemand') {
      // the URL was live and is on-demand now: its idle child goes
      if (known && known.playerCount === 0) this.forget(url, known);
      return { kind: 'ondemand', url, open: content.open };
    }
    let child = this.live.get(url);
    if (!child) {
      if (this.live.size >= MAX_LIVE_URLS) {
        this.sweep(Date.now());
        if (this.live.size >= MAX_LIVE_URLS) throw new MssError('limit-reached', `publishing point ${this.o.point} already splits ${MAX_LIVE_URLS} live URLs`);
      }
      child = this.o.createLive(url);
      this.live.set(url, child);
      this.o.log.info('proxy.live-url', { url });
    }
    return { kind: 'broadcast', url, child };
  }

  children(): C[] {
    return [...this.live.values()];
  }

  liveUrls(): Array<[string, C]> {
    return [...this.live.entries()];
  }

  sweep(now: number): void {
    for (const [url, child] of this.live) {
      child.sweep(now);
      if (child.idle) this.forget(url, child);
    }
  }

  async stop(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((c) => c.stop()));
  }

  private forget(url: string, child: C): void {
    this.live.delete(url);
    this.o.onForget?.(child);
    void child.stop();
  }
}

/** the settings of a live child: the origin point's name, accounts and limits, pulling `url` on demand */
export function liveChildConfig(parent: PublishingPointConfig, url: string, endAfterMs: number): BroadcastPointConfig {
  return {
    name: parent.name,
    type: 'broadcast',
    auth: parent.auth,
    access: parent.access,
    maxPlayers: parent.maxPlayers,
    maxPlayerBandwidth: parent.maxPlayerBandwidth,
    source: { type: 'pull', url, endAfterMs },
    start: 'demand',
    archive: '',
    // a proxied live URL has no multicast output of its own
    multicast: validate(multicastSchema, {}).value as MulticastOutputConfig,
  };
}
