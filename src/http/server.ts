/**
 * The one HTTP listener (WMSP players, encoder pushes, log POSTs, .asx files, status API). Routes are added by
 * modules; this module owns the socket limits: bounded request line + headers (431), header/request timeouts
 * against slowloris (408 or close), an idle timeout on kept-alive connections, a cap on connections. Every
 * rejection is logged once as one JSON line with the peer address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HttpConfig } from '../config/index.js';
import { MssError, toMssError, type MssErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import type { HttpRequestContext, HttpRoute, HttpRouteRegistry } from './route.js';

/** HTTP status for each error code (protocols may map differently where their spec says so). */
export const STATUS_FOR_CODE: Record<MssErrorCode, number> = {
  truncated: 400,
  malformed: 400,
  'too-large': 413,
  unsupported: 400,
  'invalid-config': 400,
  'invalid-argument': 400,
  'not-found': 404,
  forbidden: 403,
  unauthorized: 401,
  conflict: 409,
  'limit-reached': 503,
  timeout: 408,
  unavailable: 503,
  expired: 410,
  internal: 500,
};

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 413: 'Payload Too Large', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 453: 'Not Enough Bandwidth',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Error';
}

/** The HTTP status of an error: a status the error names itself (e.g. 429 for a rate limit), else by its code. */
export function statusForError(e: MssError): number {
  const named = e.detail.status;
  if (typeof named === 'number' && Number.isInteger(named) && named >= 400 && named <= 599) return named;
  return e.code === 'too-large' && /header/i.test(e.message) ? 431 : STATUS_FOR_CODE[e.code];
}

const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLog, enabled: () => false };

/** Peer address without the IPv4-mapped IPv6 prefix. */
export function peerAddress(socket: Socket | undefined | null): string {
  const a = socket?.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Writes a small text error response (when the response is still untouched) and logs the rejection once. */
export function rejectRequest(res: ServerResponse, ctx: Pick<HttpRequestContext, 'log' | 'remoteAddress'>, status: number, message: string, fields: Record<string, unknown> = {}, headers: Record<string, string | string[]> = {}): void {
  ctx.log.warn('http.rejected', { remote: ctx.remoteAddress, status, reason: message, ...fields });
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${status} ${reasonPhrase(status)}: ${message}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', Connection: 'close', ...headers });
  res.end(body);
}

export class HttpModule implements AppModule, HttpRouteRegistry {
  readonly name = 'http';
  private server: Server | null = null;
  private routes: HttpRoute[] = [];
  private readonly sockets = new Set<Socket>();
  private state: 'stopped' | 'starting' | 'running' | 'failed' = 'stopped';
  private rejected = 0;
  private requests = 0;
  private listening: AddressInfo | null = null;

  constructor(private config: HttpConfig, private readonly log: Logger) {}

  addRoute(route: HttpRoute): void {
    this.routes = [...this.routes.filter((r) => r.name !== route.name), route].sort((a, b) => b.priority - a.priority);
  }

  removeRoute(name: string): void {
    this.routes = this.routes.filter((r) => r.name !== name);
  }

  /** The bound address once started (port 0 in the config picks a free port). */
  address(): AddressInfo | null {
    return this.listening;
  }

  async start(): Promise<void> {
    this.state = 'starting';
    const cfg = this.config;
    const server = createServer({
      maxHeaderSize: cfg.maxHeaderBytes,
      headersTimeout: cfg.headerTimeoutMs,
      // the whole request (headers and body) must arrive in this time; streaming responses are not affected
      requestTimeout: cfg.headerTimeoutMs * 2,
      keepAliveTimeout: Math.min(cfg.idleTimeoutMs, 5000),
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(cfg.headerTimeoutMs / 2))),
      // WMP and other HTTP/1.0 players may omit Host
      requireHostHeader: false,
      joinDuplicateHeaders: false,
    });
    server.maxConnections = cfg.maxConnections;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      // a connection idle this long with no request at all is closed (streams turn this off)
      socket.setTimeout(cfg.idleTimeoutMs, () => {
        this.rejected++;
        this.log.warn('http.rejected', { remote: peerAddress(socket), reason: 'idle timeout', timeoutMs: cfg.idleTimeoutMs });
        socket.destroy();
      });
    });
    server.on('drop', (data: { remoteAddress?: string }) => {
      this.rejected++;
      this.log.warn('http.rejected', { remote: (data?.remoteAddress ?? '').replace(/^::ffff:/, ''), reason: 'too many connections', maxConnections: cfg.maxConnections });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.onRequest(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        this.state = 'failed';
        reject(new MssError('unavailable', `cannot listen on ${cfg.host}:${cfg.port}: ${err.message}`));
      };
      server.once('error', onError);
      server.listen(cfg.port, cfg.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('http.error', { error: err }));
    this.server = server;
    this.listening = server.address() as AddressInfo;
    this.state = 'running';
    this.log.info('http.listening', { host: this.listening.address, port: this.listening.port });
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // an open-ended upload (an encoder's push body) marked by its route is not a slow request
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && (socket as Socket & Record<symbol, unknown>)[Symbol.for('mss.http.longRequest')]) return;
    this.rejected++;
    const code = err.code ?? '';
    let status = 400;
    let reason = 'malformed request';
    if (code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      reason = `request line and headers exceed ${this.config.maxHeaderBytes} bytes`;
    } else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      reason = 'request headers not received in time';
    } else if (code === 'ECONNRESET' || code === 'EPIPE') {
      // the peer went away (a player closing its stream): not a rejection
      this.rejected--;
      socket.destroy();
      return;
    } else if (code.startsWith('HPE_')) {
      reason = `malformed request (${code.slice(4).toLowerCase().replace(/_/g, ' ')})`;
    }
    this.log.warn('http.rejected', { remote: peerAddress(socket), status: status || undefined, reason, code });
    if (status && socket.writable && !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      const body = `${status} ${reasonPhrase(status)}: ${reason}\n`;
      socket.end(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const remoteAddress = peerAddress(req.socket);
    const log = this.log;
    const maxBody = this.config.maxBodyBytes;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      this.rejected++;
      rejectRequest(res, { log, remoteAddress }, 400, 'request target is not a valid URL', { target: (req.url ?? '').slice(0, 200) });
      return;
    }
    const ctx: HttpRequestContext = {
      url,
      remoteAddress,
      log,
      readBody: (maxBytes: number) => readBody(req, Math.min(maxBytes, maxBody)),
    };
    // a request is being handled: the per-connection idle timer restarts for it
    req.socket.setTimeout(this.config.idleTimeoutMs);
    const route = this.routes.find((r) => {
      try {
        return r.match(req, ctx);
      } catch {
        return false;
      }
    });
    if (!route) {
      this.rejected++;
      rejectRequest(res, ctx, 404, `nothing is served at ${url.pathname.slice(0, 200)}`, { method: req.method });
      return;
    }
    try {
      await route.handle(req, res, ctx);
    } catch (err) {
      const e = toMssError(err);
      const status = statusForError(e);
      this.rejected++;
      if (status >= 500) log.error('http.route-failed', { route: route.name, remote: remoteAddress, error: e });
      // a flood (rate limit) is logged once per address and window, not once per request
      const quiet = Number(e.detail.refusedInWindow ?? 1) > 1;
      const headers: Record<string, string> = e.detail.retryAfter !== undefined ? { 'Retry-After': String(e.detail.retryAfter) } : {};
      rejectRequest(res, quiet ? { ...ctx, log: silentLog } : ctx, status, e.message, { route: route.name, method: req.method, path: url.pathname.slice(0, 200) }, headers);
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections();
    await closed;
    this.state = 'stopped';
    this.listening = null;
  }

  health(): ModuleHealth {
    return {
      ok: this.state === 'running',
      state: this.state,
      detail: { port: this.listening?.port, connections: this.sockets.size, requests: this.requests, rejected: this.rejected },
    };
  }

  telemetry(): Record<string, unknown> {
    return { connections: this.sockets.size, requests: this.requests, rejected: this.rejected };
  }

  connectionCount(): number {
    return this.sockets.size;
  }
}

/** Reads a request body up to maxBytes (413 as MssError 'too-large' beyond it). */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume();
      reject(new MssError('too-large', `request body of ${declared} bytes exceeds the ${maxBytes}-byte limit`));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > maxBytes) {
        done = true;
        req.pause();
        reject(new MssError('too-large', `request body exceeds the ${maxBytes}-byte limit`));
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(parts, size));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(new MssError('truncated', `request body: ${err.message}`));
    });
    req.on('aborted', () => {
      if (done) return;
      done = true;
      reject(new MssError('truncated', 'request body: the client went away'));
    });
  });
}
