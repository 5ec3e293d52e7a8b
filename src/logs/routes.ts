/**
 * The logs module's HTTP routes on the one listener:
 * - `/logs`: the web-server logging URL (MS-WMLOG 2.3) that .asx LOGURLs point at. GET answers the validation
 *   page players look for before posting; POST takes a log (MX_STATS_LogLine, XML or a bare W3C line).
 * - `GET /api/logs?since=<iso|ms>&limit=<n>[&source=player|server][&after=<id>]`: stored entries as JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MssError } from '../core/errors.js';
import type { HttpRequestContext, HttpRoute } from '../http/route.js';
import { rejectRequest } from '../http/server.js';
import { entryToJson, type LogEntry, type LogSource } from './entry.js';
import type { LogQuery } from './store.js';

export const WEB_LOG_PATH = '/logs';
export const LOGS_API_PATH = '/api/logs';
const MAX_API_LIMIT = 1000;

/** What the routes need from the module (kept narrow so the routes are easy to test). */
export interface LogIntake {
  /** validates, stores (durably) and returns the entry; throws MssError on bad input or when rate-limited */
  acceptWebLog(req: { remoteAddress: string; url: string; userAgent: string; contentType?: string; body: Buffer }): Promise<LogEntry>;
  /** checks the per-address allowance before the body is read */
  checkRate(remoteAddress: string): void;
  readonly maxPostBytes: number;
  query(q: LogQuery): LogEntry[];
}

/** the body players check for before they send logs to a web server (MS-WMLOG 2.3) */
export const VALIDATION_PAGE = '<html><head><title>mss logging</title></head><body><h1>WMS ISAPI Log Dll/9.0.0.1</h1></body></html>\r\n';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function webLogRoute(intake: LogIntake): HttpRoute {
  return {
    name: 'logs.web',
    priority: 100,
    match: (req, ctx) => ctx.url.pathname === WEB_LOG_PATH && (req.method === 'GET' || req.method === 'POST' || req.method === 'HEAD'),
    async handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext) {
      if (req.method !== 'POST') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(VALIDATION_PAGE), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : VALIDATION_PAGE);
        return;
      }
      try {
        intake.checkRate(ctx.remoteAddress);
      } catch (err) {
        const retry = err instanceof MssError ? Number(err.detail.retryAfter ?? 60) : 60;
        const refused = err instanceof MssError ? Number(err.detail.refusedInWindow ?? 1) : 1;
        const headers = { 'Retry-After': String(retry) };
        if (refused <= 1) rejectRequest(res, ctx, 429, (err as Error).message, { route: 'logs.web', note: 'further refusals in this minute are not logged' }, headers);
        else {
          const body = `429 Too Many Requests: ${(err as Error).message}\n`;
          res.writeHead(429, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close', ...headers });
          res.end(body);
        }
        req.resume();
        return;
      }
      const body = await ctx.readBody(intake.maxPostBytes);
      const entry = await intake.acceptWebLog({
        remoteAddress: ctx.remoteAddress,
        url: ctx.url.pathname + ctx.url.search,
        userAgent: header(req, 'user-agent') ?? '',
        contentType: header(req, 'content-type'),
        body,
      });
      const reply = `stored log ${entry.id}\n`;
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(reply), 'Cache-Control': 'no-cache' });
      res.end(reply);
    },
  };
}

/** `since` as ISO 8601 or epoch milliseconds */
export function parseSince(raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  const t = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(t)) {
    throw new MssError('invalid-argument', `since must be an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return t;
}

function parseIntParam(raw: string | null, name: string, min: number, max: number, fallback: number | undefined): number | undefined {
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new MssError('invalid-argument', `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return Number(raw);
}

export function logsApiRoute(intake: LogIntake): HttpRoute {
  return {
    name: 'logs.api',
    priority: 100,
    match: (req, ctx) => ctx.url.pathname === LOGS_API_PATH && req.method === 'GET',
    handle(_req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext) {
      const p = ctx.url.searchParams;
      const source = p.get('source');
      if (source !== null && source !== 'player' && source !== 'server') {
        throw new MssError('invalid-argument', `source must be player or server, got ${JSON.stringify(source.slice(0, 40))}`);
      }
      const limit = parseIntParam(p.get('limit'), 'limit', 1, MAX_API_LIMIT, 100)!;
      const entries = intake.query({
        since: parseSince(p.get('since')),
        afterId: parseIntParam(p.get('after'), 'after', 0, Number.MAX_SAFE_INTEGER, undefined),
        source: (source ?? undefined) as LogSource | undefined,
        limit,
      });
      const body = JSON.stringify({
        entries: entries.map(entryToJson),
        // to page on: pass after=<next>
        next: entries.length === limit ? entries[entries.length - 1]!.id : null,
      });
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
      res.end(body);
    },
  };
}
