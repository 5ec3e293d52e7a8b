/**
 * How the WMSP server reads a request: who the client is, which streams and start position it asks for, what the
 * Pragma and Cache-Control answers say about a target. Pure functions of the request and the target's description.
 */
import type { ContentDescription, MediaTarget, PlayOptions } from '../../contracts/media.js';
import { parseAcceleration, parseStreamOffset, parseStreamSwitchEntries, pragmaUint, type ClassifiedRequest, type PragmaTokens } from './codec.js';

/** the "not set" value of 32-bit Pragma numbers */
export const NOT_SET = 0xffffffff;

/** Client major version from `NSPlayer/9.0.0.2980`-style user agents (0 when not a WMP-family client). */
export function clientVersion(userAgent: string): number {
  const m = /(?:NSPlayer|NSServer|WMCacheProxy)\/(\d+)/i.exec(userAgent);
  return m ? Number(m[1]) : 0;
}

/** Players and servers we stream to; anything else looking like a browser gets the announcement instead. */
export function isMediaClient(userAgent: string): boolean {
  return /NSPlayer|NSServer|WMCacheProxy|VLC|Lavf|libmms|mplayer|Windows-Media-Player|mss\//i.test(userAgent) || userAgent === '';
}

/** features="..." of a target (not "stridable": rate != 1 is not implemented, so it is not advertised) */
export function featuresOf(target: Pick<MediaTarget, 'kind' | 'live'>): string[] {
  if (target.kind === 'broadcast') return target.live ? ['broadcast', 'live'] : ['broadcast'];
  return ['seekable'];
}

export function cacheControlOf(target: Pick<MediaTarget, 'kind'>, info?: ContentDescription): string {
  if (target.kind === 'broadcast') return 'no-cache, x-wms-proxy-split, x-wms-stream-type="broadcast"';
  return info ? `no-cache, x-wms-content-size=${info.fileSize}` : 'no-cache';
}

/** the Pragma line of every response: the session's client-id, features when known, the keep-alive timeout */
export function pragmaLine(clientId: number, timeoutMs: number, reset: boolean, features: readonly string[] | null): string {
  const parts = ['no-cache', `client-id=${clientId}`];
  if (features) parts.push(`features="${features.join(',')}"`);
  parts.push(`timeout=${timeoutMs}`);
  if (reset) parts.push('xResetStrm=1');
  return parts.join(', ');
}

/** Streams a stream-switch-entry asks for (thinning level 2 = off); undefined when it does not select. */
export function requestedStreams(pragmas: PragmaTokens, info: ContentDescription): Set<number> | undefined {
  const raw = pragmas.get('stream-switch-entry');
  const count = pragmaUint(pragmas, 'stream-switch-count');
  if (raw === undefined || count === 0) return undefined;
  const known = new Set(info.streams.map((s) => s.number));
  const chosen = new Set<number>();
  for (const e of parseStreamSwitchEntries(raw)) {
    if (e.thinning === 2) continue;
    // the spec says hexadecimal (VLC); ffmpeg prints decimal: prefer what exists in the header
    const n = known.has(e.stream) ? e.stream : known.has(e.streamDecimal) ? e.streamDecimal : -1;
    if (n >= 0) chosen.add(n);
  }
  return chosen;
}

/** the player's link bandwidth (LinkBW), 0 when not given */
export function linkBandwidth(pragmas: PragmaTokens): number {
  return pragmaUint(pragmas, 'LinkBW') ?? 0;
}

/** start position of an on-demand Play (§3.2.5.6 precedence) */
export function startPosition(c: ClassifiedRequest, info: ContentDescription, target: Pick<MediaTarget, 'kind'>): { startTimeMs?: number; startPacket?: number } {
  if (target.kind !== 'ondemand') return {};
  const time = pragmaUint(c.pragmas, 'stream-time');
  if (time !== undefined && time !== 0 && time !== NOT_SET) return { startTimeMs: time };
  const pkt = pragmaUint(c.pragmas, 'packet-num');
  if (pkt !== undefined && pkt !== NOT_SET) return { startPacket: Math.min(pkt, info.packetCount) };
  const offset = parseStreamOffset(c.pragmas);
  if (offset !== undefined && offset > 0) {
    const firstPacket = info.headerBytes.length; // the header + 50-byte Data Object head precede packet 0
    const size = info.packetSize;
    // the spec's offset is file-absolute; VLC sends packetIndex × packetSize (data-relative)
    const dataRelative = offset < firstPacket || ((offset - firstPacket) % size !== 0 && offset % size === 0);
    const index = Math.floor((dataRelative ? offset : offset - firstPacket) / size);
    return { startPacket: Math.min(index, info.packetCount) };
  }
  return {};
}

/** what a Play asks of the core: position, streams (a new selection, else the session's), duration, fast start */
export function playOptions(c: ClassifiedRequest, info: ContentDescription, target: Pick<MediaTarget, 'kind' | 'chooseStreams'>, selection: ReadonlySet<number> | undefined): PlayOptions {
  const requested = requestedStreams(c.pragmas, info);
  const streams = requested ? target.chooseStreams(info, requested, linkBandwidth(c.pragmas)) : selection;
  const maxDuration = pragmaUint(c.pragmas, 'max-duration');
  return { ...startPosition(c, info, target), streams, maxDurationMs: maxDuration && maxDuration !== NOT_SET ? maxDuration : undefined, accel: parseAcceleration(c.pragmas) };
}

/** a Pragma number that may be garbage (a log's client-id): undefined instead of an error */
export function safeUint(tokens: PragmaTokens, name: string): number | undefined {
  try {
    return pragmaUint(tokens, name);
  } catch {
    return undefined;
  }
}
