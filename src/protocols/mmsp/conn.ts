/**
 * One MMS control connection on the server (MS-MMSP 3.2): reading TcpMessageHeader packets under the listener's
 * limits, the message flood guard, keep-alive pings and the idle timeout (both run from the server's one sweep),
 * replies with the connection's sequence numbers, and the dispatch of each message to the handshake or playback
 * handlers in the order it arrived. A session is its connection: it ends when the socket closes.
 */
import type { Socket as DgramSocket } from 'node:dgram';
import type { ContentDescription, MediaResolver, MediaTarget, PlayHandle } from '../../contracts/media.js';
import type { PlayerLogReport, SessionSummary } from '../../contracts/sessions.js';
import { toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Connection } from '../../net/listener.js';
import type { MmspConfig } from '../../config/sections/mmsp.js';
import { HRESULT, MmsStreamReader, encodeTcpMessage, hex32 } from './codec.js';
import type { AuthGuard } from '../../auth/guard.js';
import type { DataFramerCache } from './framers.js';
import { decodeViewer, encodeMac, type MacMessage, type ViewerMessage } from './messages.js';
import { onCancelReadBlock, onConnect, onConnectFunnel, onFunnelInfo, onLogging, onOpenFile, onReadBlock, onSecurityResponse } from './handshake.js';
import { onStartPlaying, onStartStriding, onStopPlaying, onStreamSwitch, stopPlay } from './playback.js';
import type { ResendingSink } from './resend.js';

/** what every connection shares: the server's context */
export interface MmspServerContext {
  resolver: MediaResolver;
  log: Logger;
  config: MmspConfig;
  serverVersion: string;
  /** the UDP socket data goes out from and resend requests arrive on (null: UDP is off) */
  udp: DgramSocket | null;
  framers: DataFramerCache;
  /** a random client id (nCubs) for a new session; throws limit-reached when the table is full */
  register(conn: MmsConnection): number;
  unregister(conn: MmsConnection): void;
  onPlayerLog?(report: PlayerLogReport): Promise<void>;
  onSessionEnd?(summary: SessionSummary): void;
  /** delays failed credentials and rate-limits guessing per address, shared with the other protocols */
  authGuard?: AuthGuard;
  counters: { connections: number; plays: number; refused: number; logs: number; resent: number; protocolErrors: number };
}

export type SessionState = 'connect' | 'funnel' | 'open' | 'auth' | 'opened' | 'ready' | 'streaming' | 'closed';

export interface ActivePlay {
  handle: PlayHandle;
  playIncarnation: number;
  transport: 'tcp' | 'udp';
  /** UDP: the resend buffer in front of the datagram sink */
  resend: ResendingSink | null;
  /** set when the session itself ends the play (StopPlaying, a UDP stream change): no end-of-stream report then */
  stoppedBySession: boolean;
}

/** requests in flight (an OpenFile waiting for a file) before the connection counts as flooding */
const MAX_QUEUED_MESSAGES = 64;
/** replies with an error hr before the connection is closed */
const MAX_REFUSED_REQUESTS = 16;

export class MmsConnection {
  state: SessionState = 'connect';
  readonly remote: string;
  clientId = 0;
  subscriberName = '';
  userAgent = '';
  udpPacketPair = false;
  funnel: { transport: 'tcp' } | { transport: 'udp'; port: number } | null = null;
  target: MediaTarget | null = null;
  info: ContentDescription | null = null;
  /** the header generation that went out with the last ReadBlock */
  headerGeneration = -1;
  url = '';
  readonly openFileId = 1;
  auth: { cookie: number; attempts: number; playIncarnation: number } | null = null;
  selection: Set<number> | undefined = undefined;
  selectionGiven = false;
  play: ActivePlay | null = null;
  playCount = 0;
  /** a play is being started: its ReportStartedPlaying already has a sequence number */
  starting = false;
  headerTimer: NodeJS.Timeout | null = null;
  readonly totals = { bytes: 0, packets: 0, firstPlayAt: 0, status: 0 };
  readonly connectedAt = Date.now();
  /** TableEntry: the last request (not counting pongs), for the idle timeout */
  lastSeen = Date.now();
  private lastMessageSentAt = 0;
  private seq = 0;
  private readonly reader: MmsStreamReader;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private refused = 0;
  private floodWindow = { start: Date.now(), count: 0 };
  private summarized = false;

  constructor(
    readonly ctx: MmspServerContext,
    readonly conn: Connection,
  ) {
    this.remote = conn.remoteAddress;
    this.reader = new MmsStreamReader({ acceptData: false, maxControlPacket: ctx.config.maxMessageBytes });
    const socket = conn.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.once('close', () => this.closed());
  }

  /** (a getter: TypeScript's narrowing of `state` does not survive an await) */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get socket() {
    return this.conn.socket;
  }

  get log(): Logger {
    return this.ctx.log;
  }

  // -- sending ---------------------------------------------------------------------------------------------------

  /** a control message as bytes with the next sequence number (for framers that put it in the data path) */
  control(m: MacMessage): Buffer {
    const e = encodeMac(m);
    this.lastMessageSentAt = Date.now();
    return encodeTcpMessage(e.mid, e.fields, this.seq++, Date.now() - this.connectedAt);
  }

  /** the next sequence number, to give back with seqRewind when the packets numbered from it were never sent */
  seqMark(): number {
    return this.seq;
  }

  seqRewind(mark: number): void {
    this.seq = mark;
  }

  send(m: MacMessage): void {
    if (this.socket.destroyed) return;
    this.socket.write(this.control(m));
  }

  /** a refusal in the reply the request expects; too many of them end the session */
  refuse(m: MacMessage, why: string): void {
    this.ctx.counters.refused++;
    this.log.warn('mmsp.refused', { remote: this.remote, clientId: this.clientId, reply: m.type, hr: 'hr' in m ? hex32(m.hr) : undefined, reason: why });
    this.send(m);
    if (++this.refused >= MAX_REFUSED_REQUESTS) this.close(`${this.refused} refused requests`);
  }

  /** ends the session: logs once, stops a play, closes the socket (pending bytes are flushed) */
  close(reason: string, level: 'info' | 'warn' = 'warn'): void {
    if (this.state === 'closed') return;
    this.log[level](level === 'warn' ? 'mmsp.rejected' : 'mmsp.closed', { remote: this.remote, clientId: this.clientId, reason });
    this.state = 'closed';
    stopPlay(this, 'session closed');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  // -- receiving -------------------------------------------------------------------------------------------------

  private onBytes(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let packets;
    try {
      packets = this.reader.push(chunk);
    } catch (err) {
      this.ctx.counters.protocolErrors++;
      return this.close(`bad control data: ${toMssError(err).message}`);
    }
    if (this.reader.buffered > 0) this.conn.requestStarted();
    else {
      this.conn.requestComplete();
      this.settleTimers();
    }
    for (const item of packets) {
      if (item.kind !== 'control') continue;
      for (const msg of item.packet.messages) {
        if (!this.countMessage()) return;
        let m: ViewerMessage;
        try {
          m = decodeViewer(msg);
        } catch (err) {
          this.ctx.counters.protocolErrors++;
          return this.close(`bad message ${hex32(msg.mid)}: ${toMssError(err).message}`);
        }
        if (++this.queued > MAX_QUEUED_MESSAGES) return this.close(`more than ${MAX_QUEUED_MESSAGES} requests waiting`);
        this.chain = this.chain.then(() => this.dispatch(m)).finally(() => this.queued--);
      }
    }
  }

  /** the flood guard: false (and the session closed) beyond maxMessagesPerSecond */
  private countMessage(): boolean {
    const now = Date.now();
    if (now - this.floodWindow.start >= 1000) this.floodWindow = { start: now, count: 0 };
    if (++this.floodWindow.count <= this.ctx.config.maxMessagesPerSecond) return true;
    this.ctx.counters.protocolErrors++;
    this.close(`message flood: more than ${this.ctx.config.maxMessagesPerSecond} messages in a second`);
    return false;
  }

  /** the listener's timer mode follows the session: streaming while a play runs, idle otherwise */
  settleTimers(): void {
    if (this.state === 'closed' || this.reader.buffered > 0) return;
    if (this.play) this.conn.streaming();
    else this.conn.idle();
  }

  private async dispatch(m: ViewerMessage): Promise<void> {
    if (this.state === 'closed') return;
    if (m.type !== 'Pong') this.lastSeen = Date.now();
    if (this.state === 'connect' && m.type !== 'Connect') {
      this.ctx.counters.protocolErrors++;
      return this.close(`${m.type} before Connect`);
    }
    try {
      switch (m.type) {
        case 'Connect': return onConnect(this, m);
        case 'FunnelInfo': return onFunnelInfo(this, m);
        case 'ConnectFunnel': return onConnectFunnel(this, m);
        case 'OpenFile': return await onOpenFile(this, m);
        case 'SecurityResponse': return await onSecurityResponse(this, m);
        case 'ReadBlock': return await onReadBlock(this, m);
        case 'CancelReadBlock': return onCancelReadBlock(this);
        case 'StreamSwitch': return onStreamSwitch(this, m);
        case 'StartPlaying': return await onStartPlaying(this, m);
        case 'StartStriding': return onStartStriding(this, m);
        case 'StopPlaying': return onStopPlaying(this, m);
        case 'Logging': return await onLogging(this, m);
        case 'Pong': return;
        case 'CloseFile': return this.close('CloseFile', 'info');
      }
    } catch (err) {
      const e = toMssError(err);
      this.log.error('mmsp.request-failed', { remote: this.remote, request: m.type, error: e });
      this.close(`${m.type} failed: ${e.message}`);
    } finally {
      this.settleTimers();
    }
  }

  // -- timers (from the server's sweep) --------------------------------------------------------------------------

  /**
   * KeepAlive (3.2.2): a Ping when the last message went out keepAliveMs ago. Unlike the spec's timer it also runs
   * after a Pong, so an idle session keeps its connection busy (the listener's idle timeout closes silent sockets)
   * until the session's own Idle-Timeout, which counts requests only.
   */
  sweep(now: number): void {
    if (this.state === 'closed' || this.state === 'connect' || this.starting) return;
    if (this.lastMessageSentAt > 0 && now - this.lastMessageSentAt >= this.ctx.config.keepAliveMs) this.send({ type: 'Ping', param1: 0, param2: 0 });
  }

  // -- the end ---------------------------------------------------------------------------------------------------

  private closed(): void {
    if (this.headerTimer) clearTimeout(this.headerTimer);
    this.headerTimer = null;
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    stopPlay(this, 'client-gone');
    this.ctx.unregister(this);
    if (wasOpen) this.log.debug('mmsp.disconnected', { remote: this.remote, clientId: this.clientId });
    this.summarize();
  }

  /** one SessionSummary per session that named a file (played, or refused with the status it was given) */
  summarize(): void {
    if (this.summarized || !this.url) return;
    this.summarized = true;
    const start = this.totals.firstPlayAt || this.connectedAt;
    this.ctx.onSessionEnd?.({
      protocol: 'mmsp',
      remoteAddress: this.remote,
      url: this.url,
      point: this.target?.point ?? '',
      userAgent: this.userAgent,
      clientId: this.clientId,
      start,
      durationMs: Date.now() - start,
      bytesSent: this.totals.bytes,
      packetsSent: this.totals.packets,
      status: this.totals.status || (this.totals.firstPlayAt ? 200 : 400),
    });
  }
}

/** the HRESULT a refusal of a target or a play gets, and the status its summary records */
export function refusalOf(err: unknown): { hr: number; status: number; message: string } {
  const e = toMssError(err);
  switch (e.code) {
    case 'not-found':
    case 'malformed':
      return { hr: HRESULT.fileNotFound, status: 404, message: e.message };
    case 'forbidden':
    case 'unauthorized':
      return { hr: HRESULT.accessDenied, status: 403, message: e.message };
    case 'limit-reached':
      return { hr: /bandwidth/i.test(String(e.detail.limit ?? '')) ? HRESULT.maxBitrate : HRESULT.maxClients, status: 503, message: e.message };
    case 'unavailable':
      return { hr: HRESULT.noStream, status: 503, message: e.message };
    default:
      return { hr: HRESULT.internal, status: 500, message: e.message };
  }
}
