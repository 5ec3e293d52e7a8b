/**
 * The one HTTP listener (WMSP players, encoder pushes, log POSTs, .asx files, status API). Routes are added by
 * modules; this module owns the socket limits: bounded request line + headers (431), header/request timeouts
 * against slowloris (408 or close), an idle timeout on kept-alive connections, a cap on connections. Every
 * rejection is logged once as one JSON line with the peer address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConnectionGuard, connectionOf, listenOn, peerAddress } from '../net/listener.js';
import type { HttpConfig } from '../config/index.js';
import { MssError, toMssError } from '../core/errors.js';
import { reasonPhrase, statusForError } from '../protocols/shared/status.js';

export { reasonPhrase, statusForError };
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import type { HttpRequestContext, HttpRoute, HttpRouteRegistry } from './route.js';

/** pipelined requests one connection may have waiting behind a running response (WMSP sends a few, not hundreds) */
const MAX_WAITING_RESPONSES = 32;

const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLog, enabled: () => false };

export { peerAddress };

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
  private readonly guard: ConnectionGuard;
  private state: 'stopped' | 'starting' | 'running' | 'failed' = 'stopped';
  private rejected = 0;
  private requests = 0;
  private listening: AddressInfo | null = null;

  constructor(private config: HttpConfig, private readonly log: Logger) {
    this.guard = new ConnectionGuard('http', config, log);
  }

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
    // connection limits (total and per address) and the idle/streaming timers of every connection
    server.prependListener('connection', (socket: Socket) => {
      if (!this.guard.admit(socket)) socket.destroy();
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.onRequest(req, res);
    });
    try {
      this.listening = await listenOn(server, cfg, 'HTTP');
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    server.on('error', (err) => this.log.error('http.error', { error: err }));
    this.server = server;
    this.state = 'running';
    this.log.info('http.listening', { host: this.listening.address, port: this.listening.port });
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (connectionOf(socket)?.ownedByStream) {
      // garbage after a stream's request: no error response may go into the stream
      this.rejected++;
      this.log.warn('http.rejected', { remote: peerAddress(socket), reason: 'bytes after the request of a connection that carries a stream', code: err.code });
      socket.destroy();
      return;
    }
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
    // a request is being handled: the per-connection idle timer restarts for it (a stream switches it to streaming)
    const conn = connectionOf(req.socket);
    if (conn?.ownedByStream) {
      // bytes after the request of a connection that carries a stream: answering would land inside the stream
      this.rejected++;
      log.warn('http.rejected', { remote: remoteAddress, reason: 'a request on a connection that carries a stream' });
      req.socket.destroy();
      return;
    }
    if (conn) {
      conn.idle();
      conn.requestComplete();
      if (conn.requests > this.config.maxRequestsPerConnection) {
        // a pipelined flood: one connection may not make requests without end
        this.rejected++;
        if (conn.requests === this.config.maxRequestsPerConnection + 1) {
          log.warn('http.rejected', { remote: remoteAddress, reason: 'too many requests on one connection', maxRequestsPerConnection: this.config.maxRequestsPerConnection });
        }
        req.socket.destroy();
        return;
      }
      if (!res.socket) {
        // a pipelined request behind a response still running (a stream): it waits, and only so many may
        conn.waitingResponses++;
        const done = () => conn.waitingResponses--;
        res.once('socket', done);
        if (conn.waitingResponses > MAX_WAITING_RESPONSES) {
          this.rejected++;
          log.warn('http.rejected', { remote: remoteAddress, reason: 'too many requests waiting behind a running response', waiting: conn.waitingResponses });
          req.socket.destroy();
          return;
        }
      }
    }
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
    this.guard.closeAll();
    server.closeAllConnections();
    await closed;
    this.state = 'stopped';
    this.listening = null;
  }

  health(): ModuleHealth {
    return {
      ok: this.state === 'running',
      state: this.state,
      detail: { port: this.listening?.port, connections: this.guard.size, requests: this.requests, rejected: this.rejected },
    };
  }

  telemetry(): Record<string, unknown> {
    const g = this.guard.stats();
    return { connections: g.connections, requests: this.requests, rejected: this.rejected + g.rejected, timedOut: g.timedOut };
  }

  connectionCount(): number {
    return this.guard.size;
  }

  /** connection counters (totals, top addresses) */
  connectionStats(): ReturnType<ConnectionGuard['stats']> {
    return this.guard.stats();
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
