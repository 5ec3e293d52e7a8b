/**
 * The RTP payload format for ASF data packets (MS-RTSP 2.2.1) and for packet-pair data (2.2.3.2). Pure.
 *
 * Every ASF packet, or fragment of one, is preceded by a big-endian payload format header:
 *   byte 0: S (0x80, a key frame) L (0x40, Length follows; else Offset) R (0x20) D (0x10) I (0x08) RES (0x07 = 0)
 *   bytes 1-3: Length (L=1) or Offset of the fragment in its ASF packet (L=0)
 *   then, when flagged, 32-bit Relative Timestamp (signed: send time - RTP timestamp), Duration, LocationId.
 * The RTP timestamp is the send time of the first ASF packet in the RTP packet (1 kHz clock); M marks an RTP
 * packet that ends an ASF packet. Trailing padding may be left out (its Padding Length field then reads 0).
 *
 * Length of a whole packet (L=1): the spec says the ASF packet's size; FFmpeg reads it as counting from the first
 * byte of the payload header (a comment there says real servers send that).
 * Padding left out: the compact packet (src/asf/packet-facts.ts) carries an explicit Packet Length instead. `lengthMode` picks one:
 * 'with-header' (default: FFmpeg gets whole packets; GStreamer and VLC clamp to the bytes present, so they do
 * too when there is one ASF packet per RTP packet) or 'asf-only' (the text of the spec). The depacketizer reads
 * both. Several whole ASF packets are packed into one RTP packet only by `packetizeMany`, which readers that
 * disagree on Length cannot both parse; the server uses one ASF packet (or fragment) per RTP packet.
 */
import { MssError } from '../../core/errors.js';
import { compactPacket, packetFacts, type PacketFacts } from '../../asf/packet-facts.js';
import { RTP_HEADER_SIZE, sequenceDelta, writeRtpHeader, type RtpPacket } from './rtp.js';

export const FLAG_KEY = 0x80;
export const FLAG_LENGTH = 0x40;
export const FLAG_RELATIVE_TIME = 0x20;
export const FLAG_DURATION = 0x10;
export const FLAG_LOCATION = 0x08;
const MAX_24 = 0xffffff;

export type LengthMode = 'with-header' | 'asf-only';

export interface PayloadHeader {
  keyFrame: boolean;
  /** true: `value` is a length (whole packet); false: the offset of a fragment */
  isLength: boolean;
  value: number;
  relativeTimestamp?: number;
  duration?: number;
  locationId?: number;
}

export function payloadHeaderSize(h: Pick<PayloadHeader, 'relativeTimestamp' | 'duration' | 'locationId'>): number {
  return 4 + (h.relativeTimestamp !== undefined ? 4 : 0) + (h.duration !== undefined ? 4 : 0) + (h.locationId !== undefined ? 4 : 0);
}

/** Writes a payload format header at `offset`; returns the offset after it. */
export function writePayloadHeader(out: Buffer, offset: number, h: PayloadHeader): number {
  if (!Number.isInteger(h.value) || h.value < 0 || h.value > MAX_24) throw new MssError('invalid-argument', `RTP/ASF: Length/Offset ${h.value} outside 0..16777215`);
  let flags = (h.keyFrame ? FLAG_KEY : 0) | (h.isLength ? FLAG_LENGTH : 0);
  if (h.relativeTimestamp !== undefined) flags |= FLAG_RELATIVE_TIME;
  if (h.duration !== undefined) flags |= FLAG_DURATION;
  if (h.locationId !== undefined) flags |= FLAG_LOCATION;
  out[offset] = flags;
  out[offset + 1] = (h.value >>> 16) & 0xff;
  out.writeUInt16BE(h.value & 0xffff, offset + 2);
  let pos = offset + 4;
  if (h.relativeTimestamp !== undefined) {
    out.writeInt32BE(h.relativeTimestamp | 0, pos);
    pos += 4;
  }
  if (h.duration !== undefined) {
    out.writeUInt32BE(h.duration >>> 0, pos);
    pos += 4;
  }
  if (h.locationId !== undefined) {
    out.writeUInt32BE(h.locationId >>> 0, pos);
    pos += 4;
  }
  return pos;
}

/** Reads a payload format header at `offset` of an RTP payload. */
export function readPayloadHeader(payload: Buffer, offset: number): { header: PayloadHeader; size: number } {
  if (offset + 4 > payload.length) throw new MssError('truncated', `RTP/ASF: payload header at byte ${offset} runs past the ${payload.length}-byte payload`);
  const flags = payload[offset]!;
  const header: PayloadHeader = { keyFrame: (flags & FLAG_KEY) !== 0, isLength: (flags & FLAG_LENGTH) !== 0, value: (payload[offset + 1]! << 16) | payload.readUInt16BE(offset + 2) };
  let pos = offset + 4;
  const need = pos + ((flags & FLAG_RELATIVE_TIME) ? 4 : 0) + ((flags & FLAG_DURATION) ? 4 : 0) + ((flags & FLAG_LOCATION) ? 4 : 0);
  if (need > payload.length) throw new MssError('truncated', `RTP/ASF: payload header at byte ${offset} (flags 0x${flags.toString(16)}) runs past the ${payload.length}-byte payload`);
  if (flags & FLAG_RELATIVE_TIME) {
    header.relativeTimestamp = payload.readInt32BE(pos);
    pos += 4;
  }
  if (flags & FLAG_DURATION) {
    header.duration = payload.readUInt32BE(pos);
    pos += 4;
  }
  if (flags & FLAG_LOCATION) {
    header.locationId = payload.readUInt32BE(pos);
    pos += 4;
  }
  return { header, size: pos - offset };
}

export interface AsfRtpOptions {
  payloadType: number;
  ssrc: number;
  initialSequence?: number;
  /** largest RTP packet (its 12-byte header included): the path MTU less IP and UDP headers, or 65535 on TCP */
  maxPacketSize: number;
  lengthMode?: LengthMode;
  /** carry LocationId (only for clients that listed com.microsoft.wm.locid) */
  locationId?: boolean;
  /** carry the ASF packet's Duration */
  duration?: boolean;
  /** leave out trailing padding (MS-RTSP 2.2.1.4 SHOULD) */
  stripPadding?: boolean;
  /** prefix every RTP packet with the RTSP interleaved header of this channel (RTP over the RTSP connection) */
  interleavedChannel?: number;
}

interface Unit {
  packet: Buffer;
  facts: PacketFacts;
  locationId: number;
  /** bytes of the packet in this unit */
  from: number;
  to: number;
  fragment: boolean;
  last: boolean;
  relative?: number;
}

/**
 * Turns ASF packets into RTP packets of one RTP session (one SSRC, consecutive sequence numbers). Counts what it
 * sent for RTCP sender reports. A packet given is a whole fixed-size ASF packet: its length is the packet size
 * (so a live stream whose new header changes the size needs nothing else).
 */
export class AsfRtpPacketizer {
  private seq: number;
  readonly ssrc: number;
  /** RTP packets and payload octets sent (RTCP SR) */
  packetCount = 0;
  octetCount = 0;
  /** RTP timestamp of the last packet (RTCP SR) */
  lastTimestamp = 0;
  private readonly o: Required<Omit<AsfRtpOptions, 'interleavedChannel' | 'initialSequence'>> & { interleavedChannel?: number };

  constructor(opts: AsfRtpOptions) {
    if (!Number.isInteger(opts.maxPacketSize) || opts.maxPacketSize < 64 || opts.maxPacketSize > 0xffff) {
      throw new MssError('invalid-argument', `RTP/ASF: maximum RTP packet size ${opts.maxPacketSize} outside 64..65535`);
    }
    this.o = { lengthMode: 'with-header', locationId: false, duration: false, stripPadding: false, ...opts };
    this.ssrc = opts.ssrc >>> 0;
    this.seq = (opts.initialSequence ?? 0) & 0xffff;
  }

  /** sequence number of the next RTP packet */
  get nextSequence(): number {
    return this.seq;
  }

  /** The RTP packets of one ASF packet: one when it fits, else fragments. */
  packetize(packet: Buffer, locationId: number): Buffer[] {
    const facts = packetFacts(packet, packet.length);
    return this.emit(this.split(this.wire(packet, facts), facts, locationId), facts.sendTime);
  }

  /** the bytes that go: the compact packet when padding is left out */
  private wire(packet: Buffer, facts: PacketFacts): Buffer {
    return this.o.stripPadding ? compactPacket(packet, packet.length, facts) : packet;
  }

  /**
   * Several ASF packets with as many whole ones per RTP packet as fit (later ones carry a Relative Timestamp
   * when their send time differs); a packet that does not fit alone is fragmented.
   */
  packetizeMany(packets: ReadonlyArray<{ packet: Buffer; locationId: number }>): Buffer[] {
    const out: Buffer[] = [];
    let group: Unit[] = [];
    let groupBytes = 0;
    let groupTime = 0;
    const flush = () => {
      if (group.length > 0) out.push(this.build(group, groupTime, true));
      group = [];
      groupBytes = 0;
    };
    for (const { packet, locationId } of packets) {
      const facts = packetFacts(packet, packet.length);
      const wire = this.wire(packet, facts);
      const len = wire.length;
      const relative = group.length > 0 && facts.sendTime !== groupTime ? (facts.sendTime - groupTime) | 0 : undefined;
      const unitBytes = this.headerSize(relative, true) + len;
      if (group.length > 0 && RTP_HEADER_SIZE + groupBytes + unitBytes <= this.o.maxPacketSize) {
        group.push({ packet: wire, facts, locationId, from: 0, to: len, fragment: false, last: true, relative });
        groupBytes += unitBytes;
        continue;
      }
      flush();
      const alone = this.split(wire, facts, locationId);
      if (alone.length === 1) {
        group = alone;
        groupBytes = this.headerSize(undefined, true) + len;
        groupTime = facts.sendTime;
      } else {
        out.push(...this.emit(alone, facts.sendTime));
      }
    }
    flush();
    return out;
  }

  private headerSize(relative: number | undefined, last: boolean): number {
    return 4 + (relative !== undefined ? 4 : 0) + (this.o.duration ? 4 : 0) + (this.o.locationId && last ? 4 : 0);
  }

  private split(packet: Buffer, facts: PacketFacts, locationId: number): Unit[] {
    const len = packet.length;
    const room = this.o.maxPacketSize - RTP_HEADER_SIZE;
    if (this.headerSize(undefined, true) + len <= room) return [{ packet, facts, locationId, from: 0, to: len, fragment: false, last: true }];
    const units: Unit[] = [];
    const roomLast = room - this.headerSize(undefined, true);
    const roomMiddle = room - this.headerSize(undefined, false);
    let from = 0;
    while (from < len) {
      const left = len - from;
      const last = left <= roomLast;
      const take = last ? left : Math.min(roomMiddle, left - 1);
      units.push({ packet, facts, locationId, from, to: from + take, fragment: true, last });
      from += take;
    }
    return units;
  }

  private emit(units: Unit[], timestamp: number): Buffer[] {
    if (units.length === 1) return [this.build(units, timestamp, true)];
    return units.map((u) => this.build([u], timestamp, u.last));
  }

  private build(units: Unit[], timestamp: number, marker: boolean): Buffer {
    const prefix = this.o.interleavedChannel !== undefined ? 4 : 0;
    let size = RTP_HEADER_SIZE;
    for (const u of units) size += this.headerSize(u.relative, u.last) + (u.to - u.from);
    const out = Buffer.allocUnsafe(prefix + size);
    if (prefix) {
      out[0] = 0x24;
      out[1] = this.o.interleavedChannel!;
      out.writeUInt16BE(size, 2);
    }
    writeRtpHeader(out, prefix, { marker, payloadType: this.o.payloadType, sequence: this.seq, timestamp, ssrc: this.ssrc });
    let pos = prefix + RTP_HEADER_SIZE;
    for (const u of units) {
      const hdr = this.headerSize(u.relative, u.last);
      const bytes = u.to - u.from;
      pos = writePayloadHeader(out, pos, {
        keyFrame: u.facts.keyFrame,
        isLength: !u.fragment,
        value: u.fragment ? u.from : this.o.lengthMode === 'with-header' ? hdr + bytes : bytes,
        relativeTimestamp: u.relative,
        duration: this.o.duration ? u.facts.duration : undefined,
        locationId: this.o.locationId && u.last ? u.locationId : undefined,
      });
      u.packet.copy(out, pos, u.from, u.to);
      pos += bytes;
    }
    this.seq = (this.seq + 1) & 0xffff;
    this.packetCount++;
    this.octetCount += size - RTP_HEADER_SIZE;
    this.lastTimestamp = timestamp >>> 0;
    return out;
  }
}

export interface ReceivedAsfPacket {
  /** the ASF packet as it arrived (padding may be missing) */
  packet: Buffer;
  sendTime: number;
  keyFrame: boolean;
  locationId?: number;
  duration?: number;
}

/**
 * Reassembles ASF packets from the RTP packets of one session, in arrival order. A lost or out-of-order fragment
 * drops the packet it belonged to (counted in `dropped`); a whole packet's Length is read in either meaning.
 */
export class AsfRtpDepacketizer {
  dropped = 0;
  private parts: Buffer[] = [];
  private collected = 0;
  private lastSeq: number | undefined;
  private fragmentTime = 0;
  private fragmentKey = false;
  private mode: LengthMode | undefined;
  /** skipping the fragments of a packet already counted as lost */
  private discarding = false;

  /** maxPacketSize: the largest ASF packet accepted (the header's packet size + 2: a compact packet may be longer) */
  constructor(private readonly maxPacketSize: number) {}

  push(rtp: RtpPacket): ReceivedAsfPacket[] {
    const out: ReceivedAsfPacket[] = [];
    const inOrder = this.lastSeq === undefined || sequenceDelta(this.lastSeq, rtp.sequence) === 1;
    this.lastSeq = rtp.sequence;
    if (!inOrder && this.collected > 0) {
      this.drop();
      this.discarding = true;
    }
    const payload = rtp.payload;
    let off = 0;
    while (off + 4 <= payload.length) {
      const { header, size } = readPayloadHeader(payload, off);
      const dataAt = off + size;
      const sendTime = (rtp.timestamp + (header.relativeTimestamp ?? 0)) >>> 0;
      if (!header.isLength) {
        this.fragment(header, payload.subarray(dataAt), rtp.marker, sendTime, out);
        break;
      }
      const n = this.wholeLength(header.value, size, payload, dataAt);
      if (n <= 0) break;
      if (n > this.maxPacketSize) throw new MssError('malformed', `RTP/ASF: a packet of ${n} bytes is larger than the packet size ${this.maxPacketSize}`);
      if (this.collected > 0) this.drop();
      this.discarding = false;
      out.push({ packet: Buffer.from(payload.subarray(dataAt, dataAt + n)), sendTime, keyFrame: header.keyFrame, locationId: header.locationId, duration: header.duration });
      off = dataAt + n;
    }
    return out;
  }

  private drop(): void {
    this.dropped++;
    this.parts = [];
    this.collected = 0;
  }

  private fragment(h: PayloadHeader, data: Buffer, marker: boolean, sendTime: number, out: ReceivedAsfPacket[]): void {
    if (h.value === 0) {
      if (this.collected > 0) this.drop();
      this.discarding = false;
      this.fragmentTime = sendTime;
      this.fragmentKey = h.keyFrame;
    } else if (this.discarding) {
      // the rest of a packet already counted as lost
      if (marker) this.discarding = false;
      return;
    } else if (this.collected === 0 || h.value !== this.collected) {
      // a fragment whose start we did not see, or after a gap: its packet is lost
      this.drop();
      this.discarding = !marker;
      return;
    }
    if (this.collected + data.length > this.maxPacketSize) {
      this.drop();
      this.discarding = !marker;
      return;
    }
    this.parts.push(Buffer.from(data));
    this.collected += data.length;
    if (!marker) return;
    out.push({ packet: Buffer.concat(this.parts, this.collected), sendTime: this.fragmentTime, keyFrame: this.fragmentKey, locationId: h.locationId, duration: h.duration });
    this.parts = [];
    this.collected = 0;
  }

  /** bytes of a whole packet, either Length meaning; remembered once the stream shows which it uses */
  private wholeLength(value: number, headerSize: number, payload: Buffer, dataAt: number): number {
    const left = payload.length - dataAt;
    const withHeader = value - headerSize;
    if (this.mode === undefined) {
      if (withHeader === left) this.mode = 'with-header';
      else if (value === left) this.mode = 'asf-only';
      else if (value < left && plausibleHeader(payload, dataAt + value)) this.mode = 'asf-only';
      else if (withHeader > 0 && withHeader < left && plausibleHeader(payload, dataAt + withHeader)) this.mode = 'with-header';
    }
    const n = this.mode === 'with-header' ? withHeader : this.mode === 'asf-only' ? value : Math.min(value, left);
    return Math.min(n, left);
  }
}

function plausibleHeader(payload: Buffer, at: number): boolean {
  return at + 4 < payload.length && (payload[at]! & 0x07) === 0 && (payload[at]! & FLAG_LENGTH) !== 0;
}

/** Payload sizes of packet-pair RTP packets (2.2.3.2): fixed, or the sender's choice when the client allows it. */
export function packetPairSizes(count: 2 | 3, variableSize: boolean): number[] {
  if (variableSize) return count === 3 ? [1283, 1284, 1285] : [1284, 1285];
  return count === 3 ? [1454, 1455, 1456] : [1455, 1456];
}

/**
 * Packet-pair RTP packets: timestamp 0, one header with L=1 (S=1 on the first only), then random bytes (every
 * packet different: `random` is injected so this stays pure; pass crypto.randomBytes).
 */
export function buildPacketPair(opts: { count: 2 | 3; variableSize: boolean; payloadType: number; ssrc: number; firstSequence: number; random: (n: number) => Buffer }): Buffer[] {
  return packetPairSizes(opts.count, opts.variableSize).map((n, i) => {
    const out = Buffer.allocUnsafe(RTP_HEADER_SIZE + 4 + n);
    writeRtpHeader(out, 0, { marker: true, payloadType: opts.payloadType, sequence: opts.firstSequence + i, timestamp: 0, ssrc: opts.ssrc });
    writePayloadHeader(out, RTP_HEADER_SIZE, { keyFrame: i === 0, isLength: true, value: n });
    opts.random(n).copy(out, RTP_HEADER_SIZE + 4, 0, n);
    return out;
  });
}
