/**
 * The MMS client's control connection: the TCP socket, TcpMessageHeader sequence numbers, the stream reader, and
 * waiting for a reply (with a timeout) while everything the server sends is first shown to the session (pings,
 * refusals, end of stream arrive at any time). A peer that answers in another protocol (an HTTP server on that
 * port) is told apart by its first bytes, so a rollover moves on at once.
 */
import net, { type Socket } from 'node:net';
import { MssError, toMssError } from '../../core/errors.js';
import { MmsStreamReader, SESSION_ID, encodeTcpMessage, type MmsDataPacket } from './codec.js';
import { decodeMac, encodeViewer, type MacMessage, type MacType, type ViewerMessage } from './messages.js';

export const DEFAULT_MMS_PORT = 1755;
/** unclaimed replies kept for a later expect() (a reply may come before the code waits for it) */
const MAX_INBOX = 16;

export interface ControlHandlers {
  /** every server message, first; return true when the session consumed it (else expect() may take it) */
  onMessage(m: MacMessage): boolean;
  onData(d: MmsDataPacket): void;
  /** the connection failed (network, timeout, garbage); called once */
  onFailure(err: MssError): void;
  /** bytes read (for the stream's statistics) */
  onBytes(n: number): void;
}

export class ControlChannel {
  private socket: Socket | null = null;
  private reader = new MmsStreamReader({ acceptData: true });
  private seq = 0;
  private readonly t0 = Date.now();
  private inbox: MacMessage[] = [];
  private waiter: { types: MacType[]; resolve(m: MacMessage): void; reject(e: MssError): void } | null = null;
  private heardFromServer = false;
  private failed = false;

  constructor(
    private readonly url: URL,
    private readonly timeoutMs: number,
    private readonly h: ControlHandlers,
  ) {}

  get open(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  get localAddress(): string {
    return (this.socket?.localAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
  }

  get localPort(): number {
    return this.socket?.localPort ?? 0;
  }

  get remoteAddress(): string {
    return (this.socket?.remoteAddress ?? '').replace(/^::ffff:/, '');
  }

  connect(): Promise<void> {
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const port = this.url.port ? Number(this.url.port) : DEFAULT_MMS_PORT;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.setTimeout(this.timeoutMs);
      socket.once('connect', () => resolve());
      socket.on('timeout', () => this.fail(new MssError('timeout', `MMS ${this.url.host}: no data for ${this.timeoutMs} ms`, { lostConnection: true })));
      socket.on('error', (err) => {
        const e = new MssError('unavailable', `MMS ${this.url.host}: ${err.message}`, { lostConnection: true });
        reject(e);
        this.fail(e);
      });
      socket.on('close', () => this.fail(new MssError('unavailable', `MMS connection to ${this.url.host} closed by the server`, { lostConnection: true })));
      socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    });
  }

  send(m: ViewerMessage): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    const e = encodeViewer(m);
    socket.write(encodeTcpMessage(e.mid, e.fields, this.seq++, Date.now() - this.t0));
  }

  /** sends and resolves once the bytes are handed to the kernel */
  sendFlushed(m: ViewerMessage): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.reject(new MssError('unavailable', 'MMS: the control connection is closed'));
    const e = encodeViewer(m);
    return new Promise((resolve, reject) => {
      socket.write(encodeTcpMessage(e.mid, e.fields, this.seq++, Date.now() - this.t0), (err) => (err ? reject(new MssError('unavailable', `MMS: ${err.message}`)) : resolve()));
    });
  }

  /** the next message of one of `types` (one already received and unclaimed, or the next to come) */
  expect(types: MacType[], what: string): Promise<MacMessage> {
    const i = this.inbox.findIndex((m) => types.includes(m.type));
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new MssError('timeout', `MMS ${this.url.host}: no ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = {
        types,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** forgets unclaimed replies of a type (a ReportReadBlock nobody waits for) */
  drop(type: MacType): void {
    this.inbox = this.inbox.filter((m) => m.type !== type);
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  /** flushes and closes */
  end(): void {
    this.failed = true;
    this.socket?.end();
  }

  destroy(): void {
    this.failed = true;
    this.socket?.destroy();
  }

  private fail(err: MssError): void {
    if (this.failed) return;
    this.failed = true;
    this.waiter?.reject(err);
    this.waiter = null;
    this.socket?.destroy();
    this.h.onFailure(err);
  }

  private onChunk(chunk: Buffer): void {
    if (this.failed) return;
    this.h.onBytes(chunk.length);
    if (!this.heardFromServer && this.reader.buffered === 0 && chunk.length >= 8 && chunk.readUInt32LE(4) !== SESSION_ID) {
      // an HTTP or RTSP server on that port answers its own protocol: hand over to the next one at once
      const start = chunk.subarray(0, 24).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      return this.fail(new MssError('unsupported', `${this.url.host} does not speak MMS (it answered ${JSON.stringify(start)})`));
    }
    this.heardFromServer = true;
    try {
      for (const item of this.reader.push(chunk)) {
        if (this.failed) return;
        if (item.kind === 'data') this.h.onData(item.data);
        else for (const msg of item.packet.messages) this.dispatch(decodeMac(msg));
      }
    } catch (err) {
      this.fail(toMssError(err, 'malformed'));
    }
  }

  private dispatch(m: MacMessage): void {
    if (this.h.onMessage(m) || this.failed) return;
    if (this.waiter && this.waiter.types.includes(m.type)) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(m);
      return;
    }
    if (this.inbox.length < MAX_INBOX) this.inbox.push(m);
  }
}
