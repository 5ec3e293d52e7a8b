/**
 * The proxy role: on-demand content from origin servers cached on the box's disk, live streams split (one
 * upstream, many players), players using the box as their HTTP proxy (forward proxy), and the accounts the box
 * uses at its origins. Reverse-proxied points themselves are publishing points (`origin` on an on-demand point,
 * a `pull` source on a broadcast point); this section holds what they share.
 */
import type { Schema } from '../schema.js';
import { accessSchema, authSchema, type AccessConfig, type AuthConfig } from './server.js';

export interface ProxyCacheConfig {
  /** false: on-demand content from origins is passed through, never stored */
  enabled: boolean;
  /** cache directory (relative to dataDir) */
  dir: string;
  /** bytes the cache files may take on disk, all together */
  maxBytes: number;
  /** an entry checked against its origin less than this long ago is served without asking again */
  revalidateMs: number;
  /** most fills (origin downloads into the cache) at once; further misses are passed through */
  maxFills: number;
  /** fills ask the origin for this many times the content's bit rate (1: real time) */
  fillSpeed: number;
}

export interface ProxyForwardConfig {
  /** players may use this box as their HTTP proxy for Windows Media URLs */
  enabled: boolean;
  /** origins players may reach through it, as host:port (the port is required) */
  allow: string[];
  auth: AuthConfig;
  access: AccessConfig;
  maxPlayers: number;
  maxPlayerBandwidth: number;
}

export interface OriginCredentials {
  /** host:port of the origin these credentials are for */
  origin: string;
  user: string;
  password: string;
}

export interface ProxyConfig {
  cache: ProxyCacheConfig;
  upstream: {
    /** connect, and no data for this long on an open upstream, fails it */
    timeoutMs: number;
    /** how long a player waits for the origin's answer to a freshness check before the cache serves it */
    checkTimeoutMs: number;
  };
  live: {
    /** players of a reverse-proxied live URL get an end of stream once its upstream has been lost this long */
    endAfterMs: number;
    /** media a second consumer of a split upstream gets at once (Fast Start for its first players) */
    bufferMs: number;
  };
  forward: ProxyForwardConfig;
  credentials: OriginCredentials[];
}

/** host:port, the host a name, an IPv4 address or a bracketed IPv6 address */
export const ORIGIN_HOST_PORT = /^(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?):\d{1,5}$/;

export const proxySchema: Schema = {
  kind: 'object',
  doc: 'The proxy: on-demand cache, live splitting, forward proxy, origin accounts',
  fields: {
    cache: {
      kind: 'object',
      doc: 'On-demand cache of origin content',
      fields: {
        enabled: { kind: 'bool', doc: 'Store on-demand content from origins (false: pass it through)', default: true },
        dir: { kind: 'string', doc: 'Cache directory (relative to dataDir)', default: 'proxy-cache', maxLength: 1024 },
        maxBytes: { kind: 'int', doc: 'Disk space all cache files may take, in bytes', default: 1073741824, min: 1048576 },
        revalidateMs: { kind: 'int', doc: 'An entry checked against its origin less than this long ago is served without asking again', default: 10000, min: 0, max: 86400000 },
        maxFills: { kind: 'int', doc: 'Most origin downloads into the cache at once (further misses are passed through)', default: 4, min: 1, max: 64 },
        fillSpeed: { kind: 'int', doc: 'Fills ask the origin for this many times the content bit rate (1: real time)', default: 4, min: 1, max: 100 },
      },
    },
    upstream: {
      kind: 'object',
      doc: 'Connections to origin servers',
      fields: {
        timeoutMs: { kind: 'int', doc: 'Connect timeout, and the longest silence of an open upstream before it counts as lost', default: 10000, min: 500, max: 600000 },
        checkTimeoutMs: { kind: 'int', doc: 'How long a player waits for the origin to answer a freshness check before the cached copy is served', default: 3000, min: 100, max: 60000 },
      },
    },
    live: {
      kind: 'object',
      doc: 'Live streams split from origins',
      fields: {
        endAfterMs: { kind: 'int', doc: 'Players of a reverse-proxied live URL get an end of stream once its upstream has been lost this long (0: never)', default: 60000, min: 0, max: 86400000 },
        bufferMs: { kind: 'int', doc: 'Media kept by the splitter for a consumer that joins a running upstream', default: 5000, min: 0, max: 60000 },
      },
    },
    forward: {
      kind: 'object',
      doc: 'Forward proxy: players configured with this box as their HTTP proxy',
      fields: {
        enabled: { kind: 'bool', doc: 'Serve absolute-URI requests (GET http://origin/...) for the allowed origins', default: false },
        allow: { kind: 'array', doc: 'Origins players may reach, as host:port', default: [], maxItems: 1000, items: { kind: 'string', doc: 'host:port', pattern: ORIGIN_HOST_PORT } },
        auth: authSchema,
        access: accessSchema,
        maxPlayers: { kind: 'int', doc: 'Most players through the forward proxy (0: no limit)', default: 0, min: 0, max: 100000 },
        maxPlayerBandwidth: { kind: 'int', doc: 'Most bits per second for one forward-proxy player (0: no limit)', default: 0, min: 0 },
      },
    },
    credentials: {
      kind: 'array',
      doc: 'Accounts this box uses at origin servers (Basic or Digest, as the origin asks)',
      default: [],
      maxItems: 1000,
      items: {
        kind: 'object',
        doc: 'An origin account',
        fields: {
          origin: { kind: 'string', doc: 'host:port of the origin', pattern: ORIGIN_HOST_PORT },
          user: { kind: 'string', doc: 'User name', pattern: /^[^:\s]{1,64}$/ },
          password: { kind: 'string', doc: 'Password', maxLength: 256, secret: true },
        },
      },
    },
  },
};
