/**
 * UDP resends (MS-MMSP 3.2.5.13): a PlayerSink in front of a session's UdpSink that remembers the last media Data
 * packets it sent, by sequence number (their AFFlags byte), so a RequestPacketListResend is answered with the same
 * bytes. Bounded: at most `capacity` packets (the Buffers are the ones the fan-out shares, not copies), and at most
 * `perSecond` packets resent per second (spoofed or greedy requests cannot turn the server into a flood).
 */
import type { PlayerSink } from '../../contracts/media.js';
import { AF_PACKET_PAIR, INCARNATION_SPECIAL } from './codec.js';

export class ResendingSink implements PlayerSink {
  /** datagram by AFFlags; a newer packet with the same low byte replaces an older one */
  private readonly bySeq: Array<Buffer | undefined> = new Array(256);
  private readonly order: number[] = [];
  private tokens: number;
  private refilledAt = Date.now();
  readonly stats = { resent: 0, refused: 0, missing: 0 };

  constructor(
    private readonly inner: PlayerSink,
    private readonly capacity: number,
    private readonly perSecond: number,
    /** the playIncarnation of this play's media packets (header pieces are not kept) */
    private readonly mediaIncarnation: () => number,
  ) {
    this.tokens = perSecond;
  }

  write(buf: Buffer): void {
    this.inner.write(buf);
    if (this.capacity === 0 || buf.length < 8) return;
    const inc = buf[4]!;
    if (inc !== this.mediaIncarnation() || (inc === INCARNATION_SPECIAL && buf[5] === AF_PACKET_PAIR)) return;
    const seq = buf[5]!;
    if (this.bySeq[seq] !== undefined) this.order.splice(this.order.indexOf(seq), 1);
    this.order.push(seq);
    this.bySeq[seq] = buf;
    while (this.order.length > this.capacity) this.bySeq[this.order.shift()!] = undefined;
  }

  /** resends what it still has of the 32-bit sequence numbers asked for; returns how many went out */
  resend(sequences: readonly number[]): number {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = now;
    let sent = 0;
    for (const s of sequences) {
      const buf = this.bySeq[s & 0xff];
      if (!buf) {
        this.stats.missing++;
        continue;
      }
      if (this.tokens < 1) {
        this.stats.refused++;
        continue;
      }
      this.tokens--;
      this.inner.write(buf);
      sent++;
    }
    this.stats.resent += sent;
    return sent;
  }

  get queuedBytes(): number {
    return this.inner.queuedBytes;
  }

  end(): void {
    this.inner.end();
  }

  destroy(reason: string): void {
    this.inner.destroy(reason);
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  onClose(cb: () => void): void {
    this.inner.onClose(cb);
  }
}
