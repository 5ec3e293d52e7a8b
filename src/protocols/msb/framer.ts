/**
 * The MS-MSB framer of one multicast output: every ASF data packet becomes one MSB datagram (padding removed,
 * the MSB error-correction prefix set), and after every `span` packets comes the XOR parity datagram, carrying
 * the previous packet's ID (2.2.2, 2.2.4). The ASF header travels in the `.nsc`, so header() sends nothing: it
 * registers the header's Format ID and starts a stream, flipping bit 15 of wStreamID for every stream after the
 * first (3.1.5.1: a playlist entry change, a loop, a new encoder header, the point restarting). A stream change
 * and the end close a short span with its parity (3.1.5.3).
 *
 * It counts (packet IDs, cycles), so it is `sequenced`: the fan-out calls data() once per packet, in order.
 * The fan-out calls header() once per new header per framer name, so a stream begins exactly there.
 */
import { parseHeaderObject } from '../../asf/header.js';
import type { Frame, PacketFramer } from '../../contracts/media.js';
import { toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { encodeMsbPacket, MSB_MAX_ASF_BYTES, STREAM_ID_TOGGLE } from './codec.js';
import type { FormatBook } from './formats.js';
import { MAX_SPAN, ParityAccumulator } from './parity.js';
import { shapeForMsb } from './packet-shape.js';

export interface MsbFramerOptions {
  /** unique per output: header() state must not be shared through the fan-out's per-name header cache */
  name: string;
  /** data packets per parity packet; 0 = no error correction */
  span: number;
  formats: FormatBook;
  log: Logger;
  firstPacketId?: number;
}

export interface MsbFramerCounters {
  datagrams: number;
  parity: number;
  /** packets that could not take the error-correction prefix (sent unprotected) */
  unprotected: number;
  /** packets that could not be sent (a header too large for MSB, a packet that does not parse) */
  skipped: number;
  streams: number;
}

export class MsbFramer implements PacketFramer {
  readonly name: string;
  readonly transport = 'datagram' as const;
  readonly sequenced = true;
  readonly counters: MsbFramerCounters = { datagrams: 0, parity: 0, unprotected: 0, skipped: 0, streams: 0 };
  private nextId: number;
  private lastId: number;
  private streamId = -1;
  private packetSize = 0;
  private parity: ParityAccumulator | null = null;
  private cycle = 0;
  private usable = false;

  constructor(private readonly opts: MsbFramerOptions) {
    if (!Number.isInteger(opts.span) || opts.span < 0 || opts.span > MAX_SPAN) throw new RangeError(`MSB parity span ${opts.span} outside 0..${MAX_SPAN}`);
    this.name = opts.name;
    this.nextId = (opts.firstPacketId ?? 0) >>> 0;
    this.lastId = this.nextId;
  }

  /** wStreamID of the current stream (-1 before the first header) */
  get currentStreamId(): number {
    return this.streamId;
  }

  header(headerBytes: Buffer): Buffer[] {
    this.parity = null;
    try {
      const packetSize = parseHeaderObject(headerBytes).fileProperties.packetSize;
      if (packetSize > MSB_MAX_ASF_BYTES) throw new RangeError(`packet size ${packetSize} is over the ${MSB_MAX_ASF_BYTES} bytes an MSB packet holds`);
      this.packetSize = packetSize;
      const toggle = this.streamId < 0 ? 0 : (this.streamId & STREAM_ID_TOGGLE) ^ STREAM_ID_TOGGLE;
      this.streamId = this.opts.formats.idFor(headerBytes) | toggle;
      this.parity = this.opts.span > 0 ? new ParityAccumulator(packetSize) : null;
      this.usable = true;
      this.counters.streams++;
    } catch (err) {
      // never throw into the fan-out: this output sends nothing until a usable header comes
      this.usable = false;
      this.opts.log.warn('msb.header-unusable', { output: this.name, error: toMssError(err, 'unsupported') });
    }
    return [];
  }

  data(packet: Buffer): Frame {
    if (!this.usable) return null;
    const parity = this.parity;
    let shaped;
    try {
      shaped = shapeForMsb(packet, this.packetSize, parity ? { number: parity.count + 1, cycle: this.cycle } : null);
    } catch (err) {
      this.counters.skipped++;
      if (this.counters.skipped === 1) this.opts.log.warn('msb.packet-skipped', { output: this.name, error: toMssError(err, 'malformed') });
      return null;
    }
    const out: Buffer[] = [];
    if (!shaped.protected && parity) {
      // the span must end with its parity right after its last packet, before anything unprotected
      const close = this.closeSpan();
      if (close) out.push(close);
      this.counters.unprotected++;
    }
    this.lastId = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    out.push(encodeMsbPacket(this.lastId, this.streamId, shaped.asf));
    this.counters.datagrams++;
    if (shaped.protected && parity) {
      parity.add(shaped.asf);
      if (parity.count >= this.opts.span) out.push(this.closeSpan()!);
    }
    return out;
  }

  streamChange(): Frame {
    return this.closeSpan();
  }

  end(): Frame {
    return this.closeSpan();
  }

  /** the parity datagram of the span so far (null when it is empty), under the previous packet's ID */
  private closeSpan(): Buffer | null {
    const parity = this.parity;
    if (!parity || parity.count === 0 || !this.usable) return null;
    const d = encodeMsbPacket(this.lastId, this.streamId, parity.take(this.cycle));
    this.cycle = (this.cycle + 1) & 0xff;
    this.counters.parity++;
    this.counters.datagrams++;
    return d;
  }
}
