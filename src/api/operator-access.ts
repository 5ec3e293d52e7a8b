/**
 * The one place where operator routes (the control API, /metrics, the status page, /api/status) are protected.
 * Every such route is registered through `operatorAccess(ctx)`, so the access check is wired here and nowhere
 * else: loopback only unless api.allowRemote (403), then the api section's credentials, Basic or Digest through
 * the authenticator publishing points use, or a bearer token (401 with the challenge). Refusals are JSON, like
 * every API error, and logged once. The section is read per request, so a config change takes effect at once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AppContext } from '../app/context.js';
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
  cfg: ApiConfig;
  auth: Authenticator | null;
  /** SHA-256 of each bearer token: compared in constant time whatever the length */
  tokens: Buffer[];
}

/** one guard per app, rebuilt when the api section changes (the authenticator keeps its nonces meanwhile) */
const guards = new WeakMap<AppContext, Guard>();
const sha256 = (s: string) => createHash('sha256').update(s).digest();

function guardFor(ctx: AppContext): Guard {
  const cfg = ctx.config.api;
  const key = JSON.stringify(cfg);
  let g = guards.get(ctx);
  if (!g || g.key !== key) {
    const scheme = cfg.auth.scheme;
    const auth = scheme === 'basic' || scheme === 'digest' ? createAuthenticator({ scheme, realm: cfg.auth.realm, users: cfg.auth.users }) : null;
    g = { key, cfg, auth, tokens: cfg.auth.tokens.map(sha256) };
    guards.set(ctx, g);
  }
  return g;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)$/;

function bearerOk(g: Guard, authorization: string | undefined): boolean {
  const m = /^Bearer ([A-Za-z0-9\-._~+/]{1,256}=*)$/.exec(authorization ?? '');
  if (!m) return false;
  const h = sha256(m[1]!);
  let ok = false;
  for (const t of g.tokens) ok = timingSafeEqual(t, h) || ok;
  return ok;
}

/** null when the request may go on; otherwise the refusal and its headers */
export function checkOperator(ctx: AppContext, req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>, remote: string): { error: MssError; headers: Record<string, string | string[]> } | null {
  const g = guardFor(ctx);
  if (!g.cfg.allowRemote && !LOOPBACK.test(remote)) return { error: new MssError('forbidden', `${remote} may not use the operator routes (api.allowRemote is off)`), headers: {} };
  const scheme = g.cfg.auth.scheme;
  if (scheme === 'none') return null;
  const authorization = req.headers.authorization;
  if (scheme === 'bearer') {
    if (bearerOk(g, authorization)) return null;
    return { error: new MssError('unauthorized', 'a bearer token is required for the operator routes'), headers: { 'WWW-Authenticate': `Bearer realm="${g.cfg.auth.realm}"` } };
  }
  const r = g.auth!.check(req.method ?? 'GET', req.url ?? '/', authorization);
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
