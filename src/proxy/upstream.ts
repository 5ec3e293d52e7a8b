/**
 * How the proxy reaches its origins: the player's protocol registry picks the client by URL scheme (mmsh://,
 * http://, rtsp:// and mms:// rollover once those clients register), with the box's account for that origin
 * (proxy.credentials, matched by host:port) and its timeouts. Passwords never leave this file except inside the
 * client's Authorization header; URLs carry none (the config refuses user-info).
 */
import { MssError } from '../core/errors.js';
import { openWithRollover, type PlayCredentials, type PlayOpenOptions, type PlaySession, type ProtocolRegistry } from '../player/protocol-client.js';
import type { OriginCredentials } from '../config/index.js';

/** WMS cache/proxy servers call themselves this; origins treat it as a v9 player */
export const PROXY_USER_AGENT = 'WMCacheProxy/9.0.0.0 mss-proxy/0.1';

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'mmsh:': 80, 'mms:': 1755, 'mmst:': 1755, 'mmsu:': 1755, 'rtsp:': 554, 'rtspt:': 554, 'rtspu:': 554, 'msbd:': 7007 };

/** `host:port` of a URL (the scheme's default port when none is given), lower case; brackets kept for IPv6 */
export function hostPortOf(url: URL): string {
  const port = url.port || String(DEFAULT_PORTS[url.protocol] ?? '');
  return `${url.hostname.toLowerCase()}:${port}`;
}

/**
 * One spelling per upstream resource, so a pull point, a reverse-proxied point and the forward proxy naming the
 * same content share its upstream and its cache entry: mmsh:// is WMSP over HTTP and becomes http://, and the
 * port is always explicit. Other schemes (mms:// rolls over between protocols) are kept as they are.
 */
export function canonicalUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return input;
  }
  if (url.protocol !== 'mmsh:' && url.protocol !== 'http:') return url.href;
  const port = url.port || '80';
  return `http://${url.hostname.toLowerCase()}:${port}${url.pathname || '/'}${url.search}`;
}

export interface UpstreamSettings {
  credentials: readonly OriginCredentials[];
  timeoutMs: number;
}

export class UpstreamConnector {
  /** upstream sessions opened, by outcome (telemetry) */
  readonly counters = { opened: 0, failed: 0 };

  constructor(
    private readonly registry: ProtocolRegistry,
    private settings: UpstreamSettings,
  ) {}

  /** new settings (credentials, timeouts) apply to the sessions opened from now on */
  update(settings: UpstreamSettings): void {
    this.settings = settings;
  }

  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }

  /** the account for an upstream: the URL's own user-info, else proxy.credentials for its host:port */
  credentialsFor(url: URL): PlayCredentials | undefined {
    if (url.username) return { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    const key = hostPortOf(url);
    const c = this.settings.credentials.find((x) => x.origin.toLowerCase() === key);
    return c ? { user: c.user, password: c.password } : undefined;
  }

  /** whether some protocol client of this build plays the URL's scheme */
  supports(url: string): boolean {
    try {
      this.registry.candidates(new URL(url));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Opens a play of `url` with the protocol its scheme names; resolves once the origin described the content
   * (the session then plays, unless describeOnly). Errors are MssErrors naming the URL.
   */
  async open(url: string, opts: PlayOpenOptions = {}): Promise<PlaySession> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new MssError('invalid-argument', `not a URL: ${JSON.stringify(url.slice(0, 200))}`);
    }
    const credentials = this.credentialsFor(parsed);
    // the account travels as credentials, never in the URL the clients log and report
    parsed.username = '';
    parsed.password = '';
    try {
      const session = await openWithRollover(this.registry, parsed, {
        userAgent: PROXY_USER_AGENT,
        timeoutMs: this.settings.timeoutMs,
        credentials,
        ...opts,
      });
      this.counters.opened++;
      return session;
    } catch (err) {
      this.counters.failed++;
      throw err;
    }
  }
}
