/**
 * The metrics module: `/metrics` (Prometheus text format, protected like the API unless metrics.protect is off)
 * and `/health` (always open: load balancers and the watchdog ask it; 200 while the box takes players, 503 when
 * the listener or the media server is down or a module failed).
 */
import type { AppContext } from '../app/context.js';
import type { MediaServerModule } from '../app/media-server.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import type { HttpRoute } from '../http/route.js';
import { operatorAccess } from '../api/operator-access.js';
import type { MetricsCollector } from './collect.js';
import { healthReport } from './health.js';

const pathOf = (url: string | undefined) => (url ?? '').split('?')[0];

export class MetricsModule implements AppModule {
  readonly name = 'metrics';
  private collector: MetricsCollector | null = null;
  private loading: Promise<MetricsCollector> | null = null;
  private readonly log: Logger;
  private scrapes = 0;
  private state: 'stopped' | 'running' = 'stopped';

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('metrics');
    const guard = operatorAccess(ctx);
    ctx.http.addRoute(this.healthRoute());
    if (ctx.config.metrics.enabled) ctx.http.addRoute(guard(this.metricsRoute(), { protect: ctx.config.metrics.protect }));
  }

  private modules(): AppModule[] {
    return [...new Set(this.ctx.modules.values())];
  }

  async start(): Promise<void> {
    if (this.ctx.config.metrics.enabled) await this.ensureCollector();
    this.state = 'running';
  }

  /** the collector, loaded at first need: the listener takes scrapes before this module's start has run */
  private ensureCollector(): Promise<MetricsCollector> {
    this.loading ??= (async () => {
      // loaded only when enabled: prom-client and its collectors cost memory a small board may want back
      const { MetricsCollector } = await import('./collect.js');
      this.collector = new MetricsCollector(
        { media: () => (this.ctx.modules.get('media') as MediaServerModule | undefined)?.core, modules: () => this.modules() },
        { processMetrics: this.ctx.config.metrics.processMetrics },
      );
      return this.collector;
    })();
    return this.loading;
  }

  async stop(): Promise<void> {
    this.collector?.stop();
    this.collector = null;
    this.loading = null;
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: true, state: this.ctx.config.metrics.enabled ? this.state : 'disabled', detail: { scrapes: this.scrapes } };
  }

  telemetry(): Record<string, unknown> {
    return { scrapes: this.scrapes };
  }

  private metricsRoute(): HttpRoute {
    return {
      name: 'metrics',
      priority: 100,
      match: (req) => pathOf(req.url) === '/metrics',
      handle: async (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new MssError('unsupported', `/metrics answers GET, not ${req.method}`, { status: 405 });
        const collector = await this.ensureCollector();
        this.scrapes++;
        const body = await collector.render();
        res.writeHead(200, { 'Content-Type': collector.contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    };
  }

  private healthRoute(): HttpRoute {
    return {
      name: 'health',
      priority: 100,
      match: (req) => pathOf(req.url) === '/health',
      handle: (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new MssError('unsupported', `/health answers GET, not ${req.method}`, { status: 405 });
        const report = healthReport(this.modules());
        const body = JSON.stringify(report);
        res.writeHead(report.status === 'failing' ? 503 : 200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    };
  }
}
