/**
 * The one place where this module's operator routes (the control API, /metrics, the status page) are protected:
 * every one is registered through `operatorAccess(ctx)`, which hands it to the app's API guard (`ctx.api`, the
 * `api` config section: loopback only unless api.allowRemote; Basic, Digest or bearer token once api.auth.scheme
 * is set; failed attempts delayed and rate-limited per address). Only `protect: false` (/metrics with
 * metrics.protect off) leaves a route open.
 */
import type { AppContext } from '../app/context.js';
import type { HttpRoute } from '../http/route.js';

export interface OperatorRouteOptions {
  /** false: served without credentials (/metrics with metrics.protect off) */
  protect: boolean;
}

export type OperatorRouteWrapper = (route: HttpRoute, opts?: OperatorRouteOptions) => HttpRoute;

export function operatorAccess(ctx: AppContext): OperatorRouteWrapper {
  return (route, opts = { protect: true }) => (opts.protect ? ctx.api.protect(route) : route);
}
