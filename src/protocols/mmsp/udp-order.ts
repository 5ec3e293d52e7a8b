/**
 * What an MMS player does with Data packets that arrive over UDP (MS-MMSP 3.1.4.7): the 8-bit AFFlags sequence is
 * extended to 32 bits across wraps, packets are put back in order, a gap asks for the missing packets once
 * (RequestPacketListResend, at most 32 per request) and waits a bounded time for them before counting them lost.
 * Pure logic with an injected clock; the client owns the socket and the timer.
 */

/** Extends 8-bit sequence numbers: a step of up to 127 forward is new, anything else is a late packet. */
export class SequenceExtender {
  private last: number | undefined;

  extend(low8: number): number {
    const b = low8 & 0xff;
    if (this.last === undefined) {
      this.last = b;
      return b;
    }
    const diff = (b - (this.last & 0xff) + 256) % 256;
    const ext = diff < 128 ? this.last + diff : this.last - (256 - diff);
    if (ext > this.last) this.last = ext;
    return ext;
  }

  reset(): void {
    this.last = undefined;
  }
}

export interface ReorderOptions<T> {
  /** how long a gap waits for resent packets (ms) */
  waitMs: number;
  /** packets held behind a gap at most; more releases the gap at once */
  maxHeld: number;
  deliver(item: T, seq: number): void;
  /** asks for missing packets (each sequence number is asked for once) */
  request(seqs: number[]): void;
  /** packets given up on: `count` in a run */
  lost(count: number): void;
  now(): number;
}

/** the largest gap asked for in one go (a longer one is mostly lost anyway) */
const MAX_REQUEST_SPAN = 32;

export class ReorderBuffer<T> {
  private next: number | undefined;
  private readonly held = new Map<number, T>();
  private gapSince = 0;
  private requestedUpTo = -1;
  /** packets that arrived twice or after their gap was given up */
  duplicates = 0;
  /** resent packets that filled a gap in time */
  recovered = 0;

  constructor(private readonly o: ReorderOptions<T>) {}

  get waiting(): boolean {
    return this.held.size > 0;
  }

  /** when the current gap times out (0 when there is none) */
  get deadline(): number {
    return this.held.size > 0 ? this.gapSince + this.o.waitMs : 0;
  }

  push(seq: number, item: T): void {
    if (this.next === undefined) this.next = seq;
    if (seq < this.next || this.held.has(seq)) {
      this.duplicates++;
      return;
    }
    if (seq === this.next) {
      if (seq <= this.requestedUpTo) this.recovered++;
      this.o.deliver(item, seq);
      this.next++;
      this.release();
      return;
    }
    if (seq <= this.requestedUpTo) this.recovered++;
    this.held.set(seq, item);
    if (this.held.size === 1) this.gapSince = this.o.now();
    // ask once for what is missing before this packet
    const from = Math.max(this.next, this.requestedUpTo + 1);
    const missing: number[] = [];
    for (let s = Math.max(from, seq - MAX_REQUEST_SPAN); s < seq; s++) if (!this.held.has(s)) missing.push(s);
    if (seq - 1 > this.requestedUpTo) this.requestedUpTo = seq - 1;
    if (missing.length > 0) this.o.request(missing);
    if (this.held.size > this.o.maxHeld) this.skipGap();
  }

  /** call when the deadline passes: gives up on the first gap and releases what follows it */
  flush(now: number): void {
    while (this.held.size > 0 && now >= this.gapSince + this.o.waitMs) {
      this.skipGap();
      if (this.held.size > 0) this.gapSince = now;
    }
  }

  /** forget everything (a new play started: sequence numbers restart) */
  reset(): void {
    this.next = undefined;
    this.held.clear();
    this.requestedUpTo = -1;
  }

  private skipGap(): void {
    if (this.next === undefined || this.held.size === 0) return;
    let first = Infinity;
    for (const s of this.held.keys()) if (s < first) first = s;
    this.o.lost(first - this.next);
    this.next = first;
    this.release();
  }

  private release(): void {
    while (this.next !== undefined && this.held.has(this.next)) {
      const item = this.held.get(this.next)!;
      this.held.delete(this.next);
      this.o.deliver(item, this.next);
      this.next++;
    }
  }
}
