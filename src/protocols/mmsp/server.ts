/**
 * MS-MMSP server: the TCP listener (port 1755 by default) on the shared connection limits, the UDP socket with the
 * same port number that sends mmsu:// data and receives resend requests, the table of sessions by client id
 * (idle expiry on the core's clock), and one sweep for every session's keep-alive pings.
 *
 * What it serves comes through the shared contract (src/contracts/media.ts); the protocol itself is in conn.ts,
 * handshake.ts and playback.ts.
 */
import dgram, { type Socket as DgramSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { MediaResolver, Sweeper } from '../../contracts/media.js';
import type { PlayerLogReport, SessionSummary } from '../../contracts/sessions.js';
import type { MmspConfig } from '../../config/sections/mmsp.js';
import { MssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { TcpListener } from '../../net/listener.js';
import { SessionTable } from '../shared/session-table.js';
import { decodeResendRequest } from './codec.js';
import { MmsConnection, type MmspServerContext } from './conn.js';
import type { AuthGuard } from '../../auth/guard.js';
import { DataFramerCache } from './framers.js';

/** the version a WMS 9 server reports (FFmpeg and VLC only print it; WMP reads the major number) */
export const MMS_SERVER_VERSION = '9.1.1.3814';
/** tries to find a port free for both TCP and UDP when the configured port is 0 */
const EPHEMERAL_TRIES = 8;

export interface MmspServerOptions {
  resolver: MediaResolver;
  /** the core's clock: idle expiry and keep-alive pings run on it */
  sweeper: Sweeper;
  log: Logger;
  config: MmspConfig;
  onPlayerLog?(report: PlayerLogReport): Promise<void>;
  onSessionEnd?(summary: SessionSummary): void;
  authGuard?: AuthGuard;
}

export class MmspServer {
  private listener: TcpListener | null = null;
  private udp: DgramSocket | null = null;
  private readonly sessions: SessionTable<number, MmsConnection>;
  private readonly live = new Set<MmsConnection>();
  private removeSweep: (() => void) | null = null;
  private readonly ctx: MmspServerContext;
  /** addresses whose bad datagrams were logged (once each, the set bounded) */
  private readonly warnedUdp = new Set<string>();
  readonly counters = { connections: 0, plays: 0, refused: 0, logs: 0, resent: 0, protocolErrors: 0, badDatagrams: 0 };

  constructor(private readonly opts: MmspServerOptions) {
    const cfg = opts.config;
    this.sessions = new SessionTable<number, MmsConnection>({
      idleMs: cfg.sessionIdleMs,
      maxSessions: cfg.maxConnections,
      newId: (taken) => {
        let id: number;
        do id = randomInt(1, 0x7fffffff);
        while (taken(id));
        return id;
      },
      isBusy: (c) => c.play !== null,
      onExpire: (c, why) => c.close(why === 'idle' ? `idle for ${Math.round(cfg.sessionIdleMs / 1000)} s` : why === 'evicted' ? 'evicted: session table full' : 'server stopping', 'info'),
    });
    this.ctx = {
      resolver: opts.resolver,
      log: opts.log,
      config: cfg,
      serverVersion: MMS_SERVER_VERSION,
      udp: null,
      framers: new DataFramerCache(),
      register: (conn) => this.sessions.create((id) => ((conn.clientId = id), conn)).clientId,
      unregister: (conn) => {
        this.live.delete(conn);
        if (conn.clientId && this.sessions.get(conn.clientId) === conn) this.sessions.delete(conn.clientId);
      },
      onPlayerLog: opts.onPlayerLog,
      onSessionEnd: opts.onSessionEnd,
      authGuard: opts.authGuard,
      counters: this.counters,
    };
  }

  get port(): number | undefined {
    return this.listener?.address()?.port;
  }

  get udpEnabled(): boolean {
    return this.udp !== null;
  }

  get sessionCount(): number {
    return this.live.size;
  }

  async start(): Promise<void> {
    if (this.listener) return;
    const cfg = this.opts.config;
    for (let attempt = 1; ; attempt++) {
      const listener = new TcpListener('mmsp', { ...cfg }, this.opts.log, (conn) => {
        this.counters.connections++;
        this.live.add(new MmsConnection(this.ctx, conn));
      });
      const bound = await listener.start();
      this.listener = listener;
      if (!cfg.udp) break;
      try {
        this.udp = await this.bindUdp(bound.address, bound.port);
        break;
      } catch (err) {
        if (cfg.port === 0 && attempt < EPHEMERAL_TRIES) {
          // the free TCP port is taken for UDP: another pair
          await listener.stop();
          this.listener = null;
          continue;
        }
        // a fixed port whose UDP twin is taken: TCP data still works; say so once
        this.opts.log.warn('mmsp.udp-unavailable', { port: bound.port, error: err });
        break;
      }
    }
    this.ctx.udp = this.udp;
    this.opts.log.info('mmsp.started', { port: this.port, udp: this.udpEnabled });
    this.sessions.start(this.opts.sweeper);
    let warnedSince = Date.now();
    this.removeSweep = this.opts.sweeper.addSweep(() => {
      const now = Date.now();
      for (const c of this.live) c.sweep(now);
      // a bad datagram is logged once per address and minute
      if (now - warnedSince > 60_000) {
        this.warnedUdp.clear();
        warnedSince = now;
      }
    });
  }

  async stop(): Promise<void> {
    this.removeSweep?.();
    this.removeSweep = null;
    this.sessions.stop();
    for (const c of [...this.live]) c.close('server stopping', 'info');
    this.live.clear();
    const l = this.listener;
    this.listener = null;
    await l?.stop();
    const u = this.udp;
    this.udp = null;
    this.ctx.udp = null;
    if (u) await new Promise<void>((resolve) => u.close(() => resolve()));
  }

  private bindUdp(host: string, port: number): Promise<DgramSocket> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
      const onError = (err: Error) => {
        socket.close();
        reject(new MssError('unavailable', `cannot bind UDP ${host}:${port} for MMS data and resend requests: ${err.message}`));
      };
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.opts.log.warn('mmsp.udp-error', { error: err }));
        socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address.replace(/^::ffff:/, '')));
        this.opts.log.info('mmsp.udp-listening', { host, port });
        resolve(socket);
      });
    });
  }

  /** a RequestPacketListResend: only from the session's own address, for its own file */
  private onDatagram(msg: Buffer, from: string): void {
    let req;
    try {
      req = decodeResendRequest(msg);
    } catch (err) {
      return this.badDatagram(from, (err as Error).message);
    }
    const c = this.sessions.get(req.clientId);
    if (!c || c.remote !== from) return this.badDatagram(from, `resend request for client ${req.clientId}, no such session at this address`);
    if (req.sourceId !== (c.openFileId & 0xffff)) return this.badDatagram(from, `resend request for source ${req.sourceId}, the session's file is ${c.openFileId}`);
    const n = c.play?.resend?.resend(req.sequences) ?? 0;
    this.counters.resent += n;
  }

  private badDatagram(from: string, reason: string): void {
    this.counters.badDatagrams++;
    if (this.warnedUdp.has(from) || this.warnedUdp.size >= 1024) return;
    this.warnedUdp.add(from);
    this.opts.log.warn('mmsp.rejected', { remote: from, transport: 'udp', reason });
  }

  status(): Record<string, unknown> {
    return { port: this.port, udp: this.udpEnabled, sessions: this.sessionCount, listener: this.listener?.guard.stats(), ...this.counters };
  }
}
