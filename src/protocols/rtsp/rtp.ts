/**
 * The RTP fixed header (RFC 3550 §5.1), big-endian: parse a received packet (CSRCs, header extension and padding
 * accounted for, every length checked) and write the 12-byte header the server sends (no CSRC, no extension).
 */
import { MssError } from '../../core/errors.js';

export const RTP_HEADER_SIZE = 12;

export interface RtpHeaderFields {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
}

export interface RtpPacket extends RtpHeaderFields {
  /** the payload, without header, CSRCs, extension or padding (a view into the packet) */
  payload: Buffer;
}

function bad(message: string): MssError {
  return new MssError('malformed', `RTP: ${message}`);
}

export function parseRtpPacket(buf: Buffer): RtpPacket {
  if (buf.length < RTP_HEADER_SIZE) throw bad(`packet of ${buf.length} bytes is shorter than the 12-byte header`);
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) throw bad(`version ${b0 >> 6}, not 2`);
  let pos = RTP_HEADER_SIZE + 4 * (b0 & 0x0f);
  if (pos > buf.length) throw bad(`${b0 & 0x0f} CSRCs run past the ${buf.length}-byte packet`);
  if (b0 & 0x10) {
    if (pos + 4 > buf.length) throw bad('header extension runs past the packet');
    pos += 4 + 4 * buf.readUInt16BE(pos + 2);
    if (pos > buf.length) throw bad('header extension runs past the packet');
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const pad = buf[buf.length - 1]!;
    if (pad === 0 || pad > end - pos) throw bad(`padding count ${pad} does not fit the ${end - pos}-byte payload`);
    end -= pad;
  }
  return {
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: buf[1]! & 0x7f,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(pos, end),
  };
}

/** Writes the 12-byte header at `offset`. */
export function writeRtpHeader(out: Buffer, offset: number, h: RtpHeaderFields): void {
  if (!Number.isInteger(h.payloadType) || h.payloadType < 0 || h.payloadType > 127) throw new MssError('invalid-argument', `RTP: payload type ${h.payloadType} outside 0..127`);
  out[offset] = 0x80;
  out[offset + 1] = (h.marker ? 0x80 : 0) | h.payloadType;
  out.writeUInt16BE(h.sequence & 0xffff, offset + 2);
  out.writeUInt32BE(h.timestamp >>> 0, offset + 4);
  out.writeUInt32BE(h.ssrc >>> 0, offset + 8);
}

/** Signed distance from sequence number a to b, modulo 2^16 (positive when b follows a). */
export function sequenceDelta(a: number, b: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}
