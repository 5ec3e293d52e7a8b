/**
 * The UDP side of an `mmsu://` play: a socket bound next to the TCP connection's local address, Data packets only
 * from the server's address, packet-pair timing, media put in order with resend requests for gaps (to the
 * server's UDP port, the number of its TCP port), and a bounded hold while the player is paused.
 */
import dgram, { type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { MssError, toMssError } from '../../core/errors.js';
import { AF_PACKET_PAIR, INCARNATION_SPECIAL, encodeResendRequest, parseMmsDataPacket, type MmsDataPacket } from './codec.js';
import { ReorderBuffer, SequenceExtender } from './udp-order.js';

/** ordered packets held while the player is paused; beyond this they are dropped (and counted lost) */
const MAX_PAUSED = 4096;
const MAX_HELD_BEHIND_GAP = 512;

export interface UdpReceiverStats {
  packetsLost: number;
  longestLossRun: number;
  resendRequests: number;
  packetsRecovered: number;
  bytesReceived: number;
}

export interface UdpReceiverOptions {
  localAddress: string;
  serverAddress: string;
  /** where resend requests go */
  serverPort: number;
  reorderMs: number;
  /** every Data packet that is not media of the current play (header pieces) */
  onData(d: MmsDataPacket): void;
  /** media in sequence order */
  onMedia(d: MmsDataPacket): void;
  isMedia(d: MmsDataPacket): boolean;
  stats: UdpReceiverStats;
}

export class UdpReceiver {
  private readonly socket: UdpSocket;
  private readonly extender = new SequenceExtender();
  private readonly order: ReorderBuffer<MmsDataPacket>;
  private timer: NodeJS.Timeout | null = null;
  private paused = false;
  private held: MmsDataPacket[] = [];
  private clientId = 0;
  private sourceId = 0;
  private pairAt: number | undefined;
  private closed = false;
  packetPairBps: number | undefined;

  constructor(private readonly o: UdpReceiverOptions) {
    this.socket = dgram.createSocket(isIPv6(o.localAddress) ? 'udp6' : 'udp4');
    this.order = new ReorderBuffer<MmsDataPacket>({
      waitMs: o.reorderMs,
      maxHeld: MAX_HELD_BEHIND_GAP,
      now: () => Date.now(),
      deliver: (d) => this.deliver(d),
      request: (seqs) => this.requestResend(seqs),
      lost: (n) => {
        o.stats.packetsLost += n;
        o.stats.longestLossRun = Math.max(o.stats.longestLossRun, n);
      },
    });
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address));
    this.socket.on('error', () => undefined); // a failed send is a lost resend request, nothing more
  }

  bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', (err) => reject(new MssError('unavailable', `MMS UDP: cannot bind a port on ${this.o.localAddress}: ${err.message}`)));
      this.socket.bind(0, this.o.localAddress, () => resolve());
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  setIds(clientId: number, sourceId: number): void {
    this.clientId = clientId;
    this.sourceId = sourceId;
  }

  /** a new StartPlaying: sequence numbers start again */
  restart(): void {
    this.extender.reset();
    this.order.reset();
    this.held = [];
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const d of held) this.o.onMedia(d);
  }

  /** end of stream: give up on gaps and hand over what is held */
  drain(): void {
    this.order.flush(Infinity);
    this.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private onMessage(msg: Buffer, from: string): void {
    if (this.closed || from.replace(/^::ffff:/, '') !== this.o.serverAddress) return;
    let d: MmsDataPacket;
    try {
      d = parseMmsDataPacket(msg);
    } catch {
      return; // a stray datagram is not ours
    }
    this.o.stats.bytesReceived += msg.length;
    if (d.incarnation === INCARNATION_SPECIAL && d.afFlags === AF_PACKET_PAIR) {
      const now = performance.now();
      if (d.locationId === 0xf0f0f000) this.pairAt = now;
      else if (d.locationId === 0xf0f0f001 && this.pairAt !== undefined) this.packetPairBps = (msg.length * 8 * 1000) / Math.max(0.01, now - this.pairAt);
      return;
    }
    if (!this.o.isMedia(d)) {
      try {
        this.o.onData(d);
      } catch (err) {
        void toMssError(err);
      }
      return;
    }
    this.order.push(this.extender.extend(d.afFlags), d);
    this.o.stats.packetsRecovered = this.order.recovered;
    this.schedule();
  }

  private deliver(d: MmsDataPacket): void {
    if (!this.paused) return this.o.onMedia(d);
    if (this.held.length >= MAX_PAUSED) {
      this.held.shift();
      this.o.stats.packetsLost++;
    }
    this.held.push(d);
  }

  private schedule(): void {
    if (this.timer || !this.order.waiting) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.order.flush(Date.now());
      this.schedule();
    }, Math.max(5, this.order.deadline - Date.now()));
    this.timer.unref();
  }

  private requestResend(seqs: number[]): void {
    if (this.closed || this.clientId === 0) return;
    this.o.stats.resendRequests += seqs.length;
    const req = encodeResendRequest({ clientId: this.clientId, sourceId: this.sourceId, sequences: seqs.map((s) => s >>> 0) });
    this.socket.send(req, this.o.serverPort, this.o.serverAddress);
  }
}
