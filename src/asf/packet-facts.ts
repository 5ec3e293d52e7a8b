/**
 * Cheap per-packet facts for transports that describe each ASF data packet (the RTP payload format for ASF):
 * send time, duration, whether a payload is a key frame; and the compact form of a packet for the wire: trailing
 * padding left out, with an explicit Packet Length field so a receiver knows where it ends (FFmpeg's ASF demuxer
 * skips a packet's padding twice when packets arrive one buffer at a time, so padding must not be announced), and
 * the inverse: the fixed-size packet back, byte for byte.
 */
import { MssError } from '../core/errors.js';
import { readPacketHead } from './packet.js';

const WIDTH = [0, 1, 2, 4] as const;

export interface PacketFacts {
  sendTime: number;
  /** ms (the packet's Duration field) */
  duration: number;
  /** a payload has the key-frame bit */
  keyFrame: boolean;
  /** trailing padding bytes that compactPacket leaves out (0: the packet goes as it is) */
  droppable: number;
}

function fail(message: string, offset: number): never {
  throw new MssError('malformed', `Data packet: ${message} (at byte ${offset})`, { object: 'DataPacket', offset });
}

function varAt(buf: Buffer, pos: number, type: number): number {
  if (type === 1) return buf[pos]!;
  if (type === 2) return buf.readUInt16LE(pos);
  if (type === 3) return buf.readUInt32LE(pos);
  return 0;
}

function writeVar(buf: Buffer, pos: number, type: number, value: number): void {
  if (type === 1) buf[pos] = value;
  else if (type === 2) buf.writeUInt16LE(value, pos);
  else if (type === 3) buf.writeUInt32LE(value, pos);
}

/**
 * Facts of one packet (`packet` holds at least `packetSize` bytes). Padding is droppable when the packet has no
 * Packet Length field yet (one is added) and a Padding Length field (it then reads 0; restorePadding refills it).
 * Even 1 or 2 bytes of padding are dropped (the compact packet is then 1 or 0 bytes longer): announced padding is
 * what FFmpeg cannot take.
 */
export function packetFacts(packet: Buffer, packetSize: number): PacketFacts {
  const h = readPacketHead(packet, packetSize);
  const payloadEnd = h.packetLength - h.padding;
  const multiple = (h.ltf & 1) !== 0;
  const replType = h.pf & 3;
  const offType = (h.pf >> 2) & 3;
  const objType = (h.pf >> 4) & 3;
  const streamType = (h.pf >> 6) & 3;
  let pos = h.pos;
  let count = 1;
  let lenType = 0;
  if (multiple) {
    if (pos >= payloadEnd) fail('Payload Flags run past the payload area', pos);
    count = packet[pos]! & 0x3f;
    lenType = packet[pos]! >> 6;
    pos++;
  }
  let keyFrame = false;
  const fixed = (streamType <= 1 ? 1 : WIDTH[streamType]!) + WIDTH[objType]! + WIDTH[offType]!;
  for (let i = 0; i < count; i++) {
    if (pos + fixed + WIDTH[replType]! > payloadEnd) fail(`payload ${i} header runs past the payload area`, pos);
    if (packet[pos]! & 0x80) keyFrame = true;
    pos += fixed;
    const repl = varAt(packet, pos, replType);
    pos += WIDTH[replType]! + repl;
    if (!multiple) break;
    if (pos + WIDTH[lenType]! > payloadEnd) fail(`payload ${i} Payload Length runs past the payload area`, pos);
    const len = varAt(packet, pos, lenType);
    pos += WIDTH[lenType]! + len;
    if (pos > payloadEnd) fail(`payload ${i} runs past the payload area`, pos);
  }
  const paddingWidth = WIDTH[(h.ltf >> 3) & 3]!;
  const packetLengthType = (h.ltf >> 5) & 3;
  const droppable = h.padding > 0 && paddingWidth > 0 && packetLengthType === 0 && packetSize - h.padding + 2 <= 0xffff ? h.padding : 0;
  return { sendTime: h.sendTime, duration: h.duration, keyFrame, droppable };
}

/** where the Packet Length field goes: after the error correction data, the flags and the property flags */
function packetLengthAt(packet: Buffer): number {
  return packet[0]! & 0x80 ? 1 + (packet[0]! & 0x0f) + 2 : 2;
}

/**
 * The packet without its `facts.droppable` padding bytes: a 2-byte Packet Length field is added, the Padding
 * Length field kept at its width and set to 0. The same Buffer when nothing is dropped.
 */
export function compactPacket(packet: Buffer, packetSize: number, facts: PacketFacts = packetFacts(packet, packetSize)): Buffer {
  if (facts.droppable === 0) return packet;
  const at = packetLengthAt(packet);
  const length = packetSize - facts.droppable + 2;
  const out = Buffer.allocUnsafe(length);
  packet.copy(out, 0, 0, at);
  out[at - 2] = packet[at - 2]! | (2 << 5);
  out.writeUInt16LE(length, at);
  packet.copy(out, at + 2, at, packetSize - facts.droppable);
  const h = readPacketHead(packet, packetSize);
  writeVar(out, h.paddingAt + 2, (h.ltf >> 3) & 3, 0);
  return out;
}

/**
 * A packet received without its padding, back to `packetSize`: a compact packet (an explicit Packet Length equal to
 * what arrived) loses its Packet Length field and gets its padding back, byte for byte as it was; a packet whose
 * padding was cut with no Packet Length gets its Padding Length raised. A full-size packet comes back as it is.
 */
export function restorePadding(received: Buffer, packetSize: number): Buffer {
  if (received.length === packetSize) return received;
  // a compact packet is 2 bytes longer than its packet when only 1 or 2 bytes of padding were left out
  if (received.length > packetSize + 2) throw new MssError('malformed', `Data packet: ${received.length} bytes, larger than the packet size ${packetSize}`);
  if (received.length < 3) throw new MssError('truncated', `Data packet: ${received.length} bytes`);
  const at = packetLengthAt(received);
  const ltf = received[at - 2];
  if (ltf === undefined || at > received.length) throw new MssError('truncated', 'Data packet: cut inside its error correction data');
  const plt = (ltf >> 5) & 3;
  if (plt === 2 && at + 2 <= received.length && received.readUInt16LE(at) === received.length && ((ltf >> 3) & 3) !== 0) {
    const out = Buffer.alloc(packetSize);
    received.copy(out, 0, 0, at);
    out[at - 2] = ltf & ~0x60;
    received.copy(out, at, at + 2);
    const h = readPacketHead(out, packetSize);
    return setPadding(out, h.paddingAt, (h.ltf >> 3) & 3, h.padding + packetSize - (received.length - 2));
  }
  if (received.length > packetSize) throw new MssError('malformed', `Data packet: ${received.length} bytes, larger than the packet size ${packetSize}`);
  const out = Buffer.alloc(packetSize);
  received.copy(out, 0);
  const h = readPacketHead(out, packetSize);
  if (((h.ltf >> 5) & 3) !== 0) return out; // an explicit Packet Length says where the packet ends already
  return setPadding(out, h.paddingAt, (h.ltf >> 3) & 3, h.padding + packetSize - received.length);
}

function setPadding(out: Buffer, at: number, type: number, value: number): Buffer {
  const max = type === 1 ? 0xff : type === 2 ? 0xffff : type === 3 ? 0xffffffff : 0;
  if (value > max) throw new MssError('malformed', `Data packet: ${value} bytes of padding do not fit its ${WIDTH[type]}-byte Padding Length field`);
  writeVar(out, at, type, value);
  return out;
}
