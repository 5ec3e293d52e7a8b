/**
 * What the media core needs from the proxy to serve content that lives on another server (reverse-proxied
 * points, the forward proxy), declared here so media imports no proxy or protocol code: the proxy satisfies it
 * structurally (src/proxy/origin-access.ts) and the media server module hands it to the core.
 *
 * An origin URL is either on-demand content, reached through an opener that gives the same file handle a local
 * file has (so a cached entry is played by the same on-demand code: seek, selection, pacing), or a broadcast,
 * which the core plays as a pull through the one shared upstream of that URL.
 */
import type { AsfFileHandle } from '../asf/index.js';

/** A file handle that may seek better than the index or a send-time search (a pass-through seeks at the origin). */
export interface MediaFileHandle extends AsfFileHandle {
  /** the packet to start from for a media time */
  seekByTime?(mediaTimeMs: number): Promise<number>;
}

/** Where a play starts: the opener may choose a different source for a far seek. */
export interface OpenPosition {
  startTimeMs?: number;
  startPacket?: number;
}

/** Opens the file of an on-demand target (a local path, a cache entry). */
export type FileOpener = (at?: OpenPosition) => Promise<MediaFileHandle>;

export type OriginContent = { kind: 'broadcast' } | { kind: 'ondemand'; open: FileOpener };

export interface OriginAccess {
  /**
   * What an origin URL serves. Throws MssError: 'not-found' (the origin has no such content), 'unavailable'
   * (the origin cannot be reached and nothing usable is cached), 'forbidden' for a URL the proxy may not fetch.
   * `point` names the publishing point asking (for its stats).
   */
  lookup(url: string, point: string): Promise<OriginContent>;
  /** the origin URL an absolute request URI of a forward-proxy player names; throws MssError('forbidden') */
  forwardUrl(requestUri: string): string;
  /** the proxy's view of one point: cache hits and misses, bytes from the origin (status API) */
  pointStatus(point: string): Record<string, unknown>;
  /** end of stream for players of a reverse-proxied live URL after its upstream is lost this long (0: never) */
  readonly liveEndAfterMs: number;
}
