/**
 * Cheap per-packet facts for transports that describe each ASF data packet (the RTP payload format for ASF):
 * send time, duration, whether a payload is a key frame, and the trailing padding that may be left out on the
 * wire. One pass over the payload headers, no allocation. And the inverse a receiver applies: padding a packet
 * that arrived without its padding back to the fixed packet size, with its Padding Length field restored.
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
  /** bytes worth sending: the packet size less trailing padding that can be dropped */
  length: number;
  /** offset of the Padding Length field to zero when sending `length` bytes; -1 when nothing is dropped */
  paddingAt: number;
  /** width in bytes of that field */
  paddingWidth: number;
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

/**
 * Facts of one packet (`packet` holds at least `packetSize` bytes). Padding is droppable only when the packet has
 * no explicit Packet Length field (the receiver then learns the length from the transport) and a Padding Length
 * field that can be set to 0, as MS-RTSP 2.2.1.4 asks.
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
  const droppable = h.padding > 0 && paddingWidth > 0 && packetLengthType === 0 && h.packetLength === packetSize;
  return {
    sendTime: h.sendTime,
    duration: h.duration,
    keyFrame,
    length: droppable ? packetSize - h.padding : packetSize,
    paddingAt: droppable ? h.paddingAt : -1,
    paddingWidth: droppable ? paddingWidth : 0,
  };
}

/**
 * A packet received without (some of) its padding, padded back to `packetSize` with zero bytes and its Padding
 * Length field raised by what was added. A packet of the full size comes back as it is.
 */
export function restorePadding(received: Buffer, packetSize: number): Buffer {
  if (received.length === packetSize) return received;
  if (received.length > packetSize) throw new MssError('malformed', `Data packet: ${received.length} bytes, larger than the packet size ${packetSize}`);
  const out = Buffer.alloc(packetSize);
  received.copy(out, 0);
  const h = readPacketHead(out, packetSize);
  const added = packetSize - received.length;
  if (((h.ltf >> 5) & 3) !== 0) return out; // an explicit Packet Length says where the packet ends already
  const width = WIDTH[(h.ltf >> 3) & 3]!;
  const value = h.padding + added;
  if (width === 0 || value > (width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff)) {
    throw new MssError('malformed', `Data packet: ${added} bytes of padding are missing and its Padding Length field (${width} bytes) cannot say so`);
  }
  if (width === 1) out[h.paddingAt] = value;
  else if (width === 2) out.writeUInt16LE(value, h.paddingAt);
  else out.writeUInt32LE(value, h.paddingAt);
  return out;
}
