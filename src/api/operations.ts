/**
 * The control API as one table: each operation has its HTTP method and path, its device command name (the same
 * implementation behind both doors), and the facts the OpenAPI document is made of. Routes, commands and the
 * document are all generated from this table, so none of them can name an operation the others lack.
 */
import type { IncomingMessage } from 'node:http';
import type { ConfigService } from '../app/config-service.js';
import { MssError } from '../core/errors.js';
import type { AppModule } from '../core/module.js';
import { packageVersion } from '../core/version.js';
import type { MediaCore } from '../media/core.js';
import { healthReport } from '../metrics/health.js';
import { PointsApi, type UrlContext } from './points.js';

export interface OperationInput {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  at: UrlContext;
  /** the request, for operations that stream their body (uploads); absent for device commands */
  req?: IncomingMessage;
}

export interface OperationResult {
  status?: number;
  data: unknown;
}

/** what the OpenAPI document says about a request body or a response */
export type SchemaRef = 'PublishingPoint' | 'PointPatch' | 'Point' | 'PointList' | 'PointChange' | 'Player' | 'PlayerList' | 'Server' | 'Limits' | 'Health' | 'FileList' | 'Upload' | 'Removed' | 'Disconnected' | 'OpenApi';

export interface ApiOperation {
  /** operationId and device command name */
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** /api/v1/... with {param} segments */
  path: string;
  summary: string;
  body?: SchemaRef;
  /** the device command takes the body under this argument name */
  bodyArg?: string;
  response: SchemaRef;
  /** status of success (default 200) */
  status?: number;
  /** served over HTTP only (it streams its body, or is the API's own description) */
  httpOnly?: boolean;
  run(input: OperationInput): Promise<OperationResult> | OperationResult;
}

export interface OperationDeps {
  config: ConfigService;
  core(): MediaCore;
  modules(): readonly AppModule[];
  /** stores an upload into a point's incoming/ (the packager publishes it) */
  upload?(point: string, file: string, req: IncomingMessage): Promise<Record<string, unknown>>;
  openapi(): unknown;
}

const startedAt = new Date();

function playerId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new MssError('invalid-argument', `player id must be a whole number, got ${JSON.stringify(raw.slice(0, 32))}`);
  return Number(raw);
}

function limitsBody(body: unknown): { maxPlayers?: number; maxBandwidth?: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MssError('invalid-argument', 'the body must be a JSON object: {maxPlayers, maxBandwidth}');
  const unknown = Object.keys(body).filter((k) => k !== 'maxPlayers' && k !== 'maxBandwidth');
  if (unknown.length) throw new MssError('invalid-argument', `unknown limit(s) ${unknown.join(', ')}; expected maxPlayers, maxBandwidth`);
  return body as { maxPlayers?: number; maxBandwidth?: number };
}

export function apiOperations(deps: OperationDeps): ApiOperation[] {
  const points = new PointsApi({ config: deps.config, core: deps.core });
  const players = () =>
    deps.core().players().map((s) => ({
      id: s.id,
      point: s.point,
      protocol: s.who.protocol,
      remote: s.who.remote,
      userAgent: s.who.userAgent ?? null,
      url: s.who.url ?? null,
      clientId: s.who.clientId ?? null,
      role: s.role,
      bitrate: s.bitrate,
      bytesSent: s.handle?.stats.bytesSent ?? 0,
      startedAt: new Date(s.startedAt).toISOString(),
    }));
  const limits = () => {
    const s = deps.config.running().server;
    return { maxPlayers: s.maxPlayers, maxBandwidth: s.maxBandwidth, playerQueueBytes: s.playerQueueBytes, slowPlayerTimeoutMs: s.slowPlayerTimeoutMs, points: s.publishingPoints.length };
  };
  return [
    { id: 'points-list', method: 'GET', path: '/api/v1/points', summary: 'Publishing points: settings, status and URLs', response: 'PointList', run: ({ at }) => ({ data: points.list(at) }) },
    { id: 'point-add', method: 'POST', path: '/api/v1/points', summary: 'Add a publishing point (validated by the config schema, persisted)', body: 'PublishingPoint', bodyArg: 'point', response: 'PointChange', status: 201, run: async ({ body, at }) => ({ status: 201, data: await points.add(body, at) }) },
    { id: 'point-get', method: 'GET', path: '/api/v1/points/{name}', summary: 'One publishing point', response: 'Point', run: ({ params, at }) => ({ data: points.get(params.name!, at) }) },
    { id: 'point-replace', method: 'PUT', path: '/api/v1/points/{name}', summary: 'Replace a point\'s settings ("***" passwords keep theirs)', body: 'PublishingPoint', bodyArg: 'point', response: 'PointChange', run: async ({ params, body, at }) => ({ data: await points.replace(params.name!, body, at) }) },
    { id: 'point-change', method: 'PATCH', path: '/api/v1/points/{name}', summary: 'Change some of a point\'s settings (JSON merge patch)', body: 'PointPatch', bodyArg: 'point', response: 'PointChange', run: async ({ params, body, at }) => ({ data: await points.patch(params.name!, body, at) }) },
    { id: 'point-remove', method: 'DELETE', path: '/api/v1/points/{name}', summary: 'Remove a publishing point (its players are disconnected)', response: 'Removed', run: async ({ params }) => ({ data: await points.remove(params.name!) }) },
    { id: 'point-start', method: 'POST', path: '/api/v1/points/{name}/start', summary: 'Start a broadcast (a push point takes its encoder again)', response: 'Point', run: async ({ params, at }) => ({ data: await points.start(params.name!, at) }) },
    { id: 'point-stop', method: 'POST', path: '/api/v1/points/{name}/stop', summary: 'Stop a broadcast until it is started again (or the server restarts)', response: 'Point', run: async ({ params, at }) => ({ data: await points.stop(params.name!, at) }) },
    { id: 'point-files', method: 'GET', path: '/api/v1/points/{name}/files', summary: 'The ASF files of an on-demand point, and which are protected', response: 'FileList', run: async ({ params }) => ({ data: await points.files(params.name!) }) },
    {
      id: 'point-upload',
      method: 'PUT',
      path: '/api/v1/points/{name}/files/{file}',
      summary: 'Upload a file into an on-demand point: it goes through incoming/ (and the DRM packager when one is set) before it is published',
      body: 'Upload',
      response: 'Upload',
      status: 202,
      httpOnly: true,
      run: async ({ params, req }) => {
        if (!deps.upload) throw new MssError('unsupported', 'uploads are not available in this process');
        if (!req) throw new MssError('unsupported', 'uploads come over HTTP only');
        return { status: 202, data: await deps.upload(params.name!, params.file!, req) };
      },
    },
    { id: 'players-list', method: 'GET', path: '/api/v1/players', summary: 'Players and relay outputs playing now (point, protocol, address, user agent, bytes, start time)', response: 'PlayerList', run: () => ({ data: players() }) },
    {
      id: 'player-disconnect',
      method: 'DELETE',
      path: '/api/v1/players/{id}',
      summary: 'Disconnect one player',
      response: 'Disconnected',
      run: ({ params }) => {
        const id = playerId(params.id!);
        if (!deps.core().disconnect(id)) throw new MssError('not-found', `no player ${id}`);
        return { data: { disconnected: id } };
      },
    },
    {
      id: 'server-info',
      method: 'GET',
      path: '/api/v1/server',
      summary: 'Version, uptime, limits, player counts and health',
      response: 'Server',
      run: () => {
        const core = deps.core();
        return {
          data: {
            version: packageVersion(),
            node: process.version,
            startedAt: startedAt.toISOString(),
            uptimeSec: Math.round(process.uptime()),
            limits: limits(),
            players: { current: core.playerCount, peak: core.counters.peakPlayers, total: core.counters.totalPlayers, bitrate: core.admittedBitrate },
            config: { version: deps.config.persistedVersion, pendingRestart: deps.config.pendingRestart, history: deps.config.history(5) },
            health: healthReport(deps.modules()),
          },
        };
      },
    },
    {
      id: 'server-limits',
      method: 'PATCH',
      path: '/api/v1/server/limits',
      summary: 'Change the server-wide player and bandwidth limits (persisted)',
      body: 'Limits',
      bodyArg: 'limits',
      response: 'Limits',
      run: async ({ body }) => {
        const l = limitsBody(body);
        await deps.config.update((c) => {
          if (l.maxPlayers !== undefined) c.server.maxPlayers = l.maxPlayers;
          if (l.maxBandwidth !== undefined) c.server.maxBandwidth = l.maxBandwidth;
        }, { source: 'api' });
        return { data: limits() };
      },
    },
    { id: 'server-health', method: 'GET', path: '/api/v1/health', summary: 'Health of every module (what /health answers)', response: 'Health', run: () => ({ data: healthReport(deps.modules()) }) },
    { id: 'api-description', method: 'GET', path: '/api/v1/openapi.json', summary: 'This API, described (OpenAPI 3.1)', response: 'OpenApi', httpOnly: true, run: () => ({ data: deps.openapi() }) },
  ];
}

/** matches a request path against an operation path; the path parameters, or null */
export function matchPath(template: string, actual: string): Record<string, string> | null {
  const t = template.split('/');
  const a = actual.split('/');
  if (t.length !== a.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i]!;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (!a[i]) return null;
      let v: string;
      try {
        v = decodeURIComponent(a[i]!);
      } catch {
        return null;
      }
      params[seg.slice(1, -1)] = v;
    } else if (seg !== a[i]) return null;
  }
  return params;
}
