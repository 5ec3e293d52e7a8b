/**
 * One client interface per streaming protocol, and the rollover between them. Every protocol delivers the
 * same thing (an ASF header, then fixed-size ASF data packets), so the player, its sinks and its log report
 * do not know which protocol is in use. WMSP (mmsh://, http://) and MMS (mmsu://, mmst://) are registered; RTSP
 * registers here when it lands, and `mms://` rolls over between them in ROLLOVER_ORDER.
 */
import type { EventEmitter } from 'node:events';
import { MssError, toMssError } from '../core/errors.js';
import type { AsfHeader } from '../asf/header.js';

export interface PlayCredentials {
  user: string;
  password: string;
}

export interface PlayOpenOptions {
  /** start position in ms (on-demand) */
  startMs?: number;
  /** resume at this ASF packet number after a reconnect (on-demand) */
  packetNumber?: number;
  streams?: readonly number[];
  maxBitrate?: number;
  credentials?: PlayCredentials;
  userAgent?: string;
  /** the player's GUID (the same on every connection of one play) */
  clientGuid?: string;
  timeoutMs?: number;
  /**
   * only learn what the URL is: the session emits `describe` and then `end` without playing (a proxy's freshness
   * check). A client that cannot stop there plays; the caller closes it.
   */
  describeOnly?: boolean;
  /** ask for the media faster than real time: `bandwidth` bits/s for the first `durationMs` (a cache filling) */
  accel?: { bandwidth: number; durationMs: number };
}

export interface PlaySessionInfo {
  /** the URL the protocol actually used (after redirects) */
  url: URL;
  broadcast: boolean;
  seekable: boolean;
  header: AsfHeader;
  headerBytes: Buffer;
  selectedStreams: number[];
  /** the server's session id, if the protocol has one */
  sessionId?: string;
  /** what the server lets a proxy do with the content (WMSP and RTSP Cache-Control: x-wms-proxy-split, no-store...) */
  cacheControl?: string;
}

export interface PlaySessionStats {
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  lastLocationId: number | undefined;
  /** packets rebuilt from error correction (multicast parity) */
  packetsRecovered?: number;
}

export interface PlaySessionEvents {
  describe: [info: PlaySessionInfo];
  header: [headerBytes: Buffer, header: AsfHeader];
  packet: [packet: Buffer, info: { locationId: number }];
  'stream-change': [];
  end: [reason: number];
  error: [err: MssError];
}

/** A play in progress over one protocol. */
export interface PlaySession extends EventEmitter<PlaySessionEvents> {
  readonly protocol: string;
  /** how the data arrives (default TCP) */
  readonly transport?: 'TCP' | 'UDP';
  readonly stats: PlaySessionStats;
  readonly info: PlaySessionInfo | undefined;
  pause(): void;
  resume(): void;
  close(): void;
  /** sends an MS-WMLOG XML log to the server over this protocol (WMSP Log POST, RTSP SET_PARAMETER); absent when
   * the protocol has no way back to the server (multicast: the log goes to the .nsc Log URL only) */
  sendLog?(xml: string): Promise<number>;
}

export interface ProtocolClient {
  /** wmsp, rtsp, mmsu, mmst: names ROLLOVER_ORDER knows */
  readonly name: string;
  /** URL schemes this client plays directly (with the colon: 'mmsh:') */
  readonly schemes: readonly string[];
  /** the URL this protocol would use for an mms:// URL (WMP's protocol rollover) */
  rolloverUrl(url: URL): URL;
  open(url: URL, opts: PlayOpenOptions): PlaySession;
}

/**
 * The rollover order for mms:// URLs, as Windows Media Player 9 and later try them: RTSP first (what Windows Media
 * Services 2003 and 2008 answer), then MMS with UDP data and over TCP (the older servers' protocol), then HTTP
 * (WMSP), of the clients registered. Windows Media Player 6.4 to 8 tried MMSU and MMST before anything else:
 * `mss play --rollover mmsu,mmst,rtsp,wmsp` plays that order.
 */
export const ROLLOVER_ORDER: readonly string[] = ['rtsp', 'mmsu', 'mmst', 'wmsp'];

function rank(order: readonly string[], name: string): number {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}

export class ProtocolRegistry {
  private readonly clients: ProtocolClient[] = [];

  /** `order`: client names in the order mms:// tries them (unlisted clients come last) */
  constructor(private readonly order: readonly string[] = ROLLOVER_ORDER) {}

  register(client: ProtocolClient): this {
    if (this.clients.some((c) => c.name === client.name)) throw new MssError('conflict', `protocol client ${client.name} is already registered`);
    this.clients.push(client);
    return this;
  }

  get names(): string[] {
    return this.clients.map((c) => c.name);
  }

  /** The clients to try for a URL, in order, each with the URL it should use. */
  candidates(url: URL): Array<{ client: ProtocolClient; url: URL }> {
    if (url.protocol === 'mms:') {
      return [...this.clients]
        .sort((a, b) => rank(this.order, a.name) - rank(this.order, b.name))
        .map((client) => ({ client, url: client.rolloverUrl(url) }));
    }
    const direct = this.clients.filter((c) => c.schemes.includes(url.protocol));
    if (direct.length === 0) {
      const known = [...new Set(['mms:', ...this.clients.flatMap((c) => c.schemes)])].join(', ');
      throw new MssError('unsupported', `no protocol client plays ${url.protocol}// URLs (this build plays ${known})`);
    }
    return direct.map((client) => ({ client, url }));
  }
}

/**
 * Opens the URL with the first candidate protocol that gets as far as an ASF header. A candidate that fails
 * before that (refused, not found, not that protocol) hands over to the next; the final error names every
 * protocol tried and why it failed. Errors after the header are the caller's (reconnect) business.
 */
export function openWithRollover(registry: ProtocolRegistry, url: URL, opts: PlayOpenOptions): Promise<PlaySession> {
  const candidates = registry.candidates(url);
  const tried: string[] = [];
  return new Promise((resolve, reject) => {
    const attempt = (i: number) => {
      if (i >= candidates.length) {
        reject(new MssError('unavailable', `cannot play ${redact(url)}: tried ${tried.join('; ')}`, { tried }));
        return;
      }
      const { client, url: target } = candidates[i]!;
      let session: PlaySession;
      try {
        session = client.open(target, opts);
      } catch (err) {
        tried.push(`${client.name} ${redact(target)} (${toMssError(err).message})`);
        attempt(i + 1);
        return;
      }
      const onDescribe = () => {
        session.off('error', onError);
        resolve(session);
      };
      const onError = (err: MssError) => {
        session.off('describe', onDescribe);
        session.close();
        tried.push(`${client.name} ${redact(target)} (${err.message})`);
        // a refusal that another protocol would get too is final: credentials, a bad stream choice
        if (err.code === 'unauthorized' || err.code === 'forbidden' || err.code === 'invalid-argument' || (candidates.length === 1 && url.protocol !== 'mms:')) {
          reject(candidates.length === 1 && url.protocol !== 'mms:' ? err : new MssError(err.code, `cannot play ${redact(url)}: tried ${tried.join('; ')}`, { tried }));
          return;
        }
        attempt(i + 1);
      };
      session.once('describe', onDescribe);
      session.once('error', onError);
    };
    attempt(0);
  });
}

/** URL text without a password, for messages and logs */
export function redact(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}
