/**
 * MS-WMSP server: the session machine on top of the codec. Non-pipelined mode (HTTP/1.0 responses, one request
 * per connection, close after $E) is what ffmpeg, VLC and WMP use by default; pipelined mode (HTTP/1.1 chunked,
 * Pipeline test, Stop/KeepAlive/SelectStream/Log on the streaming connection) is supported too.
 *
 * What it serves comes through the interfaces declared here (a resolver of request paths to targets that can
 * describe and play themselves); the media core satisfies them structurally, so this module imports nothing of it.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ContentDescription, MediaResolver, MediaTarget, PacketFramer, PlayerSink, PlayHandle } from '../../contracts/media.js';
import type { PlayerLogReport, SessionSummary } from '../../contracts/sessions.js';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { HttpRequestContext, HttpRoute } from '../../http/route.js';
import {
  END_FINISHED,
  classifyRequest,
  frameData,
  frameEnd,
  frameHeader,
  frameMetadata,
  framePacketPair,
  frameStreamChange,
  frameTest,
  parseAcceleration,
  parseStreamOffset,
  parseStreamSwitchEntries,
  pragmaUint,
  type ClassifiedRequest,
  type PragmaTokens,
} from './codec.js';

// -- what the server needs from the media core: the shared contract -------------------------------------------------

type WmspContentInfo = ContentDescription;
type WmspFramer = PacketFramer;
type WmspSink = PlayerSink;
type WmspPlayHandle = PlayHandle;
type WmspTarget = MediaTarget;
type WmspPlayerLog = PlayerLogReport;
type WmspSessionSummary = SessionSummary;

export interface WmspServerOptions {
  resolver: MediaResolver;
  log: Logger;
  /** stores a player's log; awaited before the 204 */
  onPlayerLog?(log: WmspPlayerLog): Promise<void>;
  onSessionEnd?(summary: WmspSessionSummary): void;
  /** what a web browser gets instead of a stream (an .asx document), if set */
  browserResponse?(target: WmspTarget, url: string, host: string): { contentType: string; body: string } | undefined;
  /** largest log / event body accepted */
  maxBodyBytes?: number;
  /** idle time after which a session without a stream is forgotten (default 60 s) */
  sessionIdleMs?: number;
}

// -- constants ----------------------------------------------------------------------------------------------------

export const SERVER_HEADER = 'Cougar/9.01.01.3814';
const SESSION_TIMEOUT_MS = 60_000;
const MAX_SESSIONS = 20_000;
const PIPELINE_TEST_MS = 1000;
const NOT_SET = 0xffffffff;

const CONTENT_HEADER = 'application/vnd.ms.wms-hdr.asfv1';
const CONTENT_FRAMED = 'application/x-mms-framed';

type SessionState = 'INIT' | 'STREAMING' | 'IDLE';

interface Session {
  id: number;
  state: SessionState;
  lastSeen: number;
  play: WmspPlayHandle | null;
  dataSocket: Socket | null;
  /** responses waiting for the streaming response to end (pipelined mode) */
  pending: Array<() => void>;
  selection?: Set<number>;
}

interface ConnectionState {
  /** pipeline test: first request answered, timer running or fired */
  pipelineTest?: { timer: NodeJS.Timeout | null; fired: boolean };
  /** a chunked streaming response is in progress on this connection */
  streaming: Session | null;
}

const connections = new WeakMap<Socket, ConnectionState>();

function connState(socket: Socket): ConnectionState {
  let s = connections.get(socket);
  if (!s) {
    s = { streaming: null };
    connections.set(socket, s);
  }
  return s;
}

/** Client major version from `NSPlayer/9.0.0.2980`-style user agents (0 when not a WMP-family client). */
export function clientVersion(userAgent: string): number {
  const m = /(?:NSPlayer|NSServer|WMCacheProxy)\/(\d+)/i.exec(userAgent);
  return m ? Number(m[1]) : 0;
}

/** Players and servers we stream to; anything else looking like a browser gets the announcement instead. */
function isMediaClient(userAgent: string): boolean {
  return /NSPlayer|NSServer|WMCacheProxy|VLC|Lavf|libmms|mplayer|Windows-Media-Player|mss\//i.test(userAgent) || userAgent === '';
}

// -- framers -----------------------------------------------------------------------------------------------------

const PLAIN_FRAMER: WmspFramer = {
  name: 'wmsp',
  header: (h) => frameHeader(h),
  data: (p, loc, seq) => frameData(p, loc, seq),
  streamChange: () => frameStreamChange(),
  end: (reason) => frameEnd(reason === 'finished' ? END_FINISHED : 0xc00d0bc2 /* NS_E_... vendor-style failure */),
};

const metadataFramers = new Map<string, WmspFramer>();

/** For clients >= 9 every header is preceded by $M (§2.2.3.6). */
function framerFor(version: number, features: string[], broadcast: boolean): WmspFramer {
  if (version < 9) return PLAIN_FRAMER;
  const key = `wmsp-m:${features.join(',')}`;
  let f = metadataFramers.get(key);
  if (!f) {
    f = {
      ...PLAIN_FRAMER,
      name: key,
      header: (h) => [frameMetadata({ playlistGenId: 0, broadcastId: broadcast ? 1 : 0, features }), ...frameHeader(h)],
    };
    metadataFramers.set(key, f);
  }
  return f;
}

/** $H (and $M) frames per header Buffer and framer: a broadcast's header is framed once for every Describe */
const headerFrameCache = new WeakMap<Buffer, Map<string, Buffer[]>>();

function headerFramesOf(framer: WmspFramer, headerBytes: Buffer): Buffer[] {
  let byFramer = headerFrameCache.get(headerBytes);
  if (!byFramer) {
    byFramer = new Map();
    headerFrameCache.set(headerBytes, byFramer);
  }
  let frames = byFramer.get(framer.name);
  if (!frames) {
    frames = framer.header(headerBytes);
    byFramer.set(framer.name, frames);
  }
  return frames;
}

// -- the socket sink ------------------------------------------------------------------------------------------------

class SocketSink implements WmspSink {
  private headWritten = false;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private head: string,
    private readonly chunked: boolean,
    /** pipelined: keep the connection after the end of the stream */
    private readonly keepOpen: boolean,
    private readonly onStreamEnd: () => void,
  ) {}

  get started(): boolean {
    return this.headWritten;
  }

  writeHead(): void {
    if (this.headWritten || this.socket.destroyed) return;
    this.headWritten = true;
    this.socket.write(this.head);
    this.head = ''; // not kept for the life of the stream
  }

  write(buf: Buffer): void {
    if (this.ended || this.socket.destroyed) return;
    this.writeHead();
    if (this.chunked) {
      this.socket.write(buf.length.toString(16) + '\r\n');
      this.socket.write(buf);
      this.socket.write('\r\n');
    } else {
      this.socket.write(buf);
    }
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  end(): void {
    if (this.ended) return;
    this.writeHead();
    this.ended = true;
    if (this.socket.destroyed) return;
    if (this.chunked) this.socket.write('0\r\n\r\n');
    if (this.keepOpen) this.onStreamEnd();
    else this.socket.end();
  }

  destroy(_reason: string): void {
    this.ended = true;
    this.socket.destroy();
  }

  get closed(): boolean {
    return this.ended || this.socket.destroyed;
  }

  onClose(cb: () => void): void {
    if (this.socket.destroyed) {
      queueMicrotask(cb);
      return;
    }
    this.socket.once('close', cb);
  }
}

// -- response helpers ---------------------------------------------------------------------------------------------

interface HeadOptions {
  status?: number;
  version?: '1.0' | '1.1';
  contentType?: string;
  contentLength?: number;
  pragma?: string[];
  cacheControl?: string;
  chunked?: boolean;
  keepAlive?: boolean;
  supported?: boolean;
  extra?: Record<string, string>;
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error', 503: 'Service Unavailable' };

function responseHead(o: HeadOptions): string {
  const status = o.status ?? 200;
  const lines = [`HTTP/${o.version ?? '1.0'} ${status} ${STATUS_TEXT[status] ?? 'OK'}`, `Server: ${SERVER_HEADER}`, `Date: ${new Date().toUTCString()}`];
  if (o.contentType) lines.push(`Content-Type: ${o.contentType}`);
  if (o.contentLength !== undefined) lines.push(`Content-Length: ${o.contentLength}`);
  lines.push(`Cache-Control: ${o.cacheControl ?? 'no-cache'}`);
  for (const p of o.pragma ?? []) lines.push(`Pragma: ${p}`);
  if (o.supported) lines.push('Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm, com.microsoft.wm.startupprofile');
  for (const [k, v] of Object.entries(o.extra ?? {})) lines.push(`${k}: ${v}`);
  if (o.chunked) lines.push('Transfer-Encoding: chunked');
  lines.push(o.keepAlive ? 'Connection: Keep-Alive' : 'Connection: close');
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Raw response on the socket (WMSP answers HTTP/1.0 or pipelined HTTP/1.1, not what Node would write). */
function sendRaw(socket: Socket, head: string, body: Buffer[] = [], close = true): void {
  if (socket.destroyed) return;
  socket.cork();
  socket.write(head);
  for (const b of body) socket.write(b);
  socket.uncork();
  if (close) socket.end();
}

// -- the server ---------------------------------------------------------------------------------------------------

export class WmspServer {
  private readonly sessions = new Map<number, Session>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  /** counters for health/telemetry */
  readonly counters = { requests: 0, plays: 0, refused: 0, logs: 0 };

  constructor(private readonly opts: WmspServerOptions) {
    this.log = opts.log;
  }

  start(): void {
    if (this.sweepTimer) return;
    // one timer for every session's idle timeout (not one per session)
    this.sweepTimer = setInterval(() => this.sweep(), 5000);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const s of this.sessions.values()) s.play?.stop('server stopping');
    this.sessions.clear();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  route(priority = 50): HttpRoute {
    return {
      name: 'wmsp',
      priority,
      match: (req) => {
        const ct = String(req.headers['content-type'] ?? '').toLowerCase();
        if (ct.startsWith('application/x-wms-push')) return false;
        const m = req.method ?? '';
        if (m === 'OPTIONS' && req.url === '*') return true;
        if (m !== 'GET' && m !== 'POST' && m !== 'OPTIONS') return false;
        return this.opts.resolver.owns(req.url ?? '/');
      },
      handle: (req, res, ctx) => this.handle(req, res, ctx),
    };
  }

  private sweep(): void {
    const now = Date.now();
    const idle = this.opts.sessionIdleMs ?? SESSION_TIMEOUT_MS;
    for (const [id, s] of this.sessions) {
      if (s.state !== 'STREAMING' && now - s.lastSeen > idle) this.sessions.delete(id);
    }
  }

  private newSession(): Session {
    if (this.sessions.size >= MAX_SESSIONS) {
      // forget the stalest idle session rather than grow without bound
      for (const [id, s] of this.sessions) {
        if (s.state !== 'STREAMING') {
          this.sessions.delete(id);
          break;
        }
      }
    }
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.sessions.has(id));
    const s: Session = { id, state: 'INIT', lastSeen: Date.now(), play: null, dataSocket: null, pending: [] };
    this.sessions.set(id, s);
    return s;
  }

  /** session for a request: the client-id's, or a new one (reset=true when the id was unknown) */
  private sessionFor(pragmas: PragmaTokens): { session: Session; reset: boolean } {
    const id = pragmaUint(pragmas, 'client-id');
    if (id !== undefined) {
      const s = this.sessions.get(id);
      if (s) {
        s.lastSeen = Date.now();
        return { session: s, reset: false };
      }
      return { session: this.newSession(), reset: true };
    }
    return { session: this.newSession(), reset: false };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext): Promise<void> {
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
    const socket = req.socket;
    const conn = connState(socket);

    if (c.kind === 'KeepAlive' && req.method === 'OPTIONS') return this.keepAlive(req, res, c, true);
    if (c.kind === 'Pipeline') return this.pipelineTest(req, c, conn);

    const target = await this.opts.resolver.resolve(rawUrl);
    if (!target.allows(ctx.remoteAddress)) {
      this.counters.refused++;
      this.summarizeRefusal(ctx, rawUrl, target.point, userAgent, 403);
      throw new MssError('forbidden', `${ctx.remoteAddress} may not use publishing point ${target.point}`);
    }
    if (target.auth) {
      const r = target.auth.check(req.method ?? 'GET', rawUrl, req.headers.authorization);
      if (!r.ok) {
        this.counters.refused++;
        ctx.log.warn('http.rejected', { remote: ctx.remoteAddress, status: 401, reason: r.reason, point: target.point });
        const body = `401 Unauthorized: ${r.reason}\n`;
        res.writeHead(401, {
          Server: SERVER_HEADER,
          'WWW-Authenticate': r.challenge,
          'Content-Type': 'text/plain',
          'Content-Length': Buffer.byteLength(body),
          'Cache-Control': 'no-cache',
          Connection: 'close',
        });
        res.end(body);
        return;
      }
    }

    switch (c.kind) {
      case 'Describe':
        if (!isMediaClient(userAgent) && !headers.pragma && this.opts.browserResponse) {
          const doc = this.opts.browserResponse(target, rawUrl, String(req.headers.host ?? ''));
          if (doc) {
            res.writeHead(200, { 'Content-Type': doc.contentType, 'Content-Length': Buffer.byteLength(doc.body), 'Cache-Control': 'no-cache', Server: SERVER_HEADER });
            res.end(doc.body);
            return;
          }
        }
        return this.describe(req, c, target, version);
      case 'Play':
      case 'PlayNextEntry':
        if (c.kind === 'PlayNextEntry') {
          // server-side playlists continue on their own (predictive selection): acknowledge
          return this.simpleResponse(req, c, 200);
        }
        return this.play(req, c, target, version, ctx, conn);
      case 'KeepAlive':
        return this.keepAlive(req, res, c, false);
      case 'Log':
        return this.logRequest(req, c, target, ctx, userAgent);
      case 'SendEvent':
        return this.sendEvent(req, c, target, ctx, userAgent);
      case 'Stop':
        return this.stopRequest(req, c, conn);
      case 'SelectStream':
        return this.selectStream(req, c, target);
      case 'GetContentInfo':
        return this.contentInfo(req, c, target);
    }
  }

  private features(target: WmspTarget, version: number): string[] {
    if (target.kind === 'broadcast') return target.live ? ['broadcast', 'live'] : ['broadcast'];
    // not "stridable": fast-forward/rewind (rate != 1) is not implemented, so it is not advertised
    void version;
    return ['seekable'];
  }

  private pragmaLine(session: Session, reset: boolean, features: string[] | null): string {
    const parts = ['no-cache', `client-id=${session.id}`];
    if (features) parts.push(`features="${features.join(',')}"`);
    parts.push(`timeout=${(this.opts.sessionIdleMs ?? SESSION_TIMEOUT_MS) - 5000}`);
    if (reset) parts.push('xResetStrm=1');
    return parts.join(', ');
  }

  private cacheControl(target: WmspTarget, info?: WmspContentInfo): string {
    if (target.kind === 'broadcast') return 'no-cache, x-wms-proxy-split, x-wms-stream-type="broadcast"';
    return info ? `no-cache, x-wms-content-size=${info.fileSize}` : 'no-cache';
  }

  private async describe(req: IncomingMessage, c: ClassifiedRequest, target: WmspTarget, version: number): Promise<void> {
    const { session, reset } = this.sessionFor(c.pragmas);
    if (session.state === 'STREAMING') throw new MssError('conflict', `session ${session.id} is streaming; Describe is not allowed now`);
    const info = await target.describe();
    const features = this.features(target, version);
    const framer = framerFor(version, features, target.kind === 'broadcast');
    const frames = headerFramesOf(framer, info.headerBytes);
    const pragma = [this.pragmaLine(session, reset, features)];
    const wantPair = pragmaUint(c.pragmas, 'packet-pair-experiment') === 1;
    if (wantPair) pragma.push('packet-pair-experiment=1');
    const bodyLength = (pairs: Buffer[]) => [...pairs, ...frames].reduce((a, b) => a + b.length, 0);
    // packet-pair frames carry the size of the response head; it does not depend on the body length's digits much
    let pairs: Buffer[] = [];
    if (wantPair) pairs = framePacketPair(0, randomBytes);
    const head = responseHead({ contentType: CONTENT_HEADER, contentLength: bodyLength(pairs), pragma, cacheControl: this.cacheControl(target, info), supported: version >= 9 });
    if (wantPair) pairs = framePacketPair(Buffer.byteLength(head), randomBytes);
    session.state = session.state === 'INIT' ? 'INIT' : 'IDLE';
    sendRaw(req.socket, head, [...pairs, ...frames]);
  }

  /** stream selection from stream-switch-entry; undefined = all streams */
  private selection(c: ClassifiedRequest, info: WmspContentInfo): Set<number> | undefined {
    const raw = c.pragmas.get('stream-switch-entry');
    const count = pragmaUint(c.pragmas, 'stream-switch-count');
    if (raw === undefined || count === 0) return undefined;
    const known = new Set(info.streams.map((s) => s.number));
    const chosen = new Set<number>();
    for (const e of parseStreamSwitchEntries(raw)) {
      if (e.thinning === 2) continue;
      // the spec says hexadecimal (VLC); ffmpeg prints decimal: prefer what exists in the header
      const n = known.has(e.stream) ? e.stream : known.has(e.streamDecimal) ? e.streamDecimal : -1;
      if (n >= 0) chosen.add(n);
    }
    if (chosen.size === 0) throw new MssError('malformed', `stream-switch-entry selects none of the streams ${[...known].join(', ')}`);
    // a multi-bitrate group sends one stream: the best that fits LinkBW (or the best)
    const link = pragmaUint(c.pragmas, 'LinkBW') ?? 0;
    for (const group of info.exclusiveGroups) {
      const inGroup = info.streams.filter((s) => group.includes(s.number) && chosen.has(s.number));
      if (inGroup.length < 2) continue;
      inGroup.sort((a, b) => b.bitrate - a.bitrate);
      const pick = (link > 0 ? inGroup.find((s) => s.bitrate <= link) : undefined) ?? (link > 0 ? inGroup[inGroup.length - 1] : inGroup[0]);
      for (const s of inGroup) if (s !== pick) chosen.delete(s.number);
    }
    if ([...known].every((n) => chosen.has(n))) return undefined;
    return chosen;
  }

  /** start position of an on-demand Play (§3.2.5.6 precedence) */
  private startPosition(c: ClassifiedRequest, info: WmspContentInfo, target: WmspTarget): { startTimeMs?: number; startPacket?: number } {
    if (target.kind !== 'ondemand') return {};
    const time = pragmaUint(c.pragmas, 'stream-time');
    if (time !== undefined && time !== 0 && time !== NOT_SET) return { startTimeMs: time };
    const pkt = pragmaUint(c.pragmas, 'packet-num');
    if (pkt !== undefined && pkt !== NOT_SET) return { startPacket: Math.min(pkt, info.packetCount) };
    const offset = parseStreamOffset(c.pragmas);
    if (offset !== undefined && offset > 0) {
      const firstPacket = info.headerBytes.length; // the header + 50-byte Data Object head precede packet 0
      const size = info.packetSize;
      // the spec's offset is file-absolute; VLC sends packetIndex × packetSize (data-relative)
      const dataRelative = offset < firstPacket || ((offset - firstPacket) % size !== 0 && offset % size === 0);
      const index = Math.floor((dataRelative ? offset : offset - firstPacket) / size);
      return { startPacket: Math.min(index, info.packetCount) };
    }
    return {};
  }

  private async play(req: IncomingMessage, c: ClassifiedRequest, target: WmspTarget, version: number, ctx: HttpRequestContext, conn: ConnectionState): Promise<void> {
    this.counters.plays++;
    const socket = req.socket;
    const { session, reset } = this.sessionFor(c.pragmas);
    if (session.state === 'STREAMING' && session.play && session.dataSocket && !session.dataSocket.destroyed && session.dataSocket !== socket) {
      throw new MssError('conflict', `session ${session.id} is already streaming to another connection`);
    }
    session.play?.stop('replaced by a new Play');
    const info = await target.describe();
    const streams = this.selection(c, info) ?? session.selection;
    const position = this.startPosition(c, info, target);
    const maxDuration = pragmaUint(c.pragmas, 'max-duration');
    const accel = parseAcceleration(c.pragmas);
    const pipelined = req.httpVersion === '1.1' && pragmaUint(c.pragmas, 'version11-enabled') === 1;
    const features = this.features(target, version);
    const framer = framerFor(version, features, target.kind === 'broadcast');
    const pragma = [this.pragmaLine(session, reset, features)];
    if (accel) pragma.push(`AccelBW=${accel.bandwidth}, AccelDuration=${accel.durationMs}`);
    const head = responseHead({
      version: pipelined ? '1.1' : '1.0',
      contentType: CONTENT_FRAMED,
      pragma,
      cacheControl: this.cacheControl(target),
      chunked: pipelined,
      keepAlive: pipelined,
      supported: version >= 9,
    });
    socket.setTimeout(0); // streams are watched by the slow-player logic, not the idle timer
    const startedAt = Date.now();
    const sink = new SocketSink(socket, head, pipelined, pipelined, () => this.streamDone(session, conn));
    session.dataSocket = socket;
    if (pipelined) conn.streaming = session;
    let handle: WmspPlayHandle;
    try {
      handle = await target.play(
        { ...position, streams, maxDurationMs: maxDuration && maxDuration !== NOT_SET ? maxDuration : undefined, accel },
        framer,
        sink,
        { protocol: 'wmsp', remote: ctx.remoteAddress, userAgent: String(req.headers['user-agent'] ?? ''), url: req.url ?? '/', clientId: session.id },
      );
    } catch (err) {
      if (pipelined) conn.streaming = null;
      session.dataSocket = null;
      const e = toMssError(err);
      const status = e.code === 'limit-reached' || e.code === 'unavailable' ? 503 : e.code === 'not-found' ? 404 : e.code === 'forbidden' ? 403 : e.code === 'internal' ? 500 : 400;
      this.summarizeRefusal(ctx, req.url ?? '/', target.point, String(req.headers['user-agent'] ?? ''), status, session.id);
      if (sink.started) {
        socket.destroy();
        return;
      }
      throw e;
    }
    session.state = 'STREAMING';
    session.play = handle;
    sink.writeHead();
    this.watchEnd(handle, session, { remoteAddress: ctx.remoteAddress, url: req.url ?? '/', point: target.point, userAgent: String(req.headers['user-agent'] ?? ''), start: startedAt });
  }

  /** the session's summary when its stream ends (a method of its own, so the stream's life keeps no request alive) */
  private watchEnd(handle: WmspPlayHandle, session: Session, base: { remoteAddress: string; url: string; point: string; userAgent: string; start: number }): void {
    void handle.ended.then(() => {
      if (session.play === handle) {
        session.play = null;
        if (session.state === 'STREAMING') session.state = 'IDLE';
        session.lastSeen = Date.now();
      }
      const s = handle.stats;
      this.opts.onSessionEnd?.({
        protocol: 'wmsp',
        ...base,
        clientId: session.id,
        durationMs: Date.now() - base.start,
        bytesSent: s.bytesSent,
        packetsSent: s.packetsSent,
        status: 200,
      });
      this.log.info('wmsp.session-ended', { remote: base.remoteAddress, point: base.point, clientId: session.id, reason: s.endReason, bytes: s.bytesSent, packets: s.packetsSent });
    });
  }

  /** pipelined: the chunked stream ended; answer the queued requests */
  private streamDone(session: Session, conn: ConnectionState): void {
    conn.streaming = null;
    session.state = 'IDLE';
    const pending = session.pending;
    session.pending = [];
    for (const p of pending) p();
  }

  private summarizeRefusal(ctx: HttpRequestContext, url: string, point: string, userAgent: string, status: number, clientId = 0): void {
    this.opts.onSessionEnd?.({ protocol: 'wmsp', remoteAddress: ctx.remoteAddress, url, point, userAgent, clientId, start: Date.now(), durationMs: 0, bytesSent: 0, packetsSent: 0, status });
  }

  /** a response that waits behind a streaming response on the same (pipelined) connection */
  private respondAfterStream(req: IncomingMessage, session: Session | null, send: () => void): void {
    const conn = connState(req.socket);
    if (conn.streaming && conn.streaming.state === 'STREAMING' && session === conn.streaming) {
      conn.streaming.pending.push(send);
      return;
    }
    send();
  }

  private simpleResponse(req: IncomingMessage, c: ClassifiedRequest, status: number, session?: Session, extraPragma: string[] = []): void {
    const s = session ?? this.sessionFor(c.pragmas).session;
    const keep = req.httpVersion === '1.1' && connState(req.socket).streaming !== null;
    const head = responseHead({ status, version: keep ? '1.1' : '1.0', contentLength: 0, pragma: [this.pragmaLine(s, false, null), ...extraPragma], keepAlive: keep });
    this.respondAfterStream(req, s, () => sendRaw(req.socket, head, [], !keep));
  }

  private keepAlive(req: IncomingMessage, _res: ServerResponse, c: ClassifiedRequest, pipelined: boolean): void {
    const { session, reset } = this.sessionFor(c.pragmas);
    session.lastSeen = Date.now();
    const keep = pipelined && req.httpVersion === '1.1';
    const head = responseHead({
      version: keep ? '1.1' : '1.0',
      contentLength: 0,
      pragma: [this.pragmaLine(session, reset, null)],
      keepAlive: keep,
      extra: pipelined ? { Public: 'GET, POST, OPTIONS', Allow: 'GET, POST, OPTIONS' } : {},
    });
    this.respondAfterStream(req, session, () => sendRaw(req.socket, head, [], !keep));
  }

  private pipelineTest(req: IncomingMessage, c: ClassifiedRequest, conn: ConnectionState): void {
    const socket = req.socket;
    const { session } = this.sessionFor(c.pragmas);
    socket.setTimeout(0);
    if (!conn.pipelineTest) {
      // first request: a chunked $T and no terminating chunk; the second request must come within ~1 s
      const state: NonNullable<ConnectionState['pipelineTest']> = { timer: null, fired: false };
      conn.pipelineTest = state;
      const t = frameTest();
      const head = responseHead({ version: '1.1', contentType: CONTENT_FRAMED, pragma: [this.pragmaLine(session, false, null), 'pipeline-experiment=1'], chunked: true, keepAlive: true });
      sendRaw(socket, head, [Buffer.from(`${t.length.toString(16)}\r\n`), t, Buffer.from('\r\n')], false);
      state.timer = setTimeout(() => {
        state.fired = true;
        state.timer = null;
        if (!socket.destroyed) socket.write('0\r\n\r\n');
      }, PIPELINE_TEST_MS);
      socket.once('close', () => {
        if (state.timer) clearTimeout(state.timer);
      });
      return;
    }
    const state = conn.pipelineTest;
    conn.pipelineTest = undefined;
    if (state.timer) {
      clearTimeout(state.timer);
      state.timer = null;
      socket.write('0\r\n\r\n');
      sendRaw(socket, responseHead({ status: 204, version: '1.1', pragma: [this.pragmaLine(session, false, null), 'pipeline-result=1'], keepAlive: true, contentLength: 0 }), [], false);
    } else {
      sendRaw(socket, responseHead({ status: 204, version: '1.0', pragma: [this.pragmaLine(session, false, null), 'pipeline-result=0'], contentLength: 0 }));
    }
  }

  private async logRequest(req: IncomingMessage, c: ClassifiedRequest, target: WmspTarget, ctx: HttpRequestContext, userAgent: string): Promise<void> {
    this.counters.logs++;
    const body = await ctx.readBody(this.opts.maxBodyBytes ?? 65536);
    const clientId = safeUint(c.pragmas, 'client-id');
    const session = clientId !== undefined ? this.sessions.get(clientId) : undefined;
    const report: WmspPlayerLog = {
      protocol: 'wmsp',
      remoteAddress: ctx.remoteAddress,
      url: req.url ?? '/',
      point: target.point,
      userAgent,
      clientId,
      contentType: req.headers['content-type'],
      body,
      logLine: c.pragmas.get('log-line'),
      receivedAt: Date.now(),
    };
    // stored before it is acknowledged. Unlike WMS, which answers 204 to any log, a log that cannot be parsed gets
    // a 400 naming the problem (and a flood a 429): nothing is stored, and the player or its operator learns why.
    await this.opts.onPlayerLog?.(report);
    this.simpleResponse(req, c, 204, session ?? undefined);
  }

  private async sendEvent(req: IncomingMessage, c: ClassifiedRequest, target: WmspTarget, ctx: HttpRequestContext, userAgent: string): Promise<void> {
    const body = await ctx.readBody(this.opts.maxBodyBytes ?? 65536);
    const clientId = safeUint(c.pragmas, 'client-id');
    // remote-log events (type 30) carry a rendering log: hand them to the log store like a Log request
    if (/<XML>/i.test(body.toString('latin1'))) {
      await this.opts.onPlayerLog?.({ protocol: 'wmsp', remoteAddress: ctx.remoteAddress, url: req.url ?? '/', point: target.point, userAgent, clientId, contentType: req.headers['content-type'], body, receivedAt: Date.now() });
    }
    this.simpleResponse(req, c, 204, clientId !== undefined ? this.sessions.get(clientId) : undefined);
  }

  private stopRequest(req: IncomingMessage, c: ClassifiedRequest, conn: ConnectionState): void {
    const id = pragmaUint(c.pragmas, 'client-id');
    const session = id !== undefined ? this.sessions.get(id) : undefined;
    if (!session) throw new MssError('not-found', `Stop: unknown client-id ${id ?? '(none)'}`);
    const play = session.play;
    session.play = null;
    const wasStreaming = conn.streaming === session;
    play?.stop('stopped by the client');
    session.state = 'IDLE';
    const respond = () => sendRaw(req.socket, responseHead({ version: '1.1', contentLength: 0, pragma: [this.pragmaLine(session, false, null)], keepAlive: true }), [], false);
    // the sink's end wrote the zero-length chunk and flushed the queue; answer now
    if (wasStreaming && conn.streaming === session) session.pending.push(respond);
    else respond();
  }

  private async selectStream(req: IncomingMessage, c: ClassifiedRequest, target: WmspTarget): Promise<void> {
    const id = pragmaUint(c.pragmas, 'client-id');
    const session = id !== undefined ? this.sessions.get(id) : undefined;
    if (!session) throw new MssError('not-found', `SelectStream: unknown client-id ${id ?? '(none)'}`);
    const info = await target.describe();
    session.selection = this.selection(c, info);
    // applies to the running stream too (new streams begin at their next key frame)
    session.play?.selectStreams?.(session.selection);
    this.simpleResponse(req, c, 200, session);
  }

  private async contentInfo(req: IncomingMessage, c: ClassifiedRequest, target: WmspTarget): Promise<void> {
    const info = await target.describe();
    const { session } = this.sessionFor(c.pragmas);
    const head = responseHead({ contentLength: 0, pragma: [this.pragmaLine(session, false, this.features(target, 9))], cacheControl: this.cacheControl(target, info) });
    sendRaw(req.socket, head);
  }
}

function safeUint(tokens: PragmaTokens, name: string): number | undefined {
  try {
    return pragmaUint(tokens, name);
  } catch {
    return undefined;
  }
}
