/**
 * The MS-MSBD server: a downstream server (or a legacy pull client) connects, sends MSB_MSG_REQ_CONNECT, and
 * gets RES_CONNECT, the stream's IND_STREAMINFO and its IND_PACKETs, a new STREAMINFO at every header change,
 * and IND_EOS + the empty STREAMINFO at the end (MS-MSBD 3.1). Each session is a relay member of the point's
 * live fan-out (live edge, outside the player limits), all sessions of a point sharing one framer.
 *
 * The channel names the point: "NetShow" (what Windows clients send) gets the configured default point, any
 * other name the point of that name. MSBD has no authentication: points that require a login, points the
 * address may not use, on-demand points and multicast delivery (dwFlags 2) are refused with an HRESULT, then
 * the connection is closed. Pings go out every pingIntervalMs on the core's clock; a client that does not answer
 * one within as long is dropped.
 */
import type { AddressInfo } from 'node:net';
import type { MsbdConfig } from '../../config/sections/msbd.js';
import type { MediaResolver, MediaTarget, PlayHandle, Sweeper } from '../../contracts/media.js';
import type { SessionSummary } from '../../contracts/sessions.js';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { TcpListener, type Connection } from '../../net/listener.js';
import { checkAccess } from '../shared/preamble.js';
import { SocketSink } from '../shared/socket-sink.js';
import { statusForError } from '../shared/status.js';
import {
  CONNECT_MULTICAST,
  encodeConnectResponse,
  NSC_PUBLISHED,
  encodeSimple,
  encodeStreamInfo,
  HR,
  MSBD_MAX_BINARY_DATA,
  MsbdMessageReader,
  NETSHOW_CHANNEL,
  type MsbdMessage,
} from './codec.js';
import { MsbdFramer } from './framer.js';

const POINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface MsbdServerOptions {
  config: MsbdConfig;
  resolver: MediaResolver;
  sweeper: Sweeper;
  log: Logger;
  onSessionEnd?: (summary: SessionSummary) => void;
  /** whether a point's ASF header is also published in an .nsc (RES_CONNECT then says so: dwFlags 2) */
  hasNsc?: (point: string) => boolean;
}

/** the HRESULT a refusal gets */
function hrFor(e: MssError): number {
  switch (statusForError(e)) {
    case 401:
    case 403:
      return HR.ACCESS_DENIED;
    case 404:
      return HR.NOT_FOUND;
    case 400:
      return HR.INVALID_ARGUMENT;
    default:
      return HR.FAIL;
  }
}

let nextClientId = 1;

class MsbdSession {
  readonly clientId = nextClientId++;
  private readonly reader = new MsbdMessageReader();
  private state: 'connect' | 'starting' | 'streaming' | 'closed' = 'connect';
  private handle: PlayHandle | null = null;
  private sink: SocketSink | null = null;
  private framer: MsbdFramer | null = null;
  private point = '';
  private channel = '';
  private readonly started = Date.now();
  /** performance.now() of the ping waiting for its answer (0: none) */
  pingSentAt = 0;
  lastPingAt = performance.now();

  constructor(
    readonly conn: Connection,
    private readonly server: MsbdServer,
  ) {
    const socket = conn.socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.once('close', () => this.finish());
  }

  private get log(): Logger {
    return this.server.log;
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    if (this.state === 'connect' && this.reader.buffered === 0) this.conn.requestStarted();
    let messages: MsbdMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.log.warn('msbd.rejected', { remote: this.conn.remoteAddress, reason: toMssError(err).message });
      this.conn.socket.destroy();
      return;
    }
    for (const m of messages) this.onMessage(m);
  }

  private onMessage(m: MsbdMessage): void {
    if (this.state === 'connect') {
      if (m.type !== 'REQ_CONNECT') {
        this.refuse(HR.INVALID_ARGUMENT, `${m.type} before MSB_MSG_REQ_CONNECT`);
        return;
      }
      this.conn.requestComplete();
      this.state = 'starting';
      void this.connect(m.flags, m.channel);
      return;
    }
    switch (m.type) {
      case 'RES_PING':
        this.pingSentAt = 0;
        break;
      case 'REQ_PING':
        this.conn.socket.write(encodeSimple('RES_PING'));
        break;
      case 'REQ_STREAMINFO': {
        // deprecated but answered: the current stream's description
        const info = this.framer?.current;
        if (info) this.conn.socket.write(encodeStreamInfo(info, 'RES_STREAMINFO'));
        break;
      }
      default:
        this.log.warn('msbd.rejected', { remote: this.conn.remoteAddress, reason: `unexpected ${m.type} from a client` });
        this.conn.socket.destroy();
    }
  }

  private refuse(hr: number, reason: string): void {
    this.log.warn('msbd.rejected', { remote: this.conn.remoteAddress, channel: this.channel || undefined, reason, hr: `0x${(hr >>> 0).toString(16)}` });
    this.state = 'closed';
    this.server.counters.refused++;
    const socket = this.conn.socket;
    if (socket.destroyed) return;
    socket.end(encodeConnectResponse(hr));
    // the client should close after a refusal; it does not get to hold the socket
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private async connect(flags: number, channel: string): Promise<void> {
    this.channel = channel;
    if (flags & CONNECT_MULTICAST) return this.refuse(HR.MULTICAST_REFUSED, 'multicast delivery (dwFlags 2) is not offered: TCP only');
    const point = channel === NETSHOW_CHANNEL ? this.server.config.defaultPoint : channel;
    if (!point) return this.refuse(HR.NOT_FOUND, 'channel "NetShow" asked for, and no msbd.defaultPoint is set');
    if (!POINT_NAME.test(point)) return this.refuse(HR.INVALID_ARGUMENT, `channel ${JSON.stringify(point.slice(0, 64))} is not a publishing point name`);
    this.point = point;
    let target: MediaTarget;
    try {
      target = await this.server.resolver.resolve(`/${point}`);
      if (target.kind !== 'broadcast') throw new MssError('invalid-argument', `publishing point ${point} is on-demand: MSBD serves broadcasts only`);
      const access = checkAccess(target, { remote: this.conn.remoteAddress, method: 'MSBD', uri: `/${point}` });
      if (!access.ok) throw new MssError('forbidden', access.status === 401 ? `publishing point ${point} requires a login, which MSBD cannot give` : access.reason);
      const desc = await target.describe();
      if (desc.headerBytes.length > MSBD_MAX_BINARY_DATA - 512) throw new MssError('unsupported', `the ASF header of ${point} (${desc.headerBytes.length} bytes) does not fit an MSBD STREAMINFO`);
    } catch (err) {
      const e = toMssError(err, 'unavailable');
      return this.refuse(hrFor(e), e.message);
    }
    if (this.state === 'closed' || this.conn.socket.destroyed) return;
    this.framer = this.server.framerFor(point);
    const sink = new SocketSink(this.conn.socket, { head: encodeConnectResponse(HR.OK, { flags: this.server.hasNsc(point) ? NSC_PUBLISHED : 0 }) });
    try {
      this.handle = await target.play({ role: 'relay', sendHeader: true }, this.framer, sink, {
        protocol: 'msbd',
        remote: this.conn.remoteAddress,
        url: `msbd://${point}`,
        userAgent: `MSBD ${channel}`,
        clientId: this.clientId,
      });
    } catch (err) {
      const e = toMssError(err, 'unavailable');
      if (!sink.started) return this.refuse(hrFor(e), e.message);
      this.conn.socket.destroy();
      return;
    }
    this.sink = sink;
    if (this.conn.socket.destroyed) {
      this.handle.stop('client-gone');
      return;
    }
    this.state = 'streaming';
    this.conn.streaming();
    this.lastPingAt = performance.now();
    this.log.info('msbd.session-started', { remote: this.conn.remoteAddress, point, channel, clientId: this.clientId });
  }

  /** the server's sweep: pings, and the answer's deadline */
  sweep(now: number): void {
    if (this.state !== 'streaming') return;
    const every = this.server.config.pingIntervalMs;
    if (this.pingSentAt && now - this.pingSentAt > every) {
      this.log.warn('msbd.rejected', { remote: this.conn.remoteAddress, point: this.point, reason: `no MSB_MSG_RES_PING within ${every} ms` });
      this.conn.socket.destroy();
      return;
    }
    if (!this.pingSentAt && now - this.lastPingAt >= every) {
      this.lastPingAt = now;
      this.pingSentAt = now;
      this.sink?.write(encodeSimple('REQ_PING'));
    }
  }

  stop(): void {
    this.handle?.stop('stopped');
    this.conn.socket.destroy();
  }

  private finish(): void {
    const wasStreaming = this.state === 'streaming';
    this.state = 'closed';
    this.server.forget(this);
    const handle = this.handle;
    this.handle = null;
    if (!handle) return;
    handle.stop('client-gone');
    if (!wasStreaming) return;
    const s = handle.stats;
    this.server.onSessionEnd?.({
      protocol: 'msbd',
      remoteAddress: this.conn.remoteAddress,
      url: `msbd://${this.point}`,
      point: this.point,
      userAgent: `MSBD ${this.channel}`,
      clientId: this.clientId,
      start: this.started,
      durationMs: Date.now() - this.started,
      bytesSent: s.bytesSent,
      packetsSent: s.packetsSent,
      status: 200,
    });
    this.log.info('msbd.session-ended', { remote: this.conn.remoteAddress, point: this.point, clientId: this.clientId, reason: s.endReason, packets: s.packetsSent });
  }
}

export class MsbdServer {
  private readonly listener: TcpListener;
  private readonly sessions = new Set<MsbdSession>();
  private readonly framers = new Map<string, MsbdFramer>();
  private removeSweep: (() => void) | null = null;
  readonly log: Logger;
  readonly counters = { connections: 0, refused: 0 };

  constructor(private readonly opts: MsbdServerOptions) {
    this.log = opts.log;
    this.listener = new TcpListener('msbd', opts.config, opts.log, (conn) => this.onConnection(conn));
  }

  get config(): MsbdConfig {
    return this.opts.config;
  }

  get resolver(): MediaResolver {
    return this.opts.resolver;
  }

  get onSessionEnd(): ((s: SessionSummary) => void) | undefined {
    return this.opts.onSessionEnd;
  }

  hasNsc(point: string): boolean {
    return this.opts.hasNsc?.(point) ?? false;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  address(): AddressInfo | null {
    return this.listener.address();
  }

  async start(): Promise<AddressInfo> {
    const bound = await this.listener.start();
    this.removeSweep = this.opts.sweeper.addSweep((now) => {
      for (const s of this.sessions) s.sweep(now);
    });
    return bound;
  }

  async stop(): Promise<void> {
    this.removeSweep?.();
    this.removeSweep = null;
    for (const s of [...this.sessions]) s.stop();
    await this.listener.stop();
  }

  /** one framer per point, shared by its sessions (one fan-out group, one stream ID sequence) */
  framerFor(point: string): MsbdFramer {
    let f = this.framers.get(point);
    if (!f) {
      f = new MsbdFramer(point, this.log);
      this.framers.set(point, f);
    }
    return f;
  }

  forget(s: MsbdSession): void {
    this.sessions.delete(s);
  }

  stats(): Record<string, unknown> {
    return { sessions: this.sessions.size, ...this.counters, listener: this.listener.guard.stats() };
  }

  private onConnection(conn: Connection): void {
    this.counters.connections++;
    this.sessions.add(new MsbdSession(conn, this));
  }
}
