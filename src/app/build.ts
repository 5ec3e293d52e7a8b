/**
 * The one place the appliance is composed: modules are created in one ordered list (store → logs → HTTP and
 * media server → encoder → device agent), started in that order and stopped in reverse. Constructors do no I/O.
 * To add a module, add one line to MODULES at its place in the order.
 */
import type { MssConfig } from '../config/index.js';
import { createLogger, type Logger } from '../core/log.js';
import { ModuleRunner, type AppModule } from '../core/module.js';
import { HttpModule } from '../http/server.js';
import { MediaServerModule } from './media-server.js';
import { RtspModule } from './rtsp-module.js';
import { LogsModule } from '../logs/module.js';
import { DeviceAgent } from '../device/agent.js';
import { EncoderModule } from '../encoder/module.js';
import type { AppContext } from './context.js';

export type ModuleFactory = (ctx: AppContext) => AppModule;

/** Modules in start order. */
export const MODULES: ReadonlyArray<ModuleFactory> = [
  // store, logs: added by their owners here (before the HTTP listener, so logs are stored before they are acknowledged)
  (ctx) => new LogsModule(ctx),
  (ctx) => ctx.modules.get('http')!,
  (ctx) => new MediaServerModule(ctx),
  (ctx) => new RtspModule(ctx),
  (ctx) => EncoderModule.fromContext(ctx),
  // the device agent comes last: it watches every module above (health, telemetry, reconfigure, commands);
  // it stays off when mqtt.url is empty
  (ctx) => new DeviceAgent({ config: ctx.config, modules: () => [...new Set(ctx.modules.values())] }),
];

export interface App {
  ctx: AppContext;
  runner: ModuleRunner;
  http: HttpModule;
}

export function buildApp(config: MssConfig, opts: { log?: Logger; modules?: ReadonlyArray<ModuleFactory> } = {}): App {
  const log = opts.log ?? createLogger('mss');
  const http = new HttpModule(config.http, log.child('http'));
  const ctx: AppContext = { config, log, http, hooks: {}, modules: new Map() };
  // the HTTP module exists from the start so every module can add routes in its constructor;
  // it starts listening at its place in the list
  ctx.modules.set('http', http);
  const list: AppModule[] = [];
  for (const factory of opts.modules ?? MODULES) {
    const m = factory(ctx);
    if (!list.includes(m)) list.push(m);
    ctx.modules.set(m.name, m);
  }
  return { ctx, runner: new ModuleRunner(list), http };
}
