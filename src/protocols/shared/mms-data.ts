/**
 * The 8-byte "MMS data packet" preheader that MS-MMSP Data packets (TCP and UDP, MS-MMSP 2.2.2) and MS-WMSP
 * $H/$D/$M frames (MS-WMSP 2.2.3.1) both put before an ASF header piece or an ASF data packet:
 *
 *   LocationId u32 · Incarnation u8 · AFFlags u8 · PacketSize u16 (little-endian; the size counts these 8 bytes)
 *
 * Pure and bounded: readers never look past the buffer they are given.
 */
import { MssError } from '../../core/errors.js';

export const MMS_DATA_HEADER_BYTES = 8;
/** largest value of the 16-bit PacketSize field */
export const MAX_MMS_DATA_PACKET = 0xffff;
/** largest payload one MMS data packet can carry */
export const MAX_MMS_DATA_PAYLOAD = MAX_MMS_DATA_PACKET - MMS_DATA_HEADER_BYTES;

export interface MmsDataHeader {
  /** header piece index, ASF packet number (virtual for live), or 0xF0F0F000/1 for packet-pair */
  locationId: number;
  /** low byte of the request that triggered the packet */
  incarnation: number;
  /** media: sequence number (mod 256); header: 0x04 more pieces / 0x08 last / 0x0C whole; packet-pair: 0x10 */
  afFlags: number;
  /** total bytes including the 8-byte preheader */
  packetSize: number;
}

/** Writes the preheader at `at` (the caller sized `out`). */
export function writeMmsDataHeader(out: Buffer, at: number, h: MmsDataHeader): void {
  if (h.packetSize < MMS_DATA_HEADER_BYTES || h.packetSize > MAX_MMS_DATA_PACKET) {
    throw new MssError('too-large', `MMS data packet: PacketSize ${h.packetSize} is outside ${MMS_DATA_HEADER_BYTES}..${MAX_MMS_DATA_PACKET}`);
  }
  out.writeUInt32LE(h.locationId >>> 0, at);
  out[at + 4] = h.incarnation & 0xff;
  out[at + 5] = h.afFlags & 0xff;
  out.writeUInt16LE(h.packetSize, at + 6);
}

/** Reads the preheader at `at`; MssError('truncated') when fewer than 8 bytes are there. */
export function readMmsDataHeader(buf: Buffer, at = 0): MmsDataHeader {
  if (at < 0 || buf.length - at < MMS_DATA_HEADER_BYTES) {
    throw new MssError('truncated', `MMS data packet: ${Math.max(0, buf.length - at)} bytes, the preheader needs ${MMS_DATA_HEADER_BYTES}`);
  }
  return { locationId: buf.readUInt32LE(at), incarnation: buf[at + 4]!, afFlags: buf[at + 5]!, packetSize: buf.readUInt16LE(at + 6) };
}

/** One MMS data packet (preheader + payload) in a new Buffer. */
export function buildMmsDataPacket(payload: Buffer, locationId: number, incarnation: number, afFlags: number): Buffer {
  if (payload.length > MAX_MMS_DATA_PAYLOAD) {
    throw new MssError('too-large', `MMS data packet: payload of ${payload.length} bytes, at most ${MAX_MMS_DATA_PAYLOAD} fit`);
  }
  const out = Buffer.allocUnsafe(MMS_DATA_HEADER_BYTES + payload.length);
  writeMmsDataHeader(out, 0, { locationId, incarnation, afFlags, packetSize: out.length });
  payload.copy(out, MMS_DATA_HEADER_BYTES);
  return out;
}

export interface MmsDataPacket extends MmsDataHeader {
  payload: Buffer;
}

/**
 * A buffer that is exactly one MMS data packet (a UDP datagram, a $D body): the preheader, then PacketSize - 8
 * bytes of payload. The payload is a view into `buf`.
 */
export function parseMmsDataPacket(buf: Buffer): MmsDataPacket {
  const h = readMmsDataHeader(buf, 0);
  if (h.packetSize < MMS_DATA_HEADER_BYTES) {
    throw new MssError('malformed', `MMS data packet: PacketSize ${h.packetSize} is smaller than its own ${MMS_DATA_HEADER_BYTES}-byte preheader`);
  }
  if (h.packetSize !== buf.length) {
    throw new MssError('malformed', `MMS data packet: PacketSize ${h.packetSize} differs from the ${buf.length} bytes received`);
  }
  return { ...h, payload: buf.subarray(MMS_DATA_HEADER_BYTES) };
}
