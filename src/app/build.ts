/**
 * The one place the appliance is composed: modules are created in one ordered list (store → logs → HTTP,
 * proxy and media server → encoder → device agent), started in that order and stopped in reverse. Constructors do no I/O.
 * To add a module, add one line to MODULES at its place in the order.
 */
import type { MssConfig } from '../config/index.js';
import { createLogger, type Logger } from '../core/log.js';
import { ModuleRunner, type AppModule } from '../core/module.js';
import { ApiAccessModule } from '../http/api-guard.js';
import { HttpModule } from '../http/server.js';
import { EncoderServeModule } from './encoder-serve.js';
import { MediaServerModule } from './media-server.js';
import { MsbdModule } from './msbd-module.js';
import { ProxyModule } from './proxy-module.js';
import { MmspModule } from './mmsp-module.js';
import { RtspModule } from './rtsp-module.js';
import { LogsModule } from '../logs/module.js';
import { DeviceAgent } from '../device/agent.js';
import { EncoderModule } from '../encoder/module.js';
import { WatchdogModule } from '../watchdog/module.js';
import { MetricsModule } from '../metrics/module.js';
import { HooksModule } from '../hooks/module.js';
import { ApiModule } from '../api/module.js';
import { WebModule } from '../web/module.js';
import { PackagerModule } from '../hooks/packager.js';
import type { AppContext } from './context.js';
import { ConfigService } from './config-service.js';

export type ModuleFactory = (ctx: AppContext) => AppModule;

/** Modules in start order. */
export const MODULES: ReadonlyArray<ModuleFactory> = [
  // store, logs: added by their owners here (before the HTTP listener, so logs are stored before they are acknowledged)
  (ctx) => ctx.modules.get('api')!,
  (ctx) => new LogsModule(ctx),
  (ctx) => ctx.modules.get('http')!,
  // the proxy gives the media core its upstreams (splitter, cache), so it comes first and its cache is open
  (ctx) => new ProxyModule(ctx),
  (ctx) => new MediaServerModule(ctx),
  (ctx) => new RtspModule(ctx),
  (ctx) => new MsbdModule(ctx),
  // encoder.servePort: the encoder's stream on a listener of its own (off unless configured)
  (ctx) => new EncoderServeModule(ctx),
  (ctx) => new MmspModule(ctx),
  (ctx) => EncoderModule.fromContext(ctx),
  (ctx) => new MetricsModule(ctx),
  (ctx) => new ApiModule(ctx),
  (ctx) => new WebModule(ctx),
  (ctx) => new PackagerModule(ctx),
  // after the modules whose events it runs hooks for
  (ctx) => new HooksModule(ctx),
  // the device agent comes last: it watches every module above (health, telemetry, reconfigure, commands);
  // it stays off when mqtt.url is empty
  (ctx) => new DeviceAgent({ config: ctx.config, configService: ctx.configService, modules: () => [...new Set(ctx.modules.values())] }),
  // last: READY=1 to systemd once everything above started, then watchdog pings while the loop and core modules are healthy
  (ctx) => new WatchdogModule({ config: ctx.config.watchdog, modules: () => [...new Set(ctx.modules.values())], core: ['logs', 'http', 'media'] }),
];

export interface App {
  ctx: AppContext;
  runner: ModuleRunner;
  http: HttpModule;
}

export function buildApp(config: MssConfig, opts: { log?: Logger; modules?: ReadonlyArray<ModuleFactory>; configVersion?: number } = {}): App {
  const log = opts.log ?? createLogger('mss');
  const http = new HttpModule(config.http, log.child('http'));
  const api = new ApiAccessModule(config.api, log.child('api'));
  const modules = new Map<string, AppModule>();
  const configService = new ConfigService({
    initial: config,
    initialVersion: opts.configVersion,
    modules: () => [...new Set(modules.values())],
    log: log.child('config'),
    // modules that read ctx.config later see the change
    onApplied: (next) => (ctx.config = next),
  });
  const ctx: AppContext = { config, log, http, api, hooks: {}, modules, configService };
  // the HTTP module and the API guard exist from the start so every module can add (protected) routes in its
  // constructor; the listener starts at its place in the list
  ctx.modules.set('http', http);
  ctx.modules.set('api', api);
  const list: AppModule[] = [];
  for (const factory of opts.modules ?? MODULES) {
    const m = factory(ctx);
    if (!list.includes(m)) list.push(m);
    ctx.modules.set(m.name, m);
  }
  return { ctx, runner: new ModuleRunner(list), http };
}
