/**
 * MS-WMHTTP push receiver: an HTTP route on the shared listener that takes PushSetup / PushStart POSTs from
 * encoders and feeds a broadcast point through a small interface (PushTarget) the media server satisfies.
 *
 * Sessions are keyed by push-id (CSPRNG). One pusher per point is enforced by the target (openLiveIngest throws
 * 'conflict'); a session survives a dropped TCP connection until its Idle-Timeout so an encoder can reconnect with
 * its cookie (§3.2.7.1). The body is parsed as it arrives, bounded (one frame at a time); any bad input gets an
 * immediate error status and a closed connection, never an exception out of the route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseHeaderObject } from '../../asf/index.js';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Authenticator } from '../../auth/http-auth.js';
import type { HttpRequestContext, HttpRoute } from '../../http/route.js';
import { STATUS_FOR_CODE, reasonPhrase } from '../shared/status.js';
import {
  classifyPushRequest,
  isEncoderUserAgent,
  MAX_PUSH_HEADER,
  MAX_PUSH_SETUP_BODY,
  newPushId,
  parsePushIdCookie,
  parsePushSetupBody,
  pointNameFromPath,
  PushBodyParser,
  type PushBodyEvent,
  type PushPayloadForm,
} from './codec.js';

/** Where pushed media goes (the media core's LiveIngest, structurally). */
export interface PushIngest {
  setHeader(headerBytes: Buffer): void;
  pushPacket(packet: Buffer): void;
  end(reason?: string): void;
  readonly closed: boolean;
}

export interface PushTarget {
  /** throws MssError 'not-found' (unknown point, no usable template) or 'conflict' (already fed, not a push point) */
  openLiveIngest(pointName: string, opts: { remote: string; template?: string; autoDestroy?: boolean }): PushIngest;
  /** who may push to this point (or, when it does not exist yet, to its template); null = anyone */
  authenticatorFor?(pointName: string, template?: string): Promise<Authenticator | null>;
}

export interface PushReceiverOptions {
  target: PushTarget;
  log: Logger;
  /** while a PushStart body is being received: longest gap between packets (default 60 s, spec minimum 10 s) */
  idleTimeoutMs?: number;
  /** between requests of a session (default 120 s) */
  inactivityTimeoutMs?: number;
  /** sessions at once (default 64) */
  maxSessions?: number;
  /** largest ASF header accepted (default 65531, one $H) */
  maxHeaderBytes?: number;
  /** the Server token (encoders require Cougar/…) */
  serverToken?: string;
}

interface PushSession {
  id: string;
  point: string;
  remote: string;
  ingest: PushIngest;
  form: PushPayloadForm;
  header: Buffer | null;
  packetSize: number;
  /** the request currently streaming a PushStart body */
  active: { req: IncomingMessage; res: ServerResponse } | null;
  /** $E(1) seen: the next frame must be $C */
  expectChange: boolean;
  timer: NodeJS.Timeout | null;
  packets: number;
  bytes: number;
}

const DEFAULT_SERVER = 'Cougar/9.01.01.3814';

export class PushReceiver {
  private readonly sessions = new Map<string, PushSession>();
  private readonly idleMs: number;
  private readonly inactivityMs: number;
  private readonly maxSessions: number;
  private readonly maxHeader: number;
  private readonly server: string;
  readonly counters = { setups: 0, starts: 0, rejected: 0, packets: 0, headers: 0 };

  constructor(private readonly opts: PushReceiverOptions) {
    this.idleMs = Math.max(opts.idleTimeoutMs ?? 60_000, 1000);
    this.inactivityMs = opts.inactivityTimeoutMs ?? 120_000;
    this.maxSessions = opts.maxSessions ?? 64;
    this.maxHeader = Math.min(opts.maxHeaderBytes ?? MAX_PUSH_HEADER, MAX_PUSH_HEADER);
    this.server = opts.serverToken ?? DEFAULT_SERVER;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  route(priority = 70): HttpRoute {
    return {
      name: 'wmhttp-push',
      priority,
      match: (req) => classifyPushRequest(req.method, req.headers['content-type']) !== null,
      handle: (req, res, ctx) => this.handle(req, res, ctx),
    };
  }

  /** Ends every session (server shutdown): their points see the end of the stream. */
  stop(): void {
    for (const s of [...this.sessions.values()]) this.dropSession(s, 'server stopping');
  }

  private baseHeaders(sessionId?: string): Record<string, string> {
    const h: Record<string, string> = { Server: this.server, 'Cache-Control': 'no-cache', Pragma: `no-cache, timeout=${this.idleMs}` };
    if (sessionId) h['Set-Cookie'] = `push-id=${sessionId}`;
    return h;
  }

  private reject(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, err: MssError, extra: Record<string, string | string[]> = {}, close = true): void {
    this.counters.rejected++;
    const status = STATUS_FOR_CODE[err.code] ?? 400;
    ctx.log.warn('wmhttp.rejected', { remote: ctx.remoteAddress, status, reason: err.message, path: ctx.url.pathname.slice(0, 200), kind: classifyPushRequest(req.method, req.headers['content-type']) });
    if (res.headersSent || res.destroyed) {
      req.socket.destroy();
      return;
    }
    const body = `${status} ${reasonPhrase(status)}: ${err.message}\n`;
    res.writeHead(status, { ...this.baseHeaders(), 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), ...(close ? { Connection: 'close' } : {}), ...extra });
    res.end(body);
    if (close) {
      // answer without reading the rest of the body (§3.2.4.1), then close
      req.unpipe();
      req.pause();
      const sock = req.socket;
      res.once('finish', () => setTimeout(() => sock.destroy(), 50).unref());
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext): Promise<void> {
    const kind = classifyPushRequest(req.method, req.headers['content-type'])!;
    try {
      if (!isEncoderUserAgent(req.headers['user-agent'])) {
        throw new MssError('malformed', `push requests must come from an encoder (User-Agent WMEncoder/x.y), got ${JSON.stringify(String(req.headers['user-agent'] ?? '').slice(0, 60))}`);
      }
      // §3.1.4: push bodies always carry a Content-Length; chunked coding is not allowed
      if (req.headers['transfer-encoding']) throw new MssError('malformed', 'push requests must not use Transfer-Encoding (chunked bodies are not allowed)');
      const point = pointNameFromPath(ctx.url.pathname);
      const pushId = parsePushIdCookie(req.headers.cookie);
      if (kind === 'push-setup') await this.pushSetup(req, res, ctx, point, pushId);
      else await this.pushStart(req, res, ctx, point, pushId);
    } catch (err) {
      const e = toMssError(err, 'malformed');
      const extra: Record<string, string | string[]> = {};
      if (e.code === 'unauthorized' && Array.isArray(e.detail.challenge)) extra['WWW-Authenticate'] = e.detail.challenge as string[];
      // a 401 keeps the connection: the encoder repeats the request with credentials on it
      this.reject(req, res, ctx, e, extra, e.code !== 'unauthorized');
    }
  }

  private async authenticate(req: IncomingMessage, point: string, template?: string): Promise<void> {
    const auth = await this.opts.target.authenticatorFor?.(point, template);
    if (!auth) return;
    const result = auth.check(req.method ?? 'POST', req.url ?? '/', req.headers.authorization);
    if (!result.ok) throw new MssError('unauthorized', `push to ${point}: ${result.reason}`, { challenge: result.challenge });
  }

  private findSession(pushId: string | undefined, point: string): PushSession | undefined {
    if (pushId === undefined || pushId === '0') return undefined;
    const s = this.sessions.get(pushId);
    if (!s) return undefined;
    if (s.point !== point) throw new MssError('conflict', `push-id belongs to a push into ${s.point}, not ${point}`);
    return s;
  }

  private openSession(point: string, remote: string, template: string | undefined, autoDestroy: boolean): PushSession {
    if (this.sessions.size >= this.maxSessions) throw new MssError('limit-reached', `${this.sessions.size} push sessions already (limit ${this.maxSessions})`);
    const ingest = this.opts.target.openLiveIngest(point, { remote, template, autoDestroy });
    const s: PushSession = { id: newPushId(), point, remote, ingest, form: 'unknown', header: null, packetSize: 0, active: null, expectChange: false, timer: null, packets: 0, bytes: 0 };
    this.sessions.set(s.id, s);
    this.opts.log.info('wmhttp.session-opened', { point, remote, autoDestroy, template });
    return s;
  }

  private arm(s: PushSession, ms: number, why: string): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      s.timer = null;
      const active = s.active;
      if (active && !active.res.headersSent) {
        const body = `408 ${reasonPhrase(408)}: no push data for ${ms} ms\n`;
        active.res.writeHead(408, { ...this.baseHeaders(), 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
        active.res.end(body);
      }
      active?.req.socket.destroy();
      this.dropSession(s, why);
    }, ms);
    s.timer.unref?.();
  }

  private dropSession(s: PushSession, reason: string): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    if (!s.ingest.closed) s.ingest.end(reason === 'finished' ? 'finished' : reason);
    this.opts.log.info('wmhttp.session-closed', { point: s.point, remote: s.remote, reason, packets: s.packets, bytes: s.bytes });
  }

  private async pushSetup(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, point: string, pushId: string | undefined): Promise<void> {
    this.counters.setups++;
    const body = await ctx.readBody(MAX_PUSH_SETUP_BODY);
    const directives = parsePushSetupBody(body);
    const template = directives.templateUrl ? pointNameFromPath(directives.templateUrl) : undefined;
    await this.authenticate(req, point, template);
    let s = this.findSession(pushId, point);
    if (pushId !== undefined && pushId !== '0' && !s) throw new MssError('not-found', `unknown or expired push-id for ${point}`);
    if (s?.active) throw new MssError('conflict', `push session for ${point} is streaming on another connection`);
    if (!s) s = this.openSession(point, ctx.remoteAddress, template, directives.autoDestroy);
    this.arm(s, this.inactivityMs, 'inactivity timeout');
    res.writeHead(204, { ...this.baseHeaders(s.id), 'Content-Length': '0' });
    res.end();
  }

  private async pushStart(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, point: string, pushId: string | undefined): Promise<void> {
    this.counters.starts++;
    await this.authenticate(req, point);
    let s = this.findSession(pushId, point);
    // lenient like WMS (note <13>): a PushStart without a known push-id starts a new session
    if (!s) s = this.openSession(point, ctx.remoteAddress, undefined, false);
    if (s.active) throw new MssError('conflict', `push session for ${point} is already streaming on another connection`);
    const session = s;
    session.active = { req, res };
    this.arm(session, this.idleMs, 'idle timeout');
    // a push body lasts as long as the broadcast: the listener's whole-request deadline does not apply to it
    exemptFromRequestTimeout(req.socket);
    const parser = new PushBodyParser({ form: session.form, maxHeaderBytes: this.maxHeader });
    let failed = false;
    let ended = false;
    await new Promise<void>((resolve) => {
      const finish = () => {
        req.off('data', onData);
        resolve();
      };
      const onData = (chunk: Buffer) => {
        if (failed || ended) return;
        try {
          for (const ev of parser.push(chunk)) {
            this.onEvent(session, ev);
            if (this.sessions.get(session.id) !== session) {
              // $E(0) or an error end: the stream is over (the encoder closes after $E(0) anyway)
              ended = true;
              if (!res.headersSent) {
                res.writeHead(204, { ...this.baseHeaders(session.id), Connection: 'close' });
                res.end();
              }
              setTimeout(() => req.socket.destroy(), 200).unref();
              return finish();
            }
          }
          session.form = parser.payloadForm;
        } catch (err) {
          failed = true;
          // a malformed body closes the connection; a session that had a stream waits for a reconnect until its
          // idle timeout, one that never got a header is dropped at once (it would only hold the point)
          session.active = null;
          if (!session.header) this.dropSession(session, 'malformed body');
          this.reject(req, res, ctx, toMssError(err, 'malformed'));
          return finish();
        }
      };
      req.on('data', onData);
      req.once('end', () => {
        if (failed || ended) return;
        // Content-Length fully consumed (a $F-filled budget): 204, keep the connection for the next PushStart
        session.active = null;
        if (parser.bufferedBytes > 0) {
          failed = true;
          this.reject(req, res, ctx, new MssError('truncated', `push body ended inside a frame (${parser.bufferedBytes} bytes held)`));
          return finish();
        }
        if (this.sessions.get(session.id) === session) this.arm(session, this.inactivityMs, 'inactivity timeout');
        res.writeHead(204, { ...this.baseHeaders(session.id), 'Content-Length': '0' });
        res.end();
        finish();
      });
      req.once('close', () => {
        if (session.active?.req === req) {
          // TCP drop mid-body: not fatal, the idle timer keeps running for a reconnect (§3.2.7.1)
          session.active = null;
          ctx.log.info('wmhttp.connection-lost', { point: session.point, remote: ctx.remoteAddress });
        }
        finish();
      });
    });
  }

  private onEvent(s: PushSession, ev: PushBodyEvent): void {
    switch (ev.type) {
      case 'header':
      case 'stream-change': {
        if (ev.type === 'header' && s.expectChange) throw new MssError('malformed', 'expected $C after $E(1), got $H');
        s.expectChange = false;
        if (s.header && s.header.equals(ev.header)) break; // the same header again (a resumed PushStart)
        s.ingest.setHeader(ev.header); // throws MssError on a header the core cannot use
        s.header = ev.header;
        s.packetSize = parseHeaderObject(ev.header).fileProperties.packetSize;
        this.counters.headers++;
        this.arm(s, this.idleMs, 'idle timeout');
        break;
      }
      case 'data': {
        if (!s.header) throw new MssError('malformed', 'the first PushStart of a session must begin with $H, got $D');
        if (s.expectChange) throw new MssError('malformed', 'expected $C after $E(1), got $D');
        let packet = ev.packet;
        if (packet.length > s.packetSize) throw new MssError('malformed', `$D packet of ${packet.length} bytes exceeds the header's packet size ${s.packetSize}`);
        if (packet.length < s.packetSize) {
          // padding stripped by the sender: restore the fixed packet size (the padding bytes are zero)
          const full = Buffer.alloc(s.packetSize);
          packet.copy(full);
          packet = full;
        }
        s.ingest.pushPacket(packet);
        s.packets++;
        s.bytes += packet.length;
        this.counters.packets++;
        this.arm(s, this.idleMs, 'idle timeout');
        break;
      }
      case 'end':
        if (ev.reason === 1) {
          s.expectChange = true;
          break;
        }
        this.dropSession(s, ev.reason === 0 ? 'finished' : `encoder error 0x${ev.reason.toString(16)}`);
        break;
      case 'filler':
        break;
    }
  }
}

/**
 * Node's http server closes a connection whose request has not fully arrived within `requestTimeout`; a push body
 * is open-ended, so this connection is marked as exempt (the listener's clientError handler honours the mark).
 */
export const LONG_REQUEST = Symbol.for('mss.http.longRequest');
function exemptFromRequestTimeout(socket: Socket): void {
  (socket as Socket & { [LONG_REQUEST]?: boolean })[LONG_REQUEST] = true;
}
