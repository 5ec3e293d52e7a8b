/**
 * MS-WMSP server: request dispatch on the shared HTTP listener. Non-pipelined mode (HTTP/1.0 responses, one request
 * per connection, close after $E) is what ffmpeg, VLC and WMP use by default; pipelined mode (HTTP/1.1 chunked,
 * Pipeline test, Stop/KeepAlive/SelectStream/Log on the streaming connection) is supported too. A plain GET with no
 * Pragma gets the ASF stream as it is (an HTTP client such as `ffprobe http://...`) or, from a browser, the .asx.
 *
 * What it serves comes through the shared contract (src/contracts/media.ts); the non-streaming requests are in
 * control.ts, the raw responses in response.ts, per-connection pipelining state in connection.ts.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MediaResolver, MediaTarget, PacketFramer, PlayHandle, Sweeper } from '../../contracts/media.js';
import type { PlayerLogReport, SessionSummary } from '../../contracts/sessions.js';
import type { AuthGuard } from '../../auth/guard.js';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { HttpRequestContext, HttpRoute } from '../../http/route.js';
import { connectionOf } from '../../net/listener.js';
import { admitAccess } from '../shared/preamble.js';
import { SessionTable } from '../shared/session-table.js';
import { SocketSink } from '../shared/socket-sink.js';
import { statusForError } from '../shared/status.js';
import { classifyRequest, framePacketPair, pragmaUint, type ClassifiedRequest, type PragmaTokens } from './codec.js';
import { wmspConnection, type WmspSession } from './connection.js';
import { contentInfo, keepAlive, logRequest, pipelineTest, selectStream, sendEvent, simpleResponse, stopRequest, type WmspState } from './control.js';
import { ASF_STREAM_FRAMER, framerFor, headerFramesOf } from './framers.js';
import { cacheControlOf, clientVersion, featuresOf, isMediaClient, playOptions, pragmaLine } from './policy.js';
import { CONTENT_ASF, CONTENT_FRAMED, CONTENT_HEADER, releaseToStream, responseHead, retireResponse, sendRaw, SERVER_HEADER, whenAttached } from './response.js';

export { SERVER_HEADER, clientVersion };

export interface WmspServerOptions {
  resolver: MediaResolver;
  log: Logger;
  /** stores a player's log; awaited before the 204 */
  onPlayerLog?(log: PlayerLogReport): Promise<void>;
  onSessionEnd?(summary: SessionSummary): void;
  /** what a web browser gets instead of a stream (an .asx document), if set */
  browserResponse?(target: MediaTarget, url: string, host: string): { contentType: string; body: string } | undefined;
  /** largest log / event body accepted */
  maxBodyBytes?: number;
  /** idle time after which a session without a stream is forgotten (default 60 s) */
  sessionIdleMs?: number;
  /** most sessions remembered (default 20,000) */
  maxSessions?: number;
  /** delays failed credentials and rate-limits guessing per address, shared with the other protocols */
  authGuard?: AuthGuard;
}

const SESSION_TIMEOUT_MS = 60_000;

export class WmspServer implements WmspState {
  private readonly sessions: SessionTable<number, WmspSession>;
  readonly log: Logger;
  readonly announcedTimeoutMs: number;
  readonly maxBodyBytes: number;
  /** counters for health/telemetry */
  readonly counters = { requests: 0, plays: 0, refused: 0, logs: 0 };

  constructor(private readonly opts: WmspServerOptions) {
    this.log = opts.log;
    const idle = opts.sessionIdleMs ?? SESSION_TIMEOUT_MS;
    this.announcedTimeoutMs = Math.max(1000, idle - 5000);
    this.maxBodyBytes = opts.maxBodyBytes ?? 65536;
    this.sessions = new SessionTable<number, WmspSession>({
      idleMs: idle,
      maxSessions: opts.maxSessions ?? 20_000,
      newId: (taken) => {
        let id: number;
        do id = randomInt(1, 0x7fffffff);
        while (taken(id));
        return id;
      },
      isBusy: (s) => s.state === 'STREAMING',
      onExpire: (s, why) => why === 'stopped' && s.play?.stop('server stopping'),
    });
  }

  onPlayerLog(report: PlayerLogReport): Promise<void> {
    this.counters.logs++;
    return this.opts.onPlayerLog?.(report) ?? Promise.resolve();
  }

  /** idle sessions are swept on the core's clock */
  start(sweeper: Sweeper): void {
    this.sessions.start(sweeper);
  }

  stop(): void {
    this.sessions.stop();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * The WMSP route of the HTTP listener. A second route with another resolver serves requests that resolver owns
   * the same way (the forward proxy's absolute-URI requests).
   */
  route(priority = 50, resolver: MediaResolver = this.opts.resolver, name = 'wmsp'): HttpRoute {
    return {
      name,
      priority,
      match: (req) => {
        const ct = String(req.headers['content-type'] ?? '').toLowerCase();
        if (ct.startsWith('application/x-wms-push')) return false;
        const m = req.method ?? '';
        if (m === 'OPTIONS' && req.url === '*') return true;
        if (m !== 'GET' && m !== 'POST' && m !== 'OPTIONS') return false;
        return resolver.owns(req.url ?? '/');
      },
      handle: (req, res, ctx) => this.handle(req, res, ctx, resolver),
    };
  }

  session(id: number | undefined): WmspSession | undefined {
    return id === undefined ? undefined : this.sessions.get(id);
  }

  /** session for a request: the client-id's, or a new one (reset=true when the id was unknown) */
  sessionFor(pragmas: PragmaTokens): { session: WmspSession; reset: boolean } {
    const id = pragmaUint(pragmas, 'client-id');
    if (id !== undefined) {
      const s = this.sessions.touch(id);
      if (s) return { session: s, reset: false };
    }
    const session = this.sessions.create((nid) => ({ id: nid, state: 'INIT', lastSeen: Date.now(), play: null, dataSocket: null }));
    return { session, reset: id !== undefined };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, resolver: MediaResolver): Promise<void> {
    this.counters.requests++;
    const rawUrl = req.url ?? '/';
    const userAgent = String(req.headers['user-agent'] ?? '');
    const version = clientVersion(userAgent);
    const headers = req.headersDistinct as Record<string, string[]>;
    let c: ClassifiedRequest;
    try {
      c = classifyRequest(req.method ?? 'GET', headers, rawUrl);
    } catch (err) {
      const e = toMssError(err);
      throw new MssError(e.code === 'too-large' ? 'too-large' : 'malformed', `WMSP: ${e.message}`);
    }
    if (c.kind === 'KeepAlive' && req.method === 'OPTIONS') return keepAlive(this, req, res, c, true);
    if (c.kind === 'Pipeline') return pipelineTest(this, req, res, c);

    const target = await resolver.resolve(rawUrl);
    const access = await admitAccess(target, { remote: ctx.remoteAddress, method: req.method ?? 'GET', uri: rawUrl, authorization: req.headers.authorization }, this.opts.authGuard);
    if (!access.ok) {
      this.counters.refused++;
      this.summarize({ remoteAddress: ctx.remoteAddress, url: rawUrl, point: target.point, userAgent, start: Date.now() }, 0, access.status);
      if (access.status === 403) throw new MssError('forbidden', access.reason);
      if (access.status === 429) throw new MssError('limit-reached', 'too many failed attempts from this address; try again later', { status: 429, retryAfter: access.retryAfterS });
      ctx.log.warn('http.rejected', { remote: ctx.remoteAddress, status: 401, reason: access.reason, point: target.point });
      // the refusal names no account: whether a user exists is not told
      const body = '401 Unauthorized: credentials are required for this publishing point\n';
      res.writeHead(401, { Server: SERVER_HEADER, 'WWW-Authenticate': access.challenge, 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', Connection: 'close' });
      res.end(body);
      return;
    }

    switch (c.kind) {
      case 'Describe':
        if (!headers.pragma) return this.plainGet(req, res, c, target, ctx, userAgent);
        return this.describe(req, res, c, target, version);
      case 'Play':
        return this.play(req, res, c, target, version, ctx, framerFor(version, featuresOf(target), target.kind === 'broadcast'));
      case 'PlayNextEntry':
        // server-side playlists continue on their own (predictive selection): acknowledge
        return simpleResponse(this, req, res, c, 200);
      case 'KeepAlive':
        return keepAlive(this, req, res, c, false);
      case 'Log':
        return logRequest(this, req, res, c, target, ctx);
      case 'SendEvent':
        return sendEvent(this, req, res, c, target, ctx);
      case 'Stop':
        return stopRequest(this, req, res, c);
      case 'SelectStream':
        return selectStream(this, req, res, c, target);
      case 'GetContentInfo':
        return contentInfo(this, req, res, c, target);
    }
  }

  /** a GET with no Pragma: a browser gets the .asx, an HTTP media client (ffprobe http://) the ASF stream itself */
  private plainGet(req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget, ctx: HttpRequestContext, userAgent: string): Promise<void> | void {
    if (!isMediaClient(userAgent) && this.opts.browserResponse) {
      const doc = this.opts.browserResponse(target, req.url ?? '/', String(req.headers.host ?? ''));
      if (doc) {
        res.writeHead(200, { 'Content-Type': doc.contentType, 'Content-Length': Buffer.byteLength(doc.body), 'Cache-Control': 'no-cache', Server: SERVER_HEADER });
        res.end(doc.body);
        return;
      }
    }
    return this.play(req, res, c, target, 0, ctx, ASF_STREAM_FRAMER);
  }

  private async describe(req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget, version: number): Promise<void> {
    const { session, reset } = this.sessionFor(c.pragmas);
    if (session.state === 'STREAMING') throw new MssError('conflict', `session ${session.id} is streaming; Describe is not allowed now`);
    const info = await target.describe();
    const features = featuresOf(target);
    const frames = headerFramesOf(framerFor(version, features, target.kind === 'broadcast'), info.headerBytes);
    const pragma = [pragmaLine(session.id, this.announcedTimeoutMs, reset, features)];
    const wantPair = pragmaUint(c.pragmas, 'packet-pair-experiment') === 1;
    if (wantPair) pragma.push('packet-pair-experiment=1');
    const bodyLength = (pairs: Buffer[]) => [...pairs, ...frames].reduce((a, b) => a + b.length, 0);
    // packet-pair frames carry the size of the response head; it does not depend on the body length's digits much
    let pairs: Buffer[] = [];
    if (wantPair) pairs = framePacketPair(0, randomBytes);
    const head = responseHead({ contentType: CONTENT_HEADER, contentLength: bodyLength(pairs), pragma, cacheControl: cacheControlOf(target, info), supported: version >= 9 });
    if (wantPair) pairs = framePacketPair(Buffer.byteLength(head), randomBytes);
    sendRaw(res, req.socket, head, [...pairs, ...frames]);
  }

  private async play(req: IncomingMessage, res: ServerResponse, c: ClassifiedRequest, target: MediaTarget, version: number, ctx: HttpRequestContext, framer: PacketFramer): Promise<void> {
    this.counters.plays++;
    const socket = req.socket;
    const { session, reset } = this.sessionFor(c.pragmas);
    const userAgent = String(req.headers['user-agent'] ?? '');
    const base = { remoteAddress: ctx.remoteAddress, url: req.url ?? '/', point: target.point, userAgent, start: Date.now() };
    let sink: SocketSink | undefined;
    let handle: PlayHandle;
    let pipelined = false;
    try {
      if (session.state === 'STREAMING' && session.play && session.dataSocket && !session.dataSocket.destroyed && session.dataSocket !== socket) {
        throw new MssError('conflict', `session ${session.id} is already streaming to another connection`);
      }
      session.play?.stop('replaced by a new Play');
      // a pipelined Play behind other responses starts in its turn
      if (!res.socket) await new Promise<void>((resolve) => whenAttached(res, resolve));
      if (socket.destroyed) return;
      ({ sink, handle, pipelined } = await this.startStream(req, res, c, target, version, ctx, framer, session, reset, base));
    } catch (err) {
      const e = toMssError(err);
      // the W3C line records the status the player is about to get
      this.summarize(base, session.id, statusForError(e));
      if (sink?.started) {
        socket.destroy();
        return;
      }
      throw e;
    }
    session.state = 'STREAMING';
    session.play = handle;
    sink.start();
    // a non-pipelined stream keeps no request: the connection closes when the stream ends
    if (!pipelined) releaseToStream(res, socket);
    this.watchEnd(handle, session, base);
  }

  private async startStream(
    req: IncomingMessage,
    res: ServerResponse,
    c: ClassifiedRequest,
    target: MediaTarget,
    version: number,
    ctx: HttpRequestContext,
    framer: PacketFramer,
    session: WmspSession,
    reset: boolean,
    base: { url: string; userAgent: string },
  ): Promise<{ sink: SocketSink; handle: PlayHandle; pipelined: boolean }> {
    const socket = req.socket;
    const conn = wmspConnection(socket);
    const info = await target.describe();
    const opts = playOptions(c, info, target, session.selection);
    const plain = framer === ASF_STREAM_FRAMER;
    const pipelined = !plain && req.httpVersion === '1.1' && pragmaUint(c.pragmas, 'version11-enabled') === 1;
    const pragma = plain ? [] : [pragmaLine(session.id, this.announcedTimeoutMs, reset, featuresOf(target))];
    if (opts.accel) pragma.push(`AccelBW=${opts.accel.bandwidth}, AccelDuration=${opts.accel.durationMs}`);
    const head = responseHead({
      version: pipelined ? '1.1' : '1.0',
      contentType: plain ? CONTENT_ASF : CONTENT_FRAMED,
      pragma,
      cacheControl: cacheControlOf(target),
      chunked: pipelined,
      keepAlive: pipelined,
      supported: version >= 9,
    });
    // streams are watched by the slow-player logic and the no-progress timeout, not the idle timer
    connectionOf(socket)?.streaming();
    // only a pipelined stream's end needs its response (a closure over it would keep the pair alive)
    const sink = new SocketSink(socket, { head, chunked: pipelined, keepOpen: pipelined, onEnd: pipelined ? () => this.pipelinedStreamEnded(session, res) : undefined });
    session.dataSocket = socket;
    if (pipelined) conn.streaming = session;
    try {
      const handle = await target.play(opts, framer, sink, { protocol: 'wmsp', remote: ctx.remoteAddress, userAgent: base.userAgent, url: base.url, clientId: session.id });
      return { sink, handle, pipelined };
    } catch (err) {
      if (pipelined) conn.streaming = null;
      session.dataSocket = null;
      connectionOf(socket)?.idle();
      if (sink.started) socket.destroy();
      throw err;
    }
  }

  /** pipelined: the chunked stream ended; the connection is idle again and the waiting responses go out */
  private pipelinedStreamEnded(session: WmspSession, res: ServerResponse): void {
    session.state = 'IDLE';
    retireResponse(res);
    const socket = session.dataSocket;
    if (socket) {
      wmspConnection(socket).streaming = null;
      connectionOf(socket)?.idle();
    }
  }

  /** the session's summary when its stream ends (a method of its own, so the stream's life keeps no request alive) */
  private watchEnd(handle: PlayHandle, session: WmspSession, base: Omit<SessionSummary, 'protocol' | 'clientId' | 'durationMs' | 'bytesSent' | 'packetsSent' | 'status'>): void {
    void handle.ended.then(() => {
      if (session.play === handle) {
        session.play = null;
        if (session.state === 'STREAMING') session.state = 'IDLE';
        session.lastSeen = Date.now();
      }
      const s = handle.stats;
      this.summarize(base, session.id, 200, s.bytesSent, s.packetsSent);
      this.log.info('wmsp.session-ended', { remote: base.remoteAddress, point: base.point, clientId: session.id, reason: s.endReason, bytes: s.bytesSent, packets: s.packetsSent });
    });
  }

  private summarize(base: Omit<SessionSummary, 'protocol' | 'clientId' | 'durationMs' | 'bytesSent' | 'packetsSent' | 'status'>, clientId: number, status: number, bytesSent = 0, packetsSent = 0): void {
    this.opts.onSessionEnd?.({ protocol: 'wmsp', ...base, clientId, durationMs: Date.now() - base.start, bytesSent, packetsSent, status });
  }
}
