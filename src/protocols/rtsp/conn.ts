/**
 * One RTSP control connection: bytes in through the bounded parser, requests answered one at a time in order
 * (a request that arrives while another is being answered waits; too many waiting is a flood), interleaved frames
 * from the player (RTCP receiver reports) handed to the server, responses to the server's own requests (EndOfStream,
 * ANNOUNCE) counted and otherwise ignored, as MS-RTSP 3.2.5.13 allows. The listener's timers (request deadline,
 * idle, streaming) follow what the connection is doing.
 */
import type { Socket } from 'node:net';
import { MssError, toMssError } from '../../core/errors.js';
import type { Connection } from '../../net/listener.js';
import { RtspStreamParser, serializeRequest, statusOfParseError, type InterleavedFrame, type RtspLimits, type RtspRequest } from './codec.js';

/** what the server does with a connection's traffic */
export interface RtspConnectionHandler {
  handle(conn: RtspConnection, req: RtspRequest): Promise<void>;
  interleaved(conn: RtspConnection, frame: InterleavedFrame): void;
  /** a request the parser refused: answer it (status, message) before the connection closes */
  refuse(conn: RtspConnection, status: number, err: MssError): void;
  closed(conn: RtspConnection): void;
  /** whether this connection carries an interleaved stream now (the listener's streaming timer) */
  isStreaming(conn: RtspConnection): boolean;
}

const MAX_WAITING = 16;
/** MS-RTSP 3.2.5.1: 240 transactions per 30-second heartbeat are a flood */
const HEARTBEAT_MS = 30_000;
const MAX_PER_HEARTBEAT = 240;

export class RtspConnection {
  readonly socket: Socket;
  readonly remote: string;
  /** the latest Supported list a request on this connection carried (lower case) */
  features: string[] = [];
  userAgent = '';
  responsesReceived = 0;
  private readonly parser: RtspStreamParser;
  private readonly waiting: RtspRequest[] = [];
  private busy = false;
  private closed = false;
  private cseq = 0;
  private heartbeatStart = Date.now();
  private transactions = 0;

  constructor(
    readonly conn: Connection,
    private readonly handler: RtspConnectionHandler,
    limits: Partial<RtspLimits>,
  ) {
    this.socket = conn.socket;
    this.remote = conn.remoteAddress;
    this.parser = new RtspStreamParser(limits);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.once('close', () => {
      this.closed = true;
      this.waiting.length = 0;
      handler.closed(this);
    });
  }

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  write(buf: Buffer): void {
    if (!this.isClosed) this.socket.write(buf);
  }

  /** answers and then closes (after a TEARDOWN, a redirect or a refusal) */
  end(buf?: Buffer): void {
    if (this.isClosed) return;
    this.closed = true;
    if (buf) this.socket.end(buf);
    else this.socket.end();
    // a peer that does not close its side is not waited for
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** a request of the server's own (EndOfStream, ANNOUNCE); the player's answer is not waited for */
  request(method: string, uri: string, headers: Record<string, string | number | undefined>, body?: Buffer): void {
    this.write(serializeRequest(method, uri, { CSeq: ++this.cseq, ...headers }, body));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let items;
    try {
      items = this.parser.push(chunk);
    } catch (err) {
      const e = toMssError(err, 'malformed');
      this.waiting.length = 0;
      this.handler.refuse(this, statusOfParseError(e), e);
      return;
    }
    for (const item of items) {
      if (item.kind === 'interleaved') this.handler.interleaved(this, item);
      else if (item.kind === 'response') this.responsesReceived++;
      else this.enqueue(item);
    }
    if (this.parser.buffered > 0) this.conn.requestStarted();
    else if (!this.busy) this.settle();
  }

  private enqueue(req: RtspRequest): void {
    const now = Date.now();
    if (now - this.heartbeatStart > HEARTBEAT_MS) {
      this.heartbeatStart = now;
      this.transactions = 0;
    }
    if (++this.transactions > MAX_PER_HEARTBEAT || this.waiting.length >= MAX_WAITING) {
      this.waiting.length = 0;
      this.handler.refuse(this, 503, new MssError('limit-reached', `more than ${this.transactions > MAX_PER_HEARTBEAT ? `${MAX_PER_HEARTBEAT} requests in ${HEARTBEAT_MS / 1000} s` : `${MAX_WAITING} requests waiting`}`, { status: 503 }));
      return;
    }
    this.waiting.push(req);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.waiting.length > 0 && !this.isClosed) {
        const req = this.waiting.shift()!;
        this.conn.requestComplete();
        await this.handler.handle(this, req);
      }
    } finally {
      this.busy = false;
      this.settle();
    }
  }

  /** back to the listener timer that fits: streaming while an interleaved stream runs, else idle */
  settle(): void {
    if (this.isClosed || this.parser.buffered > 0) return;
    if (this.handler.isStreaming(this)) this.conn.streaming();
    else this.conn.idle();
  }
}
