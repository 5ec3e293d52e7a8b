/**
 * The HTTP door of the control API: one route under /api/v1/ that finds the operation by method and path,
 * reads a bounded JSON body, and answers JSON; every error is JSON too, `{"error": {code, message, detail}}`,
 * with the status the error's code maps to (405 with Allow for a known path and another method).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MssError, toMssError } from '../core/errors.js';
import type { HttpRequestContext, HttpRoute } from '../http/route.js';
import { statusForError } from '../protocols/shared/status.js';
import { matchPath, type ApiOperation } from './operations.js';

export const API_PREFIX = '/api/v1';

function sendJson(res: ServerResponse, status: number, value: unknown, method: string | undefined, headers: Record<string, string | string[]> = {}): void {
  const body = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(method === 'HEAD' ? undefined : body);
}

export function sendJsonError(res: ServerResponse, err: unknown, method?: string, headers: Record<string, string | string[]> = {}): number {
  const e = toMssError(err);
  const status = statusForError(e);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return status;
  }
  const { status: _s, ...detail } = e.detail;
  sendJson(res, status, { error: { code: e.code, message: e.message, ...(Object.keys(detail).length ? { detail } : {}) } }, method, { ...headers, Connection: status >= 500 ? 'close' : 'keep-alive' });
  return status;
}

async function jsonBody(ctx: HttpRequestContext, req: IncomingMessage): Promise<unknown> {
  const raw = await ctx.readBody(Number.MAX_SAFE_INTEGER);
  if (raw.length === 0) return undefined;
  const type = String(req.headers['content-type'] ?? 'application/json');
  if (!/^application\/(merge-patch\+)?json\b/i.test(type)) throw new MssError('unsupported', `the body must be application/json, got ${type.slice(0, 100)}`, { status: 415 });
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new MssError('malformed', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

export function apiRoute(operations: () => readonly ApiOperation[]): HttpRoute {
  return {
    name: 'api-v1',
    priority: 110,
    match: (req) => {
      const p = (req.url ?? '').split('?')[0]!;
      return p === API_PREFIX || p.startsWith(`${API_PREFIX}/`);
    },
    handle: async (req, res, ctx) => {
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      const pathname = ctx.url.pathname.replace(/\/+$/, '') || '/';
      try {
        const candidates = operations().map((op) => ({ op, params: matchPath(op.path, pathname) })).filter((c) => c.params);
        if (candidates.length === 0) throw new MssError('not-found', `no API operation at ${pathname.slice(0, 200)}; see ${API_PREFIX}/openapi.json`);
        const hit = candidates.find((c) => c.op.method === method);
        if (!hit) {
          const allow = [...new Set(candidates.map((c) => c.op.method))].join(', ');
          const err = new MssError('unsupported', `${pathname.slice(0, 200)} answers ${allow}, not ${req.method}`, { status: 405 });
          sendJsonError(res, err, req.method, { Allow: allow });
          ctx.log.warn('http.rejected', { remote: ctx.remoteAddress, status: 405, route: 'api-v1', method: req.method, path: pathname.slice(0, 200) });
          return;
        }
        const { op, params } = hit;
        const body = op.body && op.body !== 'Upload' ? await jsonBody(ctx, req) : undefined;
        const result = await op.run({ params: params!, query: ctx.url.searchParams, body, at: { host: String(req.headers.host ?? '') || `127.0.0.1` }, req });
        sendJson(res, result.status ?? op.status ?? 200, result.data, req.method);
      } catch (err) {
        const status = sendJsonError(res, err, req.method);
        const e = toMssError(err);
        if (status >= 500) ctx.log.error('api.failed', { remote: ctx.remoteAddress, method: req.method, path: pathname.slice(0, 200), error: e });
        else ctx.log.warn('http.rejected', { remote: ctx.remoteAddress, status, route: 'api-v1', method: req.method, path: pathname.slice(0, 200), reason: e.message.slice(0, 300) });
      }
    },
  };
}
