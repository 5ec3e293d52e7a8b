/**
 * A PlayerSink that sends every write as one datagram to one address:port (an RTSP/UDP or MMSU player, a multicast
 * group) from a socket the protocol owns. At most `maxInFlightBytes` are handed to the kernel at once, the rest wait
 * in a queue the core sees as queuedBytes, so a burst never exceeds the socket buffer and a player that cannot keep
 * up is found slow like a TCP one. A hard bound destroys the sink should a caller ignore queuedBytes.
 * On a connected socket, writeDatagrams hands a tick's datagrams to the kernel in one sendmmsg (net/udp-direct.ts)
 * when nothing of this sink waits in libuv; what the kernel does not take goes the queued way.
 */
import type { Socket as DgramSocket } from 'node:dgram';
import type { PlayerSink } from '../../contracts/media.js';
import { EAGAIN, errnoError } from '../../net/syscall.js';
import { datagramSender, dgramFd } from '../../net/udp-direct.js';

export interface UdpSinkOptions {
  socket: DgramSocket;
  address: string;
  port: number;
  /** bytes handed to the kernel and not yet confirmed (default 64 KB) */
  maxInFlightBytes?: number;
  /** queued + in flight beyond this destroys the sink (default 8 MB) */
  hardLimitBytes?: number;
  /** a send failed (the sink goes on; the protocol may count or end the session) */
  onError?: (err: Error) => void;
  /** the socket is connected to address:port (dgram connect): sends skip the per-datagram address lookup */
  connected?: boolean;
}

export class UdpSink implements PlayerSink {
  private readonly queue: Buffer[] = [];
  private queueHead = 0;
  private queued = 0;
  private inFlight = 0;
  private ended = false;
  private destroyed = false;
  private closeCallbacks: Array<() => void> | null = [];
  /** sizes of the datagrams in flight, in send order (sends complete in order): one callback serves them all */
  private readonly sizes: number[] = [];
  private sizesHead = 0;
  private readonly onSent = (err: Error | null) => this.sent(this.sizes[this.sizesHead++] ?? 0, err);
  readonly stats = { datagrams: 0, bytes: 0, errors: 0 };
  /** cork depth, and the writes it holds */
  private corked = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** the socket's descriptor for direct sends: looked up on first use (-2), -1 when it cannot be had */
  private fd = -2;

  constructor(private readonly o: UdpSinkOptions) {}

  write(buf: Buffer): void {
    if (this.ended || this.destroyed) return;
    if (this.corked > 0) {
      this.held.push(buf);
      this.heldBytes += buf.length;
      if (this.heldBytes > (this.o.hardLimitBytes ?? 8 * 1024 * 1024)) this.destroy('udp queue over its hard limit');
      return;
    }
    this.queue.push(buf);
    this.queued += buf.length;
    if (this.queued + this.inFlight > (this.o.hardLimitBytes ?? 8 * 1024 * 1024)) {
      this.destroy('udp queue over its hard limit');
      return;
    }
    this.pump();
  }

  writeDatagrams(list: readonly Buffer[]): void {
    if (this.ended || this.destroyed) return;
    let i = 0;
    // corked: behind the writes the cork holds (a joining player's header before its first batch)
    if (this.corked > 0) {
      for (const d of list) this.write(d);
      return;
    }
    const send = this.o.connected && this.queueHead === this.queue.length && this.inFlight === 0 ? datagramSender() : null;
    if (send) {
      if (this.fd === -2) this.fd = dgramFd(this.o.socket);
      // no more than maxInFlightBytes at once, as the queued way: a burst (a joining player's catch-up) beyond it
      // waits in the queue and leaves as libuv confirms what went before
      const limit = this.o.maxInFlightBytes ?? 64 * 1024;
      let end = 0;
      for (let bytes = 0; end < list.length && (end === 0 || bytes + list[end]!.length <= limit); end++) bytes += list[end]!.length;
      while (this.fd >= 0 && i < end) {
        const n = send(this.fd, list, i, end);
        if (n > 0) {
          for (const upTo = i + n; i < upTo; i++) this.stats.bytes += list[i]!.length;
          this.stats.datagrams += n;
        } else if (n === EAGAIN) {
          break; // the socket buffer is full: the rest waits in the queue for libuv to send
        } else {
          // this datagram failed (a connected socket's pending ICMP error): counted and skipped, as a libuv send
          this.stats.errors++;
          this.o.onError?.(errnoError(n, 'sendmmsg'));
          i++;
        }
      }
    }
    for (; i < list.length; i++) this.write(list[i]!);
  }

  /** writes until uncork are held and leave together by writeDatagrams (an on-demand tick's packets) */
  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length > 0) this.writeDatagrams(held);
  }

  get queuedBytes(): number {
    return this.queued + this.inFlight + this.heldBytes;
  }

  end(): void {
    if (this.ended || this.destroyed) return;
    if (this.corked > 0) {
      this.corked = 1;
      this.uncork();
    }
    this.ended = true;
    if (this.queued === 0 && this.inFlight === 0) this.fireClose();
  }

  destroy(_reason: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queued = 0;
    this.held = [];
    this.heldBytes = 0;
    this.fireClose();
  }

  get closed(): boolean {
    return this.ended || this.destroyed;
  }

  onClose(cb: () => void): void {
    if (!this.closeCallbacks) queueMicrotask(cb);
    else this.closeCallbacks.push(cb);
  }

  private pump(): void {
    const limit = this.o.maxInFlightBytes ?? 64 * 1024;
    while (this.queueHead < this.queue.length && (this.inFlight === 0 || this.inFlight + this.queue[this.queueHead]!.length <= limit)) {
      const buf = this.queue[this.queueHead++]!;
      this.queued -= buf.length;
      this.inFlight += buf.length;
      try {
        this.sizes.push(buf.length);
        if (this.o.connected) this.o.socket.send(buf, this.onSent);
        else this.o.socket.send(buf, this.o.port, this.o.address, this.onSent);
      } catch (err) {
        // the socket is closed (the protocol is stopping): nothing more can be sent
        this.inFlight -= buf.length;
        this.sizes.pop();
        this.o.onError?.(err as Error);
        this.destroy('udp socket closed');
        return;
      }
    }
    if (this.queueHead > 256 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private sent(bytes: number, err: Error | null): void {
    this.inFlight -= bytes;
    if (this.sizesHead > 1024 && this.sizesHead * 2 > this.sizes.length) {
      this.sizes.splice(0, this.sizesHead);
      this.sizesHead = 0;
    }
    if (err) {
      this.stats.errors++;
      this.o.onError?.(err);
    } else {
      this.stats.datagrams++;
      this.stats.bytes += bytes;
    }
    if (this.destroyed) return;
    this.pump();
    if (this.ended && this.queued === 0 && this.inFlight === 0) this.fireClose();
  }

  private fireClose(): void {
    const cbs = this.closeCallbacks;
    this.closeCallbacks = null;
    for (const cb of cbs ?? []) cb();
  }
}
