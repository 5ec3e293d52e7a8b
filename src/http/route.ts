import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/log.js';

/**
 * One HTTP port, many roles: WMSP players, WMHTTP encoder pushes, log POSTs, .asx/.nsc files and the status
 * API are routes on the one listener, told apart by method, path, headers and Pragma tokens.
 */
export interface HttpRequestContext {
  url: URL;
  /** peer address without the IPv6-mapped prefix */
  remoteAddress: string;
  log: Logger;
  /** reads the request body, refusing (MssError 'too-large') more than maxBytes */
  readBody(maxBytes: number): Promise<Buffer>;
}

export interface HttpRoute {
  /** for logs and the status API */
  name: string;
  /** routes are tried from the highest priority down; the first that matches handles the request */
  priority: number;
  match(req: IncomingMessage, ctx: HttpRequestContext): boolean;
  handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext): Promise<void> | void;
}

/** Wraps an operator route (status, logs, later commands) so only the callers the `api` config lets in reach it. */
export interface OperatorRouteGuard {
  protect(route: HttpRoute): HttpRoute;
}

/** Where modules add their routes (the HTTP module owns the listener). */
export interface HttpRouteRegistry {
  addRoute(route: HttpRoute): void;
  removeRoute(name: string): void;
}
