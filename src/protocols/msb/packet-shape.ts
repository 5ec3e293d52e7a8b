/**
 * The form an ASF data packet takes inside an MSB packet, and back. On the way out (MS-MSB 2.2.4, 2.2.2): the
 * Padding Data is removed, with an explicit Packet Length so a single-payload packet stays unambiguous and the
 * Padding Length field dropped, and the Error Correction block becomes the 2-byte MSB form (Type 1, Number,
 * Cycle) so the packet can join a parity span. On the way in: the packet is zero-filled back to the header's
 * packet size (readers treat a Packet Length below the packet size as padding), its Error Correction Data is
 * reset to "not used" (00 00, what files carry and what FFmpeg expects) and it is parsed, so garbage that
 * happens to carry a known Format ID never reaches the player's output.
 */
import { parseDataPacket } from '../../asf/packet.js';
import { MssError } from '../../core/errors.js';
import { EC_PREFIX_BYTES, EC_TYPE_DATA, readErrorCorrection, writeErrorCorrection } from './codec.js';

const WIDTH = [0, 1, 2, 4] as const;

export interface ShapedPacket {
  /** the ASF packet as it goes into the MSB packet */
  asf: Buffer;
  /** it carries the MSB error-correction prefix and may join a parity span */
  protected: boolean;
}

interface Layout {
  /** where the EC block ends (Length Type Flags) */
  ppiAt: number;
  ltf: number;
  pf: number;
  sequence: number;
  sendTime: number;
  duration: number;
  /** first payload byte (after Duration) */
  payloadAt: number;
  /** end of the last payload byte */
  payloadEnd: number;
}

function layoutOf(packet: Buffer, packetSize: number): Layout {
  const p = parseDataPacket(packet, packetSize);
  const ppiAt = p.errorCorrection ? p.errorCorrection.length : 0;
  const ltf = p.lengthTypeFlags;
  const payloadAt = ppiAt + 2 + WIDTH[(ltf >> 5) & 3]! + WIDTH[(ltf >> 1) & 3]! + WIDTH[(ltf >> 3) & 3]! + 6;
  let payloadEnd = p.packetLength - p.paddingLength;
  if (p.multiplePayloads) {
    const last = p.payloads[p.payloads.length - 1]!;
    payloadEnd = last.data.byteOffset - packet.byteOffset + last.data.length;
  }
  return { ppiAt, ltf, pf: p.propertyFlags, sequence: p.sequence, sendTime: p.sendTime, duration: p.duration, payloadAt, payloadEnd };
}

function writeVar(buf: Buffer, pos: number, type: number, value: number): number {
  if (type === 1) buf[pos] = value & 0xff;
  else if (type === 2) buf.writeUInt16LE(value & 0xffff, pos);
  else if (type === 3) buf.writeUInt32LE(value >>> 0, pos);
  return pos + WIDTH[type]!;
}

/**
 * The packet for an MSB datagram. With `ec`, it gets the MSB error-correction prefix (Type 1, the given Number
 * and Cycle); a packet that cannot take one within the packet size is returned as it is, unprotected.
 */
export function shapeForMsb(packet: Buffer, packetSize: number, ec: { number: number; cycle: number } | null): ShapedPacket {
  const l = layoutOf(packet, packetSize);
  const prefix = ec ? EC_PREFIX_BYTES : l.ppiAt;
  const seqType = (l.ltf >> 1) & 3;
  const body = packet.subarray(l.payloadAt, l.payloadEnd);
  const stripped = prefix + 2 + 2 + WIDTH[seqType]! + 6 + body.length;
  let out: Buffer;
  if (l.payloadEnd < packetSize && stripped <= packetSize) {
    // padding to remove: an explicit WORD Packet Length, no Padding Length field
    out = Buffer.allocUnsafe(stripped);
    let pos = prefix;
    out[pos++] = (l.ltf & 0x07) | (2 << 5);
    out[pos++] = l.pf;
    pos = writeVar(out, pos, 2, stripped);
    pos = writeVar(out, pos, seqType, l.sequence);
    out.writeUInt32LE(l.sendTime >>> 0, pos);
    out.writeUInt16LE(l.duration & 0xffff, pos + 4);
    body.copy(out, pos + 6);
  } else {
    // a full packet: its own fields, only the EC block replaced (when the sizes allow)
    const size = packetSize - l.ppiAt + prefix;
    if (size > packetSize) return { asf: packet.subarray(0, packetSize), protected: false };
    out = Buffer.allocUnsafe(size);
    packet.copy(out, prefix, l.ppiAt, packetSize);
  }
  if (!ec) {
    packet.copy(out, 0, 0, l.ppiAt);
    return { asf: out, protected: false };
  }
  writeErrorCorrection(out, EC_TYPE_DATA, ec.number, ec.cycle);
  return { asf: out, protected: true };
}

/** A received (data, not parity) ASF packet back at the fixed packet size, checked by parsing it. */
export function restoreFromMsb(asf: Buffer, packetSize: number): Buffer {
  if (asf.length > packetSize) throw new MssError('malformed', `ASF packet of ${asf.length} bytes is larger than the header's packet size ${packetSize}`);
  const ec = readErrorCorrection(asf);
  if (ec.opaque) throw new MssError('malformed', 'a parity packet is not a data packet');
  const out = Buffer.alloc(packetSize);
  asf.copy(out);
  if (ec.prefixBytes === EC_PREFIX_BYTES) {
    out[1] = 0;
    out[2] = 0;
  }
  parseDataPacket(out, packetSize);
  return out;
}
