/**
 * The RTSP-WME server (MS-RTSP): a TCP listener with the shared limits, one RtspConnection per socket, sessions in
 * the shared bounded table (idle expiry and RTCP sender reports on the core's one clock), and the dispatch of each
 * request to its handler (describe-setup.ts, play.ts, parameters.ts) after the checks every request gets (CSeq,
 * Session, Supported, playlist id). What it serves comes through the media contract; errors become RTSP statuses,
 * each refusal logged once with the peer. Every response names the server WMServer/..., which is what FFmpeg and
 * GStreamer look for before they speak Windows Media RTSP at all.
 */
import type { AddressInfo } from 'node:net';
import type { MediaResolver, Sweeper } from '../../contracts/media.js';
import type { MediaServerHooks } from '../../contracts/sessions.js';
import type { AuthGuard } from '../../auth/guard.js';
import type { RtspConfig } from '../../config/sections/rtsp.js';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { TcpListener, type Connection } from '../../net/listener.js';
import { SessionTable } from '../shared/session-table.js';
import { serializeResponse, type InterleavedFrame, type RtspRequest } from './codec.js';
import { RtspConnection, type RtspConnectionHandler } from './conn.js';
import { PUBLIC_METHODS, SERVER_FEATURES, rtspStatusFor, type HeaderValues, type RtspExchange, type RtspServerState } from './context.js';
import { describe, newSessionId, setup } from './describe-setup.js';
import { pathOf, presentationOf } from './describe.js';
import { LivePacketizers } from './framer.js';
import { parseCSeq, parseSession, parseSupported } from './headers.js';
import { getParameter, setParameter } from './parameters.js';
import { pause, play, teardown } from './play.js';
import type { RtspSession, SessionDeps } from './session.js';
import { UdpPortPairs } from './udp-ports.js';

export interface RtspServerOptions {
  config: RtspConfig;
  resolver: MediaResolver;
  /** the core's clock: session expiry and sender reports run on it */
  sweeper: Sweeper;
  hooks: MediaServerHooks;
  log: Logger;
  /** failed credentials answered late and guessing rate-limited per address, with the other protocols */
  authGuard?: AuthGuard;
}

function safePath(uri: string): string {
  try {
    return pathOf(presentationOf(uri));
  } catch {
    return uri.slice(0, 200);
  }
}

/** methods of RFC 2326 a client may not use here (ANNOUNCE is the server's; RECORD has no place in MS-RTSP) */
const NOT_ALLOWED = new Set(['ANNOUNCE', 'RECORD', 'REDIRECT']);

export class RtspServer implements RtspServerState, RtspConnectionHandler {
  readonly config: RtspConfig;
  readonly log: Logger;
  readonly resolver: MediaResolver;
  readonly hooks: MediaServerHooks;
  readonly authGuard: AuthGuard | undefined;
  readonly sessions: SessionTable<string, RtspSession>;
  readonly ports: UdpPortPairs;
  readonly live = new LivePacketizers();
  readonly sessionDeps: SessionDeps;
  readonly counters = { requests: 0, plays: 0, refused: 0, logs: 0, sessionsCreated: 0 };
  readonly announcedTimeout: number;
  private readonly listener: TcpListener;
  private readonly byConnection = new WeakMap<Connection, RtspConnection>();
  private readonly bound = new Map<RtspConnection, Set<RtspSession>>();
  private removeTick: (() => void) | null = null;

  constructor(private readonly opts: RtspServerOptions) {
    const c = opts.config;
    this.config = c;
    this.log = opts.log;
    this.resolver = opts.resolver;
    this.hooks = opts.hooks;
    this.authGuard = opts.authGuard;
    this.announcedTimeout = Math.max(10, Math.floor((c.sessionTimeoutMs - 5000) / 1000));
    this.ports = new UdpPortPairs(c.udp.portMin, c.udp.portMax, c.host);
    this.sessionDeps = {
      log: opts.log,
      live: this.live,
      serverName: c.serverName,
      udpMaxPacket: Math.min(0xffff, c.udp.mtu - 28),
      udpMaxBitrate: c.udp.maxBitrate,
      lengthMode: c.payloadLength,
      stripPadding: c.stripPadding,
      onSessionEnd: (summary) => this.hooks.onSessionEnd?.(summary),
    };
    this.sessions = new SessionTable<string, RtspSession>({
      idleMs: c.sessionTimeoutMs,
      maxSessions: c.maxSessions,
      newId: newSessionId,
      isBusy: (s) => s.busy,
      onExpire: (s, why) => {
        this.unbind(s);
        // MS-RTSP 3.2.6.2: an expired session's connection is closed
        s.end(why === 'idle' ? 'session timed out' : why === 'evicted' ? 'evicted (session table full)' : 'server stopping', why !== 'stopped');
      },
    });
    this.listener = new TcpListener('rtsp', c, opts.log, (conn) => this.accept(conn), (conn) => this.requestTimeout(conn));
  }

  async start(): Promise<AddressInfo> {
    const addr = await this.listener.start();
    this.sessions.start(this.opts.sweeper);
    this.removeTick = this.opts.sweeper.addSweep((now) => {
      for (const s of this.sessions.values()) s.tick(now);
    });
    return addr;
  }

  async stop(): Promise<void> {
    this.removeTick?.();
    this.removeTick = null;
    this.sessions.stop();
    await this.listener.stop();
  }

  address(): AddressInfo | null {
    return this.listener.address();
  }

  status(): Record<string, unknown> {
    let playing = 0;
    let udp = 0;
    for (const s of this.sessions.values()) {
      if (s.playing) playing++;
      if (s.transport?.kind === 'udp') udp++;
    }
    return { sessions: this.sessions.size, playing, udpSessions: udp, udpPortPairs: { used: this.ports.used, capacity: this.ports.capacity }, connections: this.listener.guard.stats(), ...this.counters };
  }

  // -- connections ---------------------------------------------------------------------------------------------

  private accept(conn: Connection): void {
    const c = new RtspConnection(conn, this, { maxHeaderBytes: this.config.maxRequestBytes, maxBodyBytes: this.config.maxBodyBytes });
    this.byConnection.set(conn, c);
  }

  private requestTimeout(conn: Connection): void {
    const c = this.byConnection.get(conn);
    c?.end(serializeResponse(408, { Server: this.config.serverName, Connection: 'close' }));
  }

  bind(session: RtspSession, conn: RtspConnection): void {
    if (session.conn && session.conn !== conn) this.bound.get(session.conn)?.delete(session);
    session.conn = conn;
    let set = this.bound.get(conn);
    if (!set) {
      set = new Set();
      this.bound.set(conn, set);
    }
    set.add(session);
  }

  unbind(session: RtspSession): void {
    if (session.conn) this.bound.get(session.conn)?.delete(session);
  }

  sessionsOn(conn: RtspConnection): number {
    return this.bound.get(conn)?.size ?? 0;
  }

  /**
   * The connection is gone: a session streaming interleaved on it (or never set up) cannot go on and ends now, with
   * its summary; a UDP session may go on without it (its RTCP reports keep it, as MS-RTSP 3.2.7.2 allows).
   */
  closed(conn: RtspConnection): void {
    const sessions = this.bound.get(conn);
    this.bound.delete(conn);
    for (const s of sessions ?? []) {
      s.connectionClosed(conn);
      if (s.transport?.kind !== 'udp' && this.sessions.delete(s.id)) s.end('connection closed', false);
    }
  }

  isStreaming(conn: RtspConnection): boolean {
    for (const s of this.bound.get(conn) ?? []) if (s.busy) return true;
    return false;
  }

  interleaved(conn: RtspConnection, frame: InterleavedFrame): void {
    if (frame.channel % 2 === 0) return; // RTP from a player: nothing to do with it
    for (const s of this.bound.get(conn) ?? []) {
      if (s.transport?.kind === 'tcp' && s.transport.rtcpChannel === frame.channel) s.rtcp(frame.data);
    }
  }

  refuse(conn: RtspConnection, status: number, err: MssError): void {
    this.counters.refused++;
    this.log.warn('rtsp.rejected', { remote: conn.remote, status, reason: err.message });
    conn.end(serializeResponse(status, { Server: this.config.serverName, Date: new Date().toUTCString(), Connection: 'close' }));
  }

  // -- responses -----------------------------------------------------------------------------------------------

  response(x: RtspExchange, status: number, headers: HeaderValues = {}, body?: Buffer): Buffer {
    const list: Array<[string, string]> = [];
    if (x.cseq !== '') list.push(['CSeq', x.cseq]);
    list.push(['Server', this.config.serverName], ['Date', new Date().toUTCString()]);
    const given = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
    if (x.session && !given.has('session')) list.push(['Session', x.session.id]);
    if (x.session?.playlistGenId) list.push(['X-Playlist-Gen-Id', String(x.session.playlistGenId)]);
    if (!given.has('supported')) list.push(['Supported', SERVER_FEATURES.join(', ')]);
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) list.push([k, String(one)]);
    }
    return serializeResponse(status, list, body);
  }

  reply(x: RtspExchange, status: number, headers?: HeaderValues, body?: Buffer): void {
    x.conn.write(this.response(x, status, headers, body));
  }

  summarizeRefusal(x: RtspExchange, point: string, status: number): void {
    this.hooks.onSessionEnd?.({ protocol: 'rtsp', remoteAddress: x.conn.remote, url: safePath(x.req.uri), point, userAgent: x.conn.userAgent, clientId: 0, start: Date.now(), durationMs: 0, bytesSent: 0, packetsSent: 0, status });
  }

  // -- requests ------------------------------------------------------------------------------------------------

  async handle(conn: RtspConnection, req: RtspRequest): Promise<void> {
    this.counters.requests++;
    const x: RtspExchange = { conn, req, cseq: '' };
    try {
      const cseq = req.headers.get('cseq');
      if (cseq === undefined) throw new MssError('malformed', 'the request has no CSeq', { status: 400 });
      x.cseq = String(parseCSeq(cseq));
      const ua = req.headers.get('user-agent');
      if (ua !== undefined) conn.userAgent = ua.slice(0, 512);
      const supported = req.headers.get('supported');
      if (supported !== undefined) conn.features = parseSupported(supported);
      this.loadSession(x);
      await this.dispatch(x);
    } catch (err) {
      this.answerError(x, toMssError(err));
    }
  }

  /** the Session header's session (454 when unknown), refreshed, with the request's feature list */
  private loadSession(x: RtspExchange): void {
    const header = x.req.headers.get('session');
    if (header === undefined) return;
    const { id } = parseSession(header);
    if (id.length > 20) throw new MssError('not-found', `session id of ${id.length} characters (at most 20)`, { status: 454 });
    const session = this.sessions.touch(id);
    if (!session) throw new MssError('not-found', `no session ${id}`, { status: 454 });
    x.session = session;
    if (!session.conn || session.conn.isClosed) this.bind(session, x.conn);
    if (x.req.headers.has('supported')) session.features = new Set(x.conn.features);
    const gen = x.req.headers.get('x-playlist-gen-id');
    if (gen !== undefined && x.req.method !== 'PLAY' && x.req.method !== 'TEARDOWN' && session.playlistGenId !== 0 && /^\d+$/.test(gen) && Number(gen) !== 0 && Number(gen) !== session.playlistGenId) {
      throw new MssError('conflict', `X-Playlist-Gen-Id ${gen} is not the current entry ${session.playlistGenId}`, { status: 412 });
    }
  }

  private async dispatch(x: RtspExchange): Promise<void> {
    switch (x.req.method) {
      case 'OPTIONS':
        this.reply(x, 200, { Public: PUBLIC_METHODS });
        return;
      case 'DESCRIBE':
        return describe(this, x);
      case 'SETUP':
        return setup(this, x);
      case 'PLAY':
        return play(this, x);
      case 'PAUSE':
        return pause(this, x);
      case 'TEARDOWN':
        return teardown(this, x);
      case 'GET_PARAMETER':
        return getParameter(this, x);
      case 'SET_PARAMETER':
        return setParameter(this, x);
      default:
        if (NOT_ALLOWED.has(x.req.method)) throw new MssError('unsupported', `${x.req.method} is not accepted from a player`, { status: 405 });
        throw new MssError('unsupported', `unknown method ${x.req.method}`, { status: 501 });
    }
  }

  private answerError(x: RtspExchange, e: MssError): void {
    const status = rtspStatusFor(e);
    this.counters.refused++;
    const extra: HeaderValues = {};
    if (status === 401) extra['WWW-Authenticate'] = Array.isArray(e.detail.challenge) ? (e.detail.challenge as string[]) : undefined;
    if (status === 405 || status === 501) extra.Allow = PUBLIC_METHODS;
    if (typeof e.detail.retryAfterS === 'number') extra['Retry-After'] = e.detail.retryAfterS;
    if (status === 500) this.log.error('rtsp.failed', { remote: x.conn.remote, method: x.req.method, uri: x.req.uri.slice(0, 200), error: e });
    else this.log.warn('rtsp.rejected', { remote: x.conn.remote, method: x.req.method, uri: x.req.uri.slice(0, 200), status, reason: e.message });
    // a refusal names its reason for people; clients read the status
    const body = Buffer.from(`${status} ${e.message}\r\n`, 'utf8');
    this.reply(x, status, { ...extra, 'Content-Type': 'text/plain' }, body);
  }
}
