/**
 * The status page module: `GET /` (and /index.html) behind the operator guard, like the API it reads. The page is
 * generated per request with a fresh CSP nonce (only its own inline style and script run) and is never cached.
 */
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../app/context.js';
import { MssError } from '../core/errors.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import type { HttpRoute } from '../http/route.js';
import { operatorAccess } from '../api/operator-access.js';
import { statusPage } from './page.js';

export class WebModule implements AppModule {
  readonly name = 'web';
  private views = 0;

  constructor(private readonly ctx: AppContext) {
    if (ctx.config.web.enabled) ctx.http.addRoute(operatorAccess(ctx)(this.route()));
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  health(): ModuleHealth {
    return { ok: true, state: this.ctx.config.web.enabled ? 'running' : 'disabled', detail: { views: this.views } };
  }

  private route(): HttpRoute {
    return {
      name: 'status-page',
      priority: 100,
      match: (req) => {
        const p = (req.url ?? '').split('?')[0];
        return p === '/' || p === '/index.html';
      },
      handle: (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new MssError('unsupported', `the status page answers GET, not ${req.method}`, { status: 405 });
        this.views++;
        const nonce = randomBytes(16).toString('base64');
        const body = statusPage({ refreshMs: this.ctx.config.web.refreshMs, nonce });
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': Buffer.byteLength(body),
          'Cache-Control': 'no-store',
          'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    };
  }
}
