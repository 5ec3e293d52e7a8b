/**
 * The receiving side of MS-MSB without the socket: datagrams in, ASF packets out, in packet-ID order, with one
 * lost packet per parity span rebuilt (3.2.5.3). Anyone can send to a multicast group, so every datagram is
 * hostile until proven otherwise: garbage, unknown Format IDs, parity that does not fit and packets that do not
 * parse as ASF are counted and skipped, never thrown at the caller.
 *
 * Protected packets of one cycle are held until the cycle's parity arrives (or the next cycle starts), which
 * delays output by one span; unprotected packets go out at once. When the group goes quiet the held packets are
 * given out (flush) but the cycle is kept, so its parity, when it comes, still rebuilds a packet it lacks.
 * Packet IDs are unwrapped into a running sequence number, so a gap in it is a loss; a jump far back (the sender
 * restarted) starts a new run.
 */
import { toMssError, type MssError } from '../../core/errors.js';
import { EC_TYPE_DATA, EC_TYPE_PARITY, parseMsbDatagram, readErrorCorrection } from './codec.js';
import { MAX_SPAN, recoverFromParity } from './parity.js';
import { restoreFromMsb } from './packet-shape.js';

/** a packet this far behind the last one given out is late (dropped); further back, the sender restarted */
const LATE_WINDOW = 64;
/** a forward jump this large is a restart too, not a loss */
const MAX_GAP = 100_000;

export interface AssemblerCounters {
  datagrams: number;
  beacons: number;
  /** data packets given out (recovered ones included) */
  packets: number;
  parity: number;
  recovered: number;
  /** packet IDs that never arrived and could not be rebuilt */
  lost: number;
  /** datagrams that are not MSB, or packets that are not ASF */
  malformed: number;
  /** MSB packets whose Format ID the .nsc does not list */
  unknownFormat: number;
  /** duplicates and packets that arrived after later ones were given out */
  late: number;
  /** times the packet IDs restarted (a sender restart) */
  restarts: number;
}

export interface AssemblerOptions {
  /** packet size of each known Format ID (from the .nsc headers) */
  packetSizeOf(formatId: number): number | undefined;
  /** `Default Ecc` of the .nsc: the span when parity packets do not say it */
  defaultEcc?: number;
  /** a packet of a new stream (wStreamID changed) follows */
  onStream(formatId: number, streamId: number): void;
  /** an ASF packet at its header's packet size; `sequence` counts packet IDs (a gap = lost packets) */
  onPacket(packet: Buffer, sequence: number, recovered: boolean): void;
  /** a datagram was skipped (for logs: called for every one, the caller rate-limits) */
  onReject?(reason: keyof AssemblerCounters, err?: MssError): void;
}

interface Cycle {
  cycle: number;
  streamId: number;
  formatId: number;
  packets: Map<number, Buffer>;
  /** IDs already given out (by a flush); their bytes stay for the parity */
  given: Set<number>;
}

const newCycle = (cycle: number, streamId: number, formatId: number): Cycle => ({ cycle, streamId, formatId, packets: new Map(), given: new Set() });

export class MsbAssembler {
  readonly counters: AssemblerCounters = { datagrams: 0, beacons: 0, packets: 0, parity: 0, recovered: 0, lost: 0, malformed: 0, unknownFormat: 0, late: 0, restarts: 0 };
  private streamId: number | null = null;
  private pending: Cycle | null = null;
  private lastId: number | null = null;
  private sequence = -1;

  constructor(private readonly opts: AssemblerOptions) {}

  /** the wStreamID of the stream being received (null before the first packet) */
  get currentStreamId(): number | null {
    return this.streamId;
  }

  /** Takes one datagram; says what it was. Never throws. */
  feed(datagram: Buffer): 'beacon' | 'packet' | 'parity' | 'skipped' {
    this.counters.datagrams++;
    let d;
    try {
      d = parseMsbDatagram(datagram);
    } catch (err) {
      return this.reject('malformed', err);
    }
    if (d.kind === 'beacon') {
      this.counters.beacons++;
      return 'beacon';
    }
    if (this.opts.packetSizeOf(d.formatId) === undefined) return this.reject('unknownFormat');
    let ec;
    try {
      ec = readErrorCorrection(d.asf);
    } catch (err) {
      return this.reject('malformed', err);
    }
    if (d.streamId !== this.streamId) {
      this.close();
      this.streamId = d.streamId;
      // IDs run on across entries, but a new stream may as well be a restarted sender: measure afresh
      this.lastId = null;
      this.opts.onStream(d.formatId, d.streamId);
    }
    const isParity = ec.opaque || ec.type === EC_TYPE_PARITY;
    if (isParity) {
      this.counters.parity++;
      let c = this.pending;
      if (!c || c.cycle !== ec.cycle) {
        this.close();
        c = newCycle(ec.cycle, d.streamId, d.formatId);
      }
      this.pending = null;
      this.finish(c, { packetId: d.packetId, asf: d.asf, number: ec.number });
      return 'parity';
    }
    if (ec.present && ec.type === EC_TYPE_DATA) {
      if (this.pending && this.pending.cycle !== ec.cycle) this.close();
      this.pending ??= newCycle(ec.cycle, d.streamId, d.formatId);
      if (this.pending.packets.has(d.packetId)) {
        this.counters.late++;
        return 'skipped';
      }
      this.pending.packets.set(d.packetId, d.asf);
      // a sender that never sends parity (or never moves on) must not make us hold packets without bound
      if (this.pending.packets.size > MAX_SPAN) this.close();
      return 'packet';
    }
    this.close();
    this.emit(d.formatId, d.packetId, d.asf, false);
    return 'packet';
  }

  /** Gives out the packets held (the group went quiet); the cycle stays open for its parity. */
  flush(): void {
    const c = this.pending;
    if (c) this.giveOut(c, null);
  }

  /** Gives out the cycle held and forgets it (another cycle or stream began, or the end). */
  private close(): void {
    const c = this.pending;
    this.pending = null;
    if (c) this.giveOut(c, null);
  }

  private finish(c: Cycle, parity: { packetId: number; asf: Buffer; number: number }): void {
    const rebuilt = this.recover(c, parity);
    this.giveOut(c, parity.packetId, rebuilt);
  }

  /** the cycle's packets not given out yet, in packet-ID order (wrap-safe: measured from before every ID) */
  private giveOut(c: Cycle, parityId: number | null, rebuilt: number | null = null): void {
    const ids = [...c.packets.keys()].filter((id) => !c.given.has(id));
    if (ids.length === 0) return;
    const base = ((parityId ?? [...c.packets.keys()][0]!) - 2 * MAX_SPAN) >>> 0;
    ids.sort((a, b) => ((a - base) >>> 0) - ((b - base) >>> 0));
    for (const id of ids) {
      c.given.add(id);
      this.emit(c.formatId, id, c.packets.get(id)!, id === rebuilt);
    }
  }

  /** one missing packet of the span + its parity = the missing packet; returns its ID when rebuilt */
  private recover(c: Cycle, parity: { packetId: number; asf: Buffer; number: number }): number | null {
    // Number = span + 1 on parity (16 wraps to 0); a sender numbering every packet 1 leaves it to Default Ecc
    const span = parity.number >= 2 ? parity.number - 1 : parity.number === 0 ? MAX_SPAN : this.opts.defaultEcc;
    if (!span || span < 1 || span > MAX_SPAN) return null;
    const first = (parity.packetId - span + 1) >>> 0;
    const expected = Array.from({ length: span }, (_, i) => (first + i) >>> 0);
    const missing = expected.filter((id) => !c.packets.has(id));
    if (missing.length !== 1) return null;
    const lostId = missing[0]!;
    const others = expected.filter((id) => id !== lostId).map((id) => c.packets.get(id)!);
    try {
      c.packets.set(lostId, recoverFromParity(parity.asf, others, expected.indexOf(lostId) + 1, c.cycle));
      return lostId;
    } catch (err) {
      this.reject('malformed', err);
      return null;
    }
  }

  private emit(formatId: number, packetId: number, asf: Buffer, recovered: boolean): void {
    const packetSize = this.opts.packetSizeOf(formatId);
    if (packetSize === undefined) return;
    let packet: Buffer;
    try {
      packet = restoreFromMsb(asf, packetSize);
    } catch (err) {
      this.reject('malformed', err);
      return;
    }
    if (this.lastId === null) {
      this.sequence++;
    } else {
      const delta = (packetId - this.lastId) >>> 0;
      if (delta === 0 || (delta > 0x80000000 && 0x100000000 - delta <= LATE_WINDOW)) {
        this.counters.late++;
        return;
      }
      if (delta > MAX_GAP) {
        this.counters.restarts++;
        this.sequence++;
      } else {
        this.counters.lost += delta - 1;
        this.sequence += delta;
      }
    }
    this.lastId = packetId;
    this.counters.packets++;
    if (recovered) this.counters.recovered++;
    this.opts.onPacket(packet, this.sequence, recovered);
  }

  private reject(reason: keyof AssemblerCounters, err?: unknown): 'skipped' {
    this.counters[reason]++;
    this.opts.onReject?.(reason, err === undefined ? undefined : toMssError(err, 'malformed'));
    return 'skipped';
  }
}
