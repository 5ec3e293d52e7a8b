/**
 * The one place where operator routes (the control API, /metrics, the status page) are protected. Every such
 * route is registered through `operatorAccess(ctx)`, so the access check is wired here and nowhere else: the
 * `api` section's address list first (403), then its accounts, Basic or Digest through the same authenticator
 * publishing points use (401 with the challenges). Refusals are JSON, like every API error, and logged once.
 * The section is read per request, so a config change takes effect at once.
 */
import type { IncomingMessage } from 'node:http';
import type { AppContext } from '../app/context.js';
import { createAccessList, type AccessList } from '../auth/access.js';
import { createAuthenticator, type Authenticator } from '../auth/http-auth.js';
import type { ApiConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { HttpRoute } from '../http/route.js';
import { sendJsonError } from './routes.js';

export interface OperatorRouteOptions {
  /** false: served without credentials (/metrics with metrics.protect off) */
  protect: boolean;
}

export type OperatorRouteWrapper = (route: HttpRoute, opts?: OperatorRouteOptions) => HttpRoute;

interface Guard {
  key: string;
  access: AccessList;
  auth: Authenticator | null;
}

/** one guard per app, rebuilt when the api section changes (the authenticator keeps its nonces meanwhile) */
const guards = new WeakMap<AppContext, Guard>();

function guardFor(ctx: AppContext): Guard {
  const cfg: ApiConfig = ctx.config.api;
  const key = JSON.stringify(cfg);
  let g = guards.get(ctx);
  if (!g || g.key !== key) {
    g = { key, access: createAccessList(cfg.access), auth: cfg.auth.scheme === 'none' ? null : createAuthenticator(cfg.auth) };
    guards.set(ctx, g);
  }
  return g;
}

/** null when the request may go on; otherwise the refusal and its headers */
export function checkOperator(ctx: AppContext, req: IncomingMessage, remote: string): { error: MssError; headers: Record<string, string | string[]> } | null {
  const g = guardFor(ctx);
  if (!g.access.allows(remote)) return { error: new MssError('forbidden', `${remote} may not use the operator routes (api.access)`), headers: {} };
  if (!g.auth) return null;
  const r = g.auth.check(req.method ?? 'GET', req.url ?? '/', req.headers.authorization);
  if (r.ok) return null;
  return { error: new MssError('unauthorized', 'credentials are required for the operator routes'), headers: { 'WWW-Authenticate': r.challenge } };
}

/** The wrapper for one appliance: every operator route goes through it. */
export function operatorAccess(ctx: AppContext): OperatorRouteWrapper {
  return (route, opts = { protect: true }) => {
    if (!opts.protect) return route;
    return {
      ...route,
      handle: (req, res, rctx) => {
        const refused = checkOperator(ctx, req, rctx.remoteAddress);
        if (!refused) return route.handle(req, res, rctx);
        const status = sendJsonError(res, refused.error, req.method, refused.headers);
        // a first request without credentials is the normal start of a login: only refusals of given ones are warnings
        if (status === 403 || req.headers.authorization) rctx.log.warn('http.rejected', { remote: rctx.remoteAddress, status, route: route.name, reason: refused.error.message });
        req.resume();
      },
    };
  };
}
