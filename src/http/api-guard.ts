/**
 * The guard in front of every operator endpoint (/api/status, /api/logs, and any later one): a module so a new
 * `api` section from MQTT takes effect live. `protect(route)` wraps a route: callers other than loopback are refused
 * (403) unless `api.allowRemote`; once `api.auth.scheme` is set every caller authenticates through the AuthGuard
 * (Basic, Digest or a bearer token; failed attempts delayed and rate-limited per address). A 401 body says only that
 * authentication is required: never which of the user name or the password was wrong.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiConfig, MssConfig } from '../config/index.js';
import { createBearerAuthenticator } from '../auth/bearer.js';
import { AuthGuard } from '../auth/guard.js';
import { createAuthenticator } from '../auth/http-auth.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { HttpRequestContext, HttpRoute } from './route.js';
import { reasonPhrase, rejectRequest } from './server.js';

/** 127.0.0.0/8 and ::1 (IPv4-mapped forms arrive already unwrapped) */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1';
}

interface Policy {
  allowRemote: boolean;
  guard: AuthGuard | null;
  scheme: ApiConfig['auth']['scheme'];
}

function policyFor(cfg: ApiConfig): Policy {
  const a = cfg.auth;
  if (a.scheme === 'none') return { allowRemote: cfg.allowRemote, guard: null, scheme: 'none' };
  const authenticator = a.scheme === 'bearer' ? createBearerAuthenticator(a.tokens, a.realm) : createAuthenticator({ scheme: a.scheme, realm: a.realm, users: a.users });
  return { allowRemote: cfg.allowRemote, scheme: a.scheme, guard: new AuthGuard(authenticator, { refusalDelayMs: cfg.refusalDelayMs, maxFailures: cfg.maxFailuresPerMinute, windowMs: 60_000 }) };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A small text answer that is not logged as a rejection (the first 401 of a Digest handshake). */
function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string | string[]>): void {
  const body = `${status} ${reasonPhrase(status)}: ${message}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', ...headers });
  res.end(body);
}

export class ApiAccessModule implements AppModule {
  readonly name = 'api';
  private config: ApiConfig;
  private policy: Policy;

  constructor(config: ApiConfig, private readonly log: Logger) {
    this.config = config;
    this.policy = policyFor(config);
  }

  async start(): Promise<void> {
    this.warnIfOpenOrLocked();
  }

  async stop(): Promise<void> {}

  health(): ModuleHealth {
    return { ok: true, state: 'running', detail: { scheme: this.policy.scheme, allowRemote: this.policy.allowRemote, ...(this.policy.guard?.counters ?? {}) } };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    if (JSON.stringify(next.api) === JSON.stringify(previous.api)) return 'unchanged';
    this.config = next.api;
    this.policy = policyFor(next.api);
    this.warnIfOpenOrLocked();
    return 'applied';
  }

  /** The route, answering only the callers the `api` section lets in. */
  protect(route: HttpRoute): HttpRoute {
    return {
      name: route.name,
      priority: route.priority,
      match: (req, ctx) => route.match(req, ctx),
      handle: async (req, res, ctx) => {
        if (await this.admitted(req, res, ctx, route.name)) await route.handle(req, res, ctx);
      },
    };
  }

  private async admitted(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, routeName: string): Promise<boolean> {
    const p = this.policy;
    const fields = { route: routeName, method: req.method, path: ctx.url.pathname.slice(0, 200) };
    if (!p.allowRemote && !isLoopback(ctx.remoteAddress)) {
      rejectRequest(res, ctx, 403, 'the operator API answers only on this machine (api.allowRemote is off)', fields);
      return false;
    }
    if (!p.guard) return true;
    const verdict = await p.guard.admit({ remote: ctx.remoteAddress, method: req.method ?? 'GET', uri: req.url ?? '/', authorization: header(req, 'authorization') });
    if (verdict.ok) return true;
    if (verdict.status === 429) {
      const quiet = { ...ctx, log: { ...ctx.log, warn: () => undefined } as Logger };
      rejectRequest(res, verdict.firstInWindow ? ctx : quiet, 429, 'too many failed attempts from this address; try again later', { ...fields, cause: verdict.reason }, { 'Retry-After': String(verdict.retryAfterS) });
      return false;
    }
    if (!verdict.delayed) {
      // the challenge of a handshake: a client's first request, not a refusal worth a log line
      ctx.log.debug('api.challenge', { remote: ctx.remoteAddress, ...fields });
      answer(res, 401, 'authentication required', { 'WWW-Authenticate': verdict.challenge });
      return false;
    }
    rejectRequest(res, ctx, 401, 'authentication required', { ...fields, cause: verdict.reason }, { 'WWW-Authenticate': verdict.challenge });
    return false;
  }

  private warnIfOpenOrLocked(): void {
    const c = this.config;
    if (c.allowRemote && c.auth.scheme === 'none') this.log.warn('api.open', { reason: 'api.allowRemote is on and api.auth.scheme is none: anyone on the network can read status and logs' });
    const none = c.auth.scheme === 'bearer' ? c.auth.tokens.length === 0 : c.auth.scheme !== 'none' && c.auth.users.length === 0;
    if (none) this.log.warn('api.locked', { reason: `api.auth.scheme is ${c.auth.scheme} but no ${c.auth.scheme === 'bearer' ? 'api.auth.tokens' : 'api.auth.users'} are set: the operator API refuses everyone until some are` });
  }
}
