/**
 * What the modules of one running appliance share: the validated config, the root logger, the one HTTP route
 * registry, and late-bound hooks between modules (the logs module fills the media server's log hooks, so
 * neither imports the other).
 */
import type { MssConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { AppModule } from '../core/module.js';
import type { HttpRouteRegistry, OperatorRouteGuard } from '../http/route.js';
import type { MediaServerHooks } from '../contracts/sessions.js';

export interface AppContext {
  config: MssConfig;
  log: Logger;
  http: HttpRouteRegistry;
  /** every operator endpoint (/api/...) is added through `api.protect(route)` */
  api: OperatorRouteGuard;
  hooks: MediaServerHooks;
  /** modules created so far, in list order (a later module may look up an earlier one) */
  modules: Map<string, AppModule>;
}
