/**
 * A PlayerSink over a TCP socket, for every stream protocol: WMSP responses (a raw HTTP head first, chunked in
 * pipelined mode), RTSP interleaved data and MMS TCP data (the control connection outlives the stream: keepOpen).
 * Writes never block; the core watches queuedBytes (the socket's pending bytes) to find slow players. Plain writes
 * go to the socket's handle directly when nothing is queued in its Writable (net/direct-write.ts).
 */
import type { Socket } from 'node:net';
import type { ManyWriter, PlayerSink } from '../../contracts/media.js';
import { afterRawWrite, manyWriter, pendingBytes, rawWriteFd, writeDirect, writeDirectv } from '../../net/direct-write.js';

export interface SocketSinkOptions {
  /** written before the first byte of the stream (a response head), then dropped */
  head?: string | Buffer;
  /** HTTP/1.1 chunked transfer coding for every write, and the last chunk at the end */
  chunked?: boolean;
  /** at the end of the stream keep the connection open (its control protocol goes on) and call onEnd */
  keepOpen?: boolean;
  onEnd?: () => void;
}

const LAST_CHUNK = '0\r\n\r\n';

export class SocketSink implements PlayerSink {
  private head: string | Buffer | undefined;
  private headWritten = false;
  private readonly hasHead: boolean;
  private ended = false;
  private readonly closeListeners: Array<() => void> = [];
  /** cork depth, and the writes it holds */
  private corked = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** the options without the head: that is written once and must not be kept for the life of the stream */
  private readonly opts: Omit<SocketSinkOptions, 'head'>;

  constructor(
    private readonly socket: Socket,
    opts: SocketSinkOptions = {},
  ) {
    const { head, ...rest } = opts;
    this.opts = rest;
    this.head = head;
    this.hasHead = head !== undefined;
    this.headWritten = !this.hasHead;
  }

  /** whether anything (the head at least) went out */
  get started(): boolean {
    return this.headWritten && this.hasHead;
  }

  /** writes the head now (a stream that starts with no data yet still answers its request) */
  start(): void {
    if (this.headWritten || this.socket.destroyed) return;
    this.headWritten = true;
    this.socket.write(this.head!);
    this.head = undefined; // not kept for the life of the stream
  }

  write(buf: Buffer): void {
    if (this.ended || this.socket.destroyed) return;
    this.start();
    if (this.corked > 0) {
      this.held.push(buf);
      this.heldBytes += buf.length;
    } else this.send(buf);
  }

  private send(buf: Buffer): void {
    if (this.opts.chunked) {
      this.socket.write(buf.length.toString(16) + '\r\n');
      this.socket.write(buf);
      this.socket.write('\r\n');
    } else if (!writeDirect(this.socket, buf)) {
      this.socket.write(buf);
    }
  }

  /** with the native addon: the live fan-out may send a batch to this sink together with others (contracts/media.ts) */
  get manyWriter(): ManyWriter | null {
    return manyWriter();
  }

  rawFd(): number {
    // a head still to go, a cork's held writes or chunk framing must come first or around: then write() it
    if (this.ended || this.corked > 0 || this.opts.chunked || !this.headWritten) return -1;
    return rawWriteFd(this.socket);
  }

  rawWritten(data: Buffer, result: number): void {
    afterRawWrite(this.socket, data, result);
  }

  /** bytes not yet taken by the kernel, those held by a cork included */
  get queuedBytes(): number {
    return pendingBytes(this.socket) + this.heldBytes;
  }

  /**
   * Writes until uncork are held and leave as one Buffer, one write (one chunk when chunked): an on-demand tick's
   * packets, a live catch-up's batches. Corking the socket instead would not do: direct writes go past its cork.
   */
  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    this.flushHeld();
  }

  private flushHeld(): void {
    if (this.held.length === 0) return;
    const held = this.held;
    const bytes = this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
    if (this.socket.destroyed) return;
    // one writev of the held buffers as they are; joined into one Buffer where that cannot be done (chunked)
    if (held.length > 1 && !this.opts.chunked && writeDirectv(this.socket, held)) return;
    this.send(held.length === 1 ? held[0]! : Buffer.concat(held, bytes));
  }

  end(): void {
    if (this.ended) return;
    this.start();
    this.corked = 0;
    this.flushHeld();
    this.ended = true;
    if (this.socket.destroyed) return;
    if (this.opts.chunked) this.socket.write(LAST_CHUNK);
    if (this.opts.keepOpen) {
      // the connection lives on for more requests: this stream's close callbacks must not pile up on it
      for (const l of this.closeListeners.splice(0)) this.socket.off('close', l);
      this.opts.onEnd?.();
    } else {
      this.socket.end();
    }
  }

  destroy(_reason: string): void {
    this.ended = true;
    this.held = [];
    this.heldBytes = 0;
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
    this.closeListeners.push(cb);
    this.socket.once('close', cb);
  }
}
