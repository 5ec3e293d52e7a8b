/**
 * MS-MSB datagrams: the 4-byte Beacon ("MSB ") and the MSB packet, an 8-byte header (dwPacketID, wStreamID,
 * wPacketSize, little-endian) followed by exactly one ASF data packet (2.2.3, 2.2.4); and the two bytes of ASF
 * Error Correction Data that carry MSB's parity bookkeeping (2.2.2): a 4-bit Type (0 none, 1 protected data,
 * 2 parity) and a 4-bit Number (position in the span) in the first byte, the 8-bit Cycle in the second.
 *
 * Nibble order: the ASF specification lists bit fields least significant first (Error Correction Flags: Data
 * Length in bits 0-3, ..., Present in bit 7), and names Type before Number, so Type is the low nibble. No capture
 * of a Windows multicast confirms it; the receiver never relies on Number (packet IDs place a packet in its span).
 *
 * Pure and bounded: every parse returns a value or throws MssError with a precise message.
 */
import { MssError } from '../../core/errors.js';

export const MSB_SIGNATURE = 0x2042534d;
export const MSB_HEADER_BYTES = 8;
/** wPacketSize counts the 8 header bytes and is 16 bits: the largest ASF packet MSB carries */
export const MSB_MAX_ASF_BYTES = 0xffff - MSB_HEADER_BYTES;
/** bit 15 of wStreamID: flips at every playlist entry change */
export const STREAM_ID_TOGGLE = 0x8000;
export const FORMAT_ID_BITS = 0x07ff;
const RESERVED_STREAM_ID_BITS = 0x7800;

export const EC_TYPE_NONE = 0;
export const EC_TYPE_DATA = 1;
export const EC_TYPE_PARITY = 2;
/** Error Correction Flags: present, length type 0, EC data length 2 */
export const EC_FLAGS_DATA = 0x82;
/** the same with Opaque Data Present, which marks a parity packet */
export const EC_FLAGS_PARITY = 0x92;
/** flags byte + two EC data bytes: what parity skips */
export const EC_PREFIX_BYTES = 3;

const BEACON = Buffer.from([0x4d, 0x53, 0x42, 0x20]);

export type MsbDatagram =
  | { kind: 'beacon' }
  | {
      kind: 'packet';
      packetId: number;
      streamId: number;
      /** wStreamID & 0x7FF: the Format ID of the header in the .nsc */
      formatId: number;
      /** a view of the ASF packet (parity or data) inside the datagram */
      asf: Buffer;
    };

/** A new Beacon datagram. */
export function buildBeacon(): Buffer {
  return Buffer.from(BEACON);
}

/** One MSB packet: header + the ASF packet (copied behind the header). */
export function encodeMsbPacket(packetId: number, streamId: number, asf: Buffer): Buffer {
  if (!Number.isInteger(packetId) || packetId < 0 || packetId > 0xffffffff) throw new MssError('invalid-argument', `MSB dwPacketID ${packetId} is not a 32-bit value`);
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffff || (streamId & RESERVED_STREAM_ID_BITS) !== 0) {
    throw new MssError('invalid-argument', `MSB wStreamID 0x${streamId.toString(16)} is not an 11-bit Format ID with the toggle bit`);
  }
  if (asf.length > MSB_MAX_ASF_BYTES) throw new MssError('too-large', `ASF packet of ${asf.length} bytes does not fit an MSB packet (at most ${MSB_MAX_ASF_BYTES})`);
  const out = Buffer.allocUnsafe(MSB_HEADER_BYTES + asf.length);
  out.writeUInt32LE(packetId, 0);
  out.writeUInt16LE(streamId, 4);
  out.writeUInt16LE(out.length, 6);
  asf.copy(out, MSB_HEADER_BYTES);
  return out;
}

/** Classifies one received datagram. Anything that is neither a Beacon nor a well-formed MSB packet throws. */
export function parseMsbDatagram(buf: Buffer): MsbDatagram {
  if (buf.length === 4) {
    if (buf.equals(BEACON)) return { kind: 'beacon' };
    throw new MssError('malformed', `4-byte datagram ${buf.toString('hex')} is not an MSB Beacon`);
  }
  if (buf.length < MSB_HEADER_BYTES) throw new MssError('truncated', `MSB datagram of ${buf.length} bytes is shorter than the 8-byte packet header`);
  const packetId = buf.readUInt32LE(0);
  const streamId = buf.readUInt16LE(4);
  const size = buf.readUInt16LE(6);
  if (size !== buf.length) {
    throw new MssError(size > buf.length ? 'truncated' : 'malformed', `MSB wPacketSize ${size} does not match the ${buf.length}-byte datagram`, { packetId });
  }
  if ((streamId & RESERVED_STREAM_ID_BITS) !== 0) throw new MssError('malformed', `MSB wStreamID 0x${streamId.toString(16)} has reserved bits 11-14 set`, { packetId });
  if (size === MSB_HEADER_BYTES) throw new MssError('malformed', 'MSB packet carries no ASF packet', { packetId });
  return { kind: 'packet', packetId, streamId, formatId: streamId & FORMAT_ID_BITS, asf: buf.subarray(MSB_HEADER_BYTES) };
}

export interface ErrorCorrectionInfo {
  /** Error Correction Present bit */
  present: boolean;
  /** bytes taken by the flags byte and the EC data (0 when absent) */
  prefixBytes: number;
  /** Opaque Data Present: set on parity packets only */
  opaque: boolean;
  /** Type/Number/Cycle; zeros when the EC data is not the 2-byte form */
  type: number;
  number: number;
  cycle: number;
}

/** Reads the Error Correction block at the start of an ASF packet (no EC: present false, prefixBytes 0). */
export function readErrorCorrection(asf: Buffer): ErrorCorrectionInfo {
  if (asf.length === 0) throw new MssError('truncated', 'empty ASF packet');
  const flags = asf[0]!;
  if ((flags & 0x80) === 0) return { present: false, prefixBytes: 0, opaque: false, type: 0, number: 0, cycle: 0 };
  if ((flags >> 5) & 3) throw new MssError('malformed', `ASF Error Correction Length Type ${(flags >> 5) & 3} (must be 0)`);
  const len = flags & 0x0f;
  if (1 + len > asf.length) throw new MssError('truncated', `ASF Error Correction Data of ${len} bytes runs past the ${asf.length}-byte packet`);
  const two = len === 2;
  return {
    present: true,
    prefixBytes: 1 + len,
    opaque: (flags & 0x10) !== 0,
    type: two ? asf[1]! & 0x0f : 0,
    number: two ? asf[1]! >> 4 : 0,
    cycle: two ? asf[2]! : 0,
  };
}

/** Writes the 3-byte MSB error-correction prefix (flags, Type|Number, Cycle) at the start of `asf`. */
export function writeErrorCorrection(asf: Buffer, type: number, number: number, cycle: number): void {
  if (asf.length < EC_PREFIX_BYTES) throw new MssError('invalid-argument', `ASF packet of ${asf.length} bytes has no room for error correction`);
  asf[0] = type === EC_TYPE_PARITY ? EC_FLAGS_PARITY : EC_FLAGS_DATA;
  asf[1] = ((number & 0x0f) << 4) | (type & 0x0f);
  asf[2] = cycle & 0xff;
}
