import { parseAccessEntry } from '../../auth/access.js';
import type { ConfigIssue, Schema } from '../schema.js';
import { accountsSchema, realmSchema } from './accounts.js';
import { multicastSchema, type MulticastOutputConfig } from './multicast.js';

export type { MulticastOutputConfig } from './multicast.js';

export interface AuthConfig {
  scheme: 'none' | 'basic' | 'digest';
  realm: string;
  users: Array<{ name: string; password: string }>;
}

export interface AccessConfig {
  /** CIDR or addresses; empty = everyone */
  allow: string[];
  deny: string[];
}

interface PointCommon {
  name: string;
  auth: AuthConfig;
  access: AccessConfig;
  /** 0 = no limit */
  maxPlayers: number;
  /** bits per second per player, 0 = no limit */
  maxPlayerBandwidth: number;
}

export interface OnDemandPointConfig extends PointCommon {
  type: 'ondemand';
  /** directory of .asf/.wmv/.wma files served as /<name>/<file> (subfolders allowed); empty when origin is set */
  path: string;
  /**
   * reverse proxy: /<name>/<rest> is <origin>/<rest> on an origin server (mmsh://origin:8080/vod), cached on
   * demand (live content there is split); empty when path is set
   */
  origin: string;
}

export type BroadcastSourceConfig =
  | { type: 'file'; path: string; loop: boolean }
  | { type: 'playlist'; path: string }
  | { type: 'push' }
  | { type: 'pull'; url: string; endAfterMs: number };

export interface BroadcastPointConfig extends PointCommon {
  type: 'broadcast';
  source: BroadcastSourceConfig;
  /** boot: start with the server; demand: start when the first player arrives */
  start: 'boot' | 'demand';
  /** write what is broadcast to this ASF file (empty = no archive) */
  archive: string;
  /** multicast (MS-MSB) output; group empty = none */
  multicast: MulticastOutputConfig;
}

export type PublishingPointConfig = OnDemandPointConfig | BroadcastPointConfig;

export interface ServerConfig {
  maxPlayers: number;
  maxBandwidth: number;
  /** per-player send queue before a slow player is dropped */
  playerQueueBytes: number;
  /** a player whose queue stays full this long is dropped */
  slowPlayerTimeoutMs: number;
  /** live packets are written to players in batches at most this old (ms); 0 = every packet at once */
  liveBatchMs: number;
  publishingPoints: PublishingPointConfig[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/**
 * scheme://host[:port][/path] for the Windows Media schemes (the protocol client the scheme names must be in the
 * build at run time), no user-info (accounts are in proxy.credentials), no query or fragment
 */
const UPSTREAM_URL = /^(http|mmsh|mms|mmst|mmsu|rtsp|rtspt|rtspu|msbd):\/\/([^\s/@?#]{1,256}@)?[^\s/@?#]{1,260}(\/[^\s?#]*)?$/;

export const authSchema: Schema = {
  kind: 'object',
  doc: 'Who may play from this point',
  fields: {
    scheme: { kind: 'enum', doc: 'HTTP authentication scheme', values: ['none', 'basic', 'digest'], default: 'none' },
    realm: realmSchema('Authentication realm shown to players', 'mss'),
    users: accountsSchema('Accounts allowed when scheme is not none', 1000),
  },
};

/** an allow/deny entry the access list will take, or what is wrong with it (checked when the config is validated) */
function accessEntryProblem(entry: string): string | undefined {
  const parsed = parseAccessEntry(entry);
  return typeof parsed === 'string' ? parsed : undefined;
}

const accessEntry: Schema = { kind: 'string', doc: 'address or CIDR', maxLength: 64, check: accessEntryProblem };

export const accessSchema: Schema = {
  kind: 'object',
  doc: 'IP allow and deny lists',
  fields: {
    allow: { kind: 'array', doc: 'Addresses or CIDR blocks allowed (empty: all)', default: [], maxItems: 1000, items: accessEntry },
    deny: { kind: 'array', doc: 'Addresses or CIDR blocks refused', default: [], maxItems: 1000, items: accessEntry },
  },
};

const common: Record<string, Schema> = {
  name: { kind: 'string', doc: 'Publishing point name: the first path segment of its URLs', pattern: NAME },
  auth: authSchema,
  access: accessSchema,
  maxPlayers: { kind: 'int', doc: 'Most players on this point (0: no limit)', default: 0, min: 0, max: 100000 },
  maxPlayerBandwidth: { kind: 'int', doc: 'Most bits per second for one player (0: no limit)', default: 0, min: 0 },
};

const sourceSchema: Schema = {
  kind: 'union',
  doc: 'Where a broadcast point gets its stream',
  key: 'type',
  variants: {
    file: {
      path: { kind: 'string', doc: 'ASF file played as live' },
      loop: { kind: 'bool', doc: 'Start again at the end', default: true },
    },
    playlist: { path: { kind: 'string', doc: 'Server-side playlist (.wsx) played as live' } },
    push: {},
    pull: {
      url: { kind: 'string', doc: 'URL of an encoder or another server (mmsh://, http://; rtsp://, mms://, msbd:// when this build has their clients); an account as user:password@ in the URL (redacted wherever it is shown) or in proxy.credentials', pattern: UPSTREAM_URL },
      endAfterMs: { kind: 'int', doc: 'Players get an end of stream once the upstream has been lost this long (0: they wait for it forever)', default: 60000, min: 0, max: 86400000 },
    },
  },
};

export const serverSchema: Schema = {
  kind: 'object',
  doc: 'The media server and its publishing points',
  fields: {
    maxPlayers: { kind: 'int', doc: 'Most players on the whole server', default: 5000, min: 1, max: 100000 },
    maxBandwidth: { kind: 'int', doc: 'Most bits per second sent to all players (0: no limit)', default: 0, min: 0 },
    playerQueueBytes: { kind: 'int', doc: 'Bytes queued for one player before it counts as slow', default: 1048576, min: 65536, max: 67108864 },
    slowPlayerTimeoutMs: { kind: 'int', doc: 'A player whose queue stays full this long is dropped', default: 10000, min: 500, max: 600000 },
    liveBatchMs: { kind: 'int', doc: 'Live packets go to players in batches at most this old, one write per player per batch (0: every packet at once)', default: 200, min: 0, max: 1000 },
    publishingPoints: {
      kind: 'array',
      doc: 'Publishing points',
      maxItems: 1000,
      unique: 'name',
      default: [],
      items: {
        kind: 'union',
        doc: 'A publishing point',
        key: 'type',
        variants: {
          ondemand: {
            ...common,
            path: { kind: 'string', doc: 'Directory of ASF files (empty when origin is set)', default: '' },
            origin: { kind: 'string', doc: 'Reverse proxy: origin URL whose content this point serves, cached (e.g. mmsh://origin:8080/vod); empty when path is set', default: '', pattern: new RegExp(`^$|${UPSTREAM_URL.source}`) },
          },
          broadcast: {
            ...common,
            source: sourceSchema,
            start: { kind: 'enum', doc: 'boot: with the server; demand: on the first player', values: ['boot', 'demand'], default: 'boot' },
            archive: { kind: 'string', doc: 'ASF file to archive the broadcast to (empty: none)', default: '' },
            multicast: multicastSchema,
          },
        },
      },
    },
  },
};

/** What the schema cannot say: an on-demand point serves a directory or an origin, exactly one of them. */
export function serverIssues(server: ServerConfig | undefined, path = 'server'): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // runs on a document that may have failed validation elsewhere: look only at well-formed on-demand points
  const points: unknown = server?.publishingPoints;
  if (!Array.isArray(points)) return issues;
  (points as PublishingPointConfig[]).forEach((p, i) => {
    if (!p || p.type !== 'ondemand' || typeof p.path !== 'string' || typeof p.origin !== 'string') return;
    const at = `${path}.publishingPoints[${i}]`;
    if (p.path === '' && p.origin === '') issues.push({ path: `${at}.path`, message: 'is required (or set origin to proxy an origin server)' });
    else if (p.path !== '' && p.origin !== '') issues.push({ path: `${at}.origin`, message: 'cannot be set together with path: a point serves a directory or an origin' });
  });
  return issues;
}
