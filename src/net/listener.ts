/**
 * TCP listeners with the limits every protocol shares (HTTP, RTSP, MMS, MSBD): a cap on connections in all and per
 * address, a deadline for a request to arrive whole once it began (slowloris), an idle timeout while nothing is in
 * progress and a no-progress timeout while streaming. Every connection always has one of these timers running.
 * Rejections are counted and logged once each, as one JSON line with the peer address.
 *
 * ConnectionGuard attaches to any net.Server (Node's HTTP server included); TcpListener is a plain listener for the
 * binary and RTSP protocols built on it.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/sections/listener.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/** Peer address without the IPv4-mapped IPv6 prefix. */
export function peerAddress(socket: Socket | undefined | null): string {
  const a = socket?.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

type Mode = 'idle' | 'request' | 'streaming';

/** One accepted connection and the timer mode it is in. */
export class Connection {
  readonly remoteAddress: string;
  private mode: Mode = 'idle';
  /** performance.now() when the request in progress began (mode 'request') */
  requestSince = 0;
  /** requests seen on this connection */
  requests = 0;
  /** HTTP: responses of pipelined requests waiting for an earlier response on this connection to finish */
  waitingResponses = 0;

  constructor(
    readonly socket: Socket,
    readonly guard: ConnectionGuard,
  ) {
    this.remoteAddress = peerAddress(socket);
  }

  get state(): Mode {
    return this.mode;
  }

  /** nothing in progress: the idle timeout runs */
  idle(): void {
    this.guard.leaveRequest(this);
    this.mode = 'idle';
    this.socket.setTimeout(this.guard.config.idleTimeoutMs);
  }

  /** the first bytes of a request arrived: it must be whole within headerTimeoutMs (from now, not from each byte) */
  requestStarted(): void {
    if (this.mode === 'request') return;
    this.mode = 'request';
    this.requestSince = performance.now();
    this.guard.enterRequest(this);
  }

  /** a whole request arrived; the protocol answers it (idle() or streaming() follows) */
  requestComplete(): void {
    this.requests++;
    this.guard.leaveRequest(this);
    if (this.mode === 'request') this.mode = 'idle';
  }

  /** a stream runs: the connection is closed only when nothing moves for streamIdleTimeoutMs */
  streaming(): void {
    this.guard.leaveRequest(this);
    this.mode = 'streaming';
    this.socket.setTimeout(this.guard.config.streamIdleTimeoutMs);
  }

  /**
   * The connection now carries one stream to its end and nothing else (an HTTP/1.0 WMSP Play whose request and
   * response objects were let go): a further request on it is a protocol error that ends the connection.
   */
  ownedByStream = false;
}

const connections = new WeakMap<Socket, Connection>();

function onConnectionTimeout(this: Socket): void {
  const conn = connections.get(this);
  if (conn) conn.guard.timedOut(conn);
  else this.destroy();
}

function onConnectionClose(this: Socket): void {
  const conn = connections.get(this);
  if (conn) conn.guard.closed(conn);
}

/** The Connection of a socket accepted by a guard (undefined for sockets of other origins). */
export function connectionOf(socket: Socket): Connection | undefined {
  return connections.get(socket);
}

export interface GuardStats {
  connections: number;
  accepted: number;
  rejected: number;
  timedOut: number;
  /** the addresses holding the most connections now */
  topAddresses: Array<{ address: string; connections: number }>;
}

export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  private readonly open = new Set<Connection>();
  /** connections with a request in progress (checked against headerTimeoutMs once a second) */
  private readonly inRequest = new Set<Connection>();
  private deadlineTimer: NodeJS.Timeout | null = null;
  private readonly counts = { accepted: 0, rejected: 0, timedOut: 0 };

  constructor(
    readonly name: string,
    public config: ListenerConfig,
    private readonly log: Logger,
    /** a request that did not arrive in time; default: the connection is destroyed */
    private readonly onRequestTimeout?: (conn: Connection) => void,
  ) {}

  /** admits or refuses an accepted socket; the Connection starts idle */
  admit(socket: Socket): Connection | null {
    const address = peerAddress(socket);
    const cfg = this.config;
    if (this.open.size >= cfg.maxConnections) return this.refuse(socket, address, 'too many connections', { maxConnections: cfg.maxConnections });
    const n = this.perAddress.get(address) ?? 0;
    if (cfg.maxConnectionsPerAddress > 0 && n >= cfg.maxConnectionsPerAddress) {
      return this.refuse(socket, address, 'too many connections from this address', { maxConnectionsPerAddress: cfg.maxConnectionsPerAddress });
    }
    this.perAddress.set(address, n + 1);
    const conn = new Connection(socket, this);
    connections.set(socket, conn);
    this.open.add(conn);
    this.counts.accepted++;
    // shared listeners (the connection is found from the socket): no closures kept per connection
    socket.on('timeout', onConnectionTimeout);
    socket.once('close', onConnectionClose);
    conn.idle();
    return conn;
  }

  /** the connection's timer ran out: idle, or a stream that did not move */
  timedOut(conn: Connection): void {
    this.counts.timedOut++;
    const streaming = conn.state === 'streaming';
    this.log.warn(`${this.name}.rejected`, { remote: conn.remoteAddress, reason: streaming ? 'stream stalled' : 'idle timeout', timeoutMs: streaming ? this.config.streamIdleTimeoutMs : this.config.idleTimeoutMs });
    conn.socket.destroy();
  }

  closed(conn: Connection): void {
    this.open.delete(conn);
    this.inRequest.delete(conn);
    const left = (this.perAddress.get(conn.remoteAddress) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(conn.remoteAddress);
    else this.perAddress.set(conn.remoteAddress, left);
  }

  private refuse(socket: Socket, address: string, reason: string, fields: Record<string, unknown>): null {
    this.counts.rejected++;
    this.log.warn(`${this.name}.rejected`, { remote: address, reason, ...fields });
    socket.destroy();
    return null;
  }

  enterRequest(conn: Connection): void {
    this.inRequest.add(conn);
    if (!this.deadlineTimer) {
      this.deadlineTimer = setInterval(() => this.checkDeadlines(), Math.max(100, Math.min(1000, Math.floor(this.config.headerTimeoutMs / 4))));
      this.deadlineTimer.unref();
    }
  }

  leaveRequest(conn: Connection): void {
    this.inRequest.delete(conn);
    if (this.inRequest.size === 0 && this.deadlineTimer) {
      clearInterval(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }

  private checkDeadlines(): void {
    const now = performance.now();
    for (const conn of this.inRequest) {
      if (now - conn.requestSince <= this.config.headerTimeoutMs) continue;
      this.leaveRequest(conn);
      this.counts.timedOut++;
      this.log.warn(`${this.name}.rejected`, { remote: conn.remoteAddress, reason: 'request not received in time', timeoutMs: this.config.headerTimeoutMs });
      if (!this.onRequestTimeout) {
        conn.socket.destroy();
        continue;
      }
      // the protocol answers (e.g. RTSP 408); the connection goes soon whatever the peer does
      this.onRequestTimeout(conn);
      setTimeout(() => conn.socket.destroy(), 1000).unref();
    }
  }

  get size(): number {
    return this.open.size;
  }

  /** closes every connection */
  closeAll(): void {
    for (const c of this.open) c.socket.destroy();
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  stats(): GuardStats {
    const top = [...this.perAddress].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([address, n]) => ({ address, connections: n }));
    return { connections: this.open.size, ...this.counts, topAddresses: top };
  }
}

/** Listens on the config's host:port and resolves with the bound address (port 0 picks a free one). */
export function listenOn(server: Server, cfg: Pick<ListenerConfig, 'host' | 'port'>, what: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new MssError('unavailable', `cannot listen for ${what} on ${cfg.host}:${cfg.port}: ${err.message}`));
    server.once('error', onError);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** A plain TCP listener (RTSP, MMS, MSBD): admitted connections go to onConnection, each starting idle. */
export class TcpListener {
  private server: Server | null = null;
  readonly guard: ConnectionGuard;
  private bound: AddressInfo | null = null;

  constructor(
    readonly name: string,
    config: ListenerConfig,
    private readonly log: Logger,
    private readonly onConnection: (conn: Connection) => void,
    onRequestTimeout?: (conn: Connection) => void,
  ) {
    this.guard = new ConnectionGuard(name, config, log, onRequestTimeout);
  }

  async start(): Promise<AddressInfo> {
    const server = createServer({ noDelay: true });
    server.on('connection', (socket) => {
      const conn = this.guard.admit(socket);
      if (!conn) return;
      socket.on('error', () => socket.destroy());
      this.onConnection(conn);
    });
    this.bound = await listenOn(server, this.guard.config, this.name);
    server.on('error', (err) => this.log.error(`${this.name}.error`, { error: err }));
    this.server = server;
    this.log.info(`${this.name}.listening`, { host: this.bound.address, port: this.bound.port });
    return this.bound;
  }

  address(): AddressInfo | null {
    return this.bound;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.bound = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.guard.closeAll();
    await closed;
  }
}
