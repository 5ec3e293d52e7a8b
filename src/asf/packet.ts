/**
 * ASF data packets: parse into payloads, serialize back (byte-identical for parsed packets), and the
 * cheap operations the server needs per packet (send time, re-stamping, stream filtering, key frames).
 * Packets are fixed-size; `packetSize` comes from the header's File Properties.
 */
import { MssError } from '../core/errors.js';
import { MAX_PACKET_SIZE } from './header.js';

export interface AsfPayload {
  streamNumber: number;
  keyFrame: boolean;
  objectNumber: number;
  /** byte offset of this fragment in its media object (0 for compressed payloads) */
  offsetIntoObject: number;
  objectSize: number;
  /** ms, includes preroll */
  presentationTime: number;
  replicatedData: Buffer;
  data: Buffer;
  /** present for compressed payloads (Replicated Data Length 1): data holds [len][sub-payload]... */
  compressed?: { presentationTimeDelta: number; subPayloads: Buffer[] };
}

export interface AsfDataPacket {
  /** the whole Error Correction block (flags byte + data), or null when absent */
  errorCorrection: Buffer | null;
  sendTime: number; // ms
  duration: number; // ms
  multiplePayloads: boolean;
  payloads: AsfPayload[];
  /** Padding Length field value (explicit padding only) */
  paddingLength: number;
  /** effective packet length: explicit Packet Length when present, else the packet size */
  packetLength: number;
  sequence: number;
  /** Length Type Flags byte as read (field widths for packet length, sequence, padding) */
  lengthTypeFlags: number;
  /** Property Flags byte as read (field widths for replicated data, offset, object number, stream) */
  propertyFlags: number;
  /** Payload Flags bits 6-7 (multiple payloads only): width of each Payload Length */
  payloadLengthType: number;
}

function fail(code: 'malformed' | 'truncated' | 'too-large' | 'invalid-argument' | 'unsupported', message: string, offset: number): never {
  throw new MssError(code, `Data packet: ${message} (at byte ${offset})`, { object: 'DataPacket', offset });
}

function checkPacketSize(packetSize: number): void {
  if (!Number.isInteger(packetSize) || packetSize < 1 || packetSize > MAX_PACKET_SIZE) {
    fail(packetSize > MAX_PACKET_SIZE ? 'too-large' : 'invalid-argument', `packet size ${packetSize} outside 1..${MAX_PACKET_SIZE}`, 0);
  }
}

const WIDTH = [0, 1, 2, 4] as const;

function readVar(buf: Buffer, pos: number, type: number, end: number, field: string): number {
  switch (type) {
    case 0:
      return 0;
    case 1:
      if (pos + 1 > end) fail('truncated', `${field} runs past the packet end`, pos);
      return buf[pos]!;
    case 2:
      if (pos + 2 > end) fail('truncated', `${field} runs past the packet end`, pos);
      return buf.readUInt16LE(pos);
    default:
      if (pos + 4 > end) fail('truncated', `${field} runs past the packet end`, pos);
      return buf.readUInt32LE(pos);
  }
}

function writeVar(buf: Buffer, pos: number, type: number, value: number): number {
  switch (type) {
    case 0:
      return pos;
    case 1:
      buf[pos] = value & 0xff;
      return pos + 1;
    case 2:
      buf.writeUInt16LE(value & 0xffff, pos);
      return pos + 2;
    default:
      buf.writeUInt32LE(value >>> 0, pos);
      return pos + 4;
  }
}

/** Smallest 2-bit length type holding `v` (at least `min`). */
function typeFor(v: number, min: number): number {
  const need = v === 0 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : 3;
  return Math.max(need, min);
}

interface ParseInfo {
  packet: AsfDataPacket;
  sendTimeAt: number;
  /** for each payload: offset and width of the field holding its presentation time */
  presTimeAt: { offset: number; width: number }[];
}

/** The payload parsing information of a data packet (what precedes its payloads). */
export interface PacketHead {
  ecc: Buffer | null;
  ltf: number;
  pf: number;
  packetLength: number;
  sequence: number;
  padding: number;
  /** offset of the Padding Length field (its width is given by the length type flags) */
  paddingAt: number;
  sendTimeAt: number;
  sendTime: number;
  duration: number;
  pos: number; // first byte after Duration
}

type Head = PacketHead;

/** The payload parsing information of a packet without parsing its payloads (`buf` holds >= packetSize bytes). */
export function readPacketHead(buf: Buffer, packetSize: number): PacketHead {
  return parseHead(buf, packetSize);
}

function parseHead(buf: Buffer, packetSize: number): Head {
  checkPacketSize(packetSize);
  if (buf.length < packetSize) fail('truncated', `packet has ${buf.length} bytes, packet size is ${packetSize}`, buf.length);
  const end = packetSize;
  let pos = 0;
  let ecc: Buffer | null = null;
  const b0 = buf[0]!;
  if (b0 & 0x80) {
    if ((b0 >> 5) & 3) fail('malformed', `error correction length type ${(b0 >> 5) & 3} (must be 0)`, 0);
    if (b0 & 0x10) fail('unsupported', 'opaque error correction data', 0);
    const len = b0 & 0x0f;
    if (1 + len > end) fail('truncated', `error correction data of ${len} bytes runs past the packet end`, 0);
    ecc = buf.subarray(0, 1 + len);
    pos = 1 + len;
  }
  if (pos + 2 > end) fail('truncated', 'payload parsing information runs past the packet end', pos);
  const ltf = buf[pos]!;
  const pf = buf[pos + 1]!;
  pos += 2;
  const plt = (ltf >> 5) & 3;
  const packetLengthAt = pos;
  const packetLength = plt ? readVar(buf, pos, plt, end, 'Packet Length') : packetSize;
  pos += WIDTH[plt]!;
  const sequence = readVar(buf, pos, (ltf >> 1) & 3, end, 'Sequence');
  pos += WIDTH[(ltf >> 1) & 3]!;
  const paddingAt = pos;
  const padding = readVar(buf, pos, (ltf >> 3) & 3, end, 'Padding Length');
  pos += WIDTH[(ltf >> 3) & 3]!;
  if (pos + 6 > end) fail('truncated', 'Send Time/Duration run past the packet end', pos);
  const sendTimeAt = pos;
  const sendTime = buf.readUInt32LE(pos);
  const duration = buf.readUInt16LE(pos + 4);
  pos += 6;
  if (packetLength > packetSize) fail('malformed', `Packet Length ${packetLength} exceeds packet size ${packetSize}`, packetLengthAt);
  if (packetLength < pos) fail('malformed', `Packet Length ${packetLength} is shorter than the packet's own header`, packetLengthAt);
  if (padding > packetLength - pos) fail('malformed', `Padding Length ${padding} exceeds the ${packetLength - pos} bytes after the header`, paddingAt);
  return { ecc, ltf, pf, packetLength, sequence, padding, paddingAt, sendTimeAt, sendTime, duration, pos };
}

function parseInternal(buf: Buffer, packetSize: number): ParseInfo {
  const h = parseHead(buf, packetSize);
  const { ltf, pf } = h;
  const payloadEnd = h.packetLength - h.padding;
  const replType = pf & 3;
  const offType = (pf >> 2) & 3;
  const objType = (pf >> 4) & 3;
  const streamType = (pf >> 6) & 3;
  const multiple = (ltf & 1) !== 0;
  let pos = h.pos;
  let count = 1;
  let lenType = 0;
  if (multiple) {
    if (pos + 1 > payloadEnd) fail('truncated', 'Payload Flags run past the payload area', pos);
    const flags = buf[pos]!;
    count = flags & 0x3f;
    lenType = flags >> 6;
    if (count === 0) fail('malformed', 'multiple-payload packet with 0 payloads', pos);
    if (lenType === 0) fail('malformed', 'multiple-payload packet without payload lengths (Payload Length Type 0)', pos);
    pos++;
  }
  const payloads: AsfPayload[] = [];
  const presTimeAt: { offset: number; width: number }[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 1 > payloadEnd) fail('truncated', `payload ${i} runs past the payload area`, pos);
    // Stream Number is defined as one byte; a different length type is tolerated and read as its width
    const streamByte = streamType <= 1 ? buf[pos]! : readVar(buf, pos, streamType, payloadEnd, `payload ${i} Stream Number`);
    pos += streamType <= 1 ? 1 : WIDTH[streamType]!;
    const objectNumber = readVar(buf, pos, objType, payloadEnd, `payload ${i} Media Object Number`);
    pos += WIDTH[objType]!;
    const offAt = pos;
    const offset = readVar(buf, pos, offType, payloadEnd, `payload ${i} Offset Into Media Object`);
    pos += WIDTH[offType]!;
    const replLenAt = pos;
    const replLen = readVar(buf, pos, replType, payloadEnd, `payload ${i} Replicated Data Length`);
    pos += WIDTH[replType]!;
    if (replLen > 1 && replLen < 8) fail('malformed', `payload ${i} Replicated Data Length ${replLen} (must be 0, 1 or >= 8)`, replLenAt);
    if (pos + replLen > payloadEnd) fail('truncated', `payload ${i} replicated data (${replLen} bytes) runs past the payload area`, pos);
    const replAt = pos;
    const replicatedData = buf.subarray(pos, pos + replLen);
    pos += replLen;
    let dataLen: number;
    if (multiple) {
      dataLen = readVar(buf, pos, lenType, payloadEnd, `payload ${i} Payload Length`);
      pos += WIDTH[lenType]!;
      if (pos + dataLen > payloadEnd) fail('truncated', `payload ${i} Payload Length ${dataLen} runs past the payload area`, pos - WIDTH[lenType]!);
    } else {
      dataLen = payloadEnd - pos;
    }
    const dataStart = pos;
    const data = buf.subarray(pos, pos + dataLen);
    pos += dataLen;
    const p: AsfPayload = {
      streamNumber: streamByte & 0x7f,
      keyFrame: (streamByte & 0x80) !== 0,
      objectNumber,
      offsetIntoObject: offset,
      objectSize: 0,
      presentationTime: 0,
      replicatedData,
      data,
    };
    if (replLen === 1) {
      const subPayloads: Buffer[] = [];
      let q = 0;
      while (q < data.length) {
        const n = data[q]!;
        if (q + 1 + n > data.length) fail('truncated', `payload ${i} compressed sub-payload of ${n} bytes runs past the payload`, dataStart + q);
        subPayloads.push(data.subarray(q + 1, q + 1 + n));
        q += 1 + n;
      }
      p.offsetIntoObject = 0;
      p.objectSize = data.length;
      p.presentationTime = offset;
      p.compressed = { presentationTimeDelta: replicatedData[0]!, subPayloads };
      presTimeAt.push({ offset: offAt, width: WIDTH[offType]! });
    } else if (replLen >= 8) {
      p.objectSize = replicatedData.readUInt32LE(0);
      p.presentationTime = replicatedData.readUInt32LE(4);
      presTimeAt.push({ offset: replAt + 4, width: 4 });
    } else {
      p.objectSize = dataLen;
      presTimeAt.push({ offset: -1, width: 0 });
    }
    payloads.push(p);
  }
  if (multiple && pos < payloadEnd) {
    // bytes between the last payload and the declared padding: implicit padding, must be zero to re-serialize
    for (let q = pos; q < payloadEnd; q++) {
      if (buf[q] !== 0) fail('malformed', `${payloadEnd - pos} bytes after the last payload are not padding`, pos);
    }
  }
  return {
    packet: {
      errorCorrection: h.ecc,
      sendTime: h.sendTime,
      duration: h.duration,
      multiplePayloads: multiple,
      payloads,
      paddingLength: h.padding,
      packetLength: h.packetLength,
      sequence: h.sequence,
      lengthTypeFlags: ltf,
      propertyFlags: pf,
      payloadLengthType: lenType,
    },
    sendTimeAt: h.sendTimeAt,
    presTimeAt,
  };
}

/**
 * Parses one data packet (`buf` holds at least `packetSize` bytes; only those are read).
 * Payload buffers are views into `buf`.
 */
export function parseDataPacket(buf: Buffer, packetSize: number): AsfDataPacket {
  return parseInternal(buf, packetSize).packet;
}

/**
 * Serializes a packet to exactly `packetSize` bytes. Field widths come from the packet's flags
 * (so a parsed packet comes back byte-identical) and grow when a value no longer fits.
 * The Padding Length is recomputed from what the payloads leave free.
 */
export function serializeDataPacket(p: AsfDataPacket, packetSize: number): Buffer {
  checkPacketSize(packetSize);
  const multiple = p.multiplePayloads || p.payloads.length !== 1;
  if (p.payloads.length === 0) fail('invalid-argument', 'a packet needs at least one payload', 0);
  if (p.payloads.length > 63) fail('invalid-argument', `${p.payloads.length} payloads (at most 63)`, 0);
  const effLen = p.packetLength > 0 && p.packetLength <= packetSize ? p.packetLength : packetSize;

  // property flag widths: keep, grow to fit
  let replType = p.propertyFlags & 3;
  let offType = (p.propertyFlags >> 2) & 3;
  const objType = (p.propertyFlags >> 4) & 3; // object numbers wrap modulo the field width
  const streamType = Math.max(1, (p.propertyFlags >> 6) & 3);
  let lenType = multiple ? Math.max(1, p.payloadLengthType) : 0;
  let payloadBytes = multiple ? 1 : 0;
  for (const pl of p.payloads) {
    const repl = replicatedFor(pl);
    replType = typeFor(repl.length, replType);
    offType = typeFor(pl.compressed ? pl.presentationTime : pl.offsetIntoObject, offType);
    if (multiple) lenType = typeFor(pl.data.length, lenType);
  }
  for (const pl of p.payloads) {
    payloadBytes += WIDTH[streamType]! + WIDTH[objType]! + WIDTH[offType]! + WIDTH[replType]! + replicatedFor(pl).length + pl.data.length;
    if (multiple) payloadBytes += WIDTH[lenType]!;
  }
  const pf = (streamType << 6) | (objType << 4) | (offType << 2) | replType;

  const eccLen = p.errorCorrection ? p.errorCorrection.length : 0;
  const origLtf = p.lengthTypeFlags;
  const pltType = (origLtf >> 5) & 3;
  let seqType = (origLtf >> 1) & 3;
  seqType = typeFor(p.sequence, seqType);
  let padType = (origLtf >> 3) & 3;
  const fixed = () => eccLen + 2 + WIDTH[pltType]! + WIDTH[seqType]! + WIDTH[padType]! + 6;
  let padding = effLen - fixed() - payloadBytes;
  // grow the padding field until it holds the padding it leaves
  for (let guard = 0; guard < 4; guard++) {
    padding = effLen - fixed() - payloadBytes;
    if (padding < 0) break;
    const need = typeFor(padding, padType);
    if (need === padType) break;
    padType = need;
  }
  if (padding < 0) fail('too-large', `payloads need ${payloadBytes} bytes, only ${effLen - fixed()} fit in a ${effLen}-byte packet`, 0);
  if (!multiple && padding > 0 && padType === 0) padType = typeFor(padding, 1);

  const ltf = (origLtf & 0x80) | (pltType << 5) | (padType << 3) | (seqType << 1) | (multiple ? 1 : 0);
  const out = Buffer.alloc(packetSize);
  let pos = 0;
  if (p.errorCorrection) {
    p.errorCorrection.copy(out, 0);
    pos = eccLen;
  }
  out[pos++] = ltf;
  out[pos++] = pf;
  pos = writeVar(out, pos, pltType, effLen);
  pos = writeVar(out, pos, seqType, p.sequence);
  pos = writeVar(out, pos, padType, padding);
  out.writeUInt32LE(p.sendTime >>> 0, pos);
  out.writeUInt16LE(p.duration & 0xffff, pos + 4);
  pos += 6;
  if (multiple) out[pos++] = (lenType << 6) | p.payloads.length;
  for (const pl of p.payloads) {
    const repl = replicatedFor(pl);
    pos = writeVar(out, pos, streamType, (pl.streamNumber & 0x7f) | (pl.keyFrame ? 0x80 : 0));
    pos = writeVar(out, pos, objType, pl.objectNumber);
    pos = writeVar(out, pos, offType, pl.compressed ? pl.presentationTime : pl.offsetIntoObject);
    pos = writeVar(out, pos, replType, repl.length);
    repl.copy(out, pos);
    pos += repl.length;
    if (multiple) pos = writeVar(out, pos, lenType, pl.data.length);
    pl.data.copy(out, pos);
    pos += pl.data.length;
  }
  return out;
}

/** Replicated data with the object size and presentation time fields taken from the payload. */
function replicatedFor(pl: AsfPayload): Buffer {
  if (pl.compressed) return Buffer.from([pl.compressed.presentationTimeDelta & 0xff]);
  const r = pl.replicatedData;
  if (r.length < 8) return r;
  if (r.readUInt32LE(0) === pl.objectSize >>> 0 && r.readUInt32LE(4) === pl.presentationTime >>> 0) return r;
  const copy = Buffer.from(r);
  copy.writeUInt32LE(pl.objectSize >>> 0, 0);
  copy.writeUInt32LE(pl.presentationTime >>> 0, 4);
  return copy;
}

/** Send Time of a packet without parsing its payloads. Throws MssError on garbage. */
export function readSendTime(packet: Buffer): number {
  return parseHead(packet, Math.min(packet.length, MAX_PACKET_SIZE) || 1).sendTime;
}

/**
 * Copy of the packet with its send time and every payload's presentation time shifted by `deltaMs`
 * (to join looped files or playlist entries into one timeline). Times must stay within 0..2^32-1.
 */
export function restampPacket(packet: Buffer, packetSize: number, deltaMs: number): Buffer {
  if (!Number.isInteger(deltaMs)) fail('invalid-argument', `deltaMs ${deltaMs} is not an integer`, 0);
  const info = parseInternal(packet, packetSize);
  const shift = (t: number, what: string, at: number) => {
    const v = t + deltaMs;
    if (v < 0 || v > 0xffffffff) fail('invalid-argument', `${what} ${t} shifted by ${deltaMs} ms leaves the 32-bit range`, at);
    return v;
  };
  const out = Buffer.from(packet.subarray(0, packetSize));
  out.writeUInt32LE(shift(info.packet.sendTime, 'send time', info.sendTimeAt), info.sendTimeAt);
  let needsReserialize = false;
  info.packet.payloads.forEach((pl, i) => {
    const at = info.presTimeAt[i]!;
    if (at.offset < 0) return; // no presentation time carried
    const v = shift(pl.presentationTime, 'presentation time', at.offset);
    if (at.width === 4) out.writeUInt32LE(v, at.offset);
    else if (at.width === 2 && v <= 0xffff) out.writeUInt16LE(v, at.offset);
    else if (at.width === 1 && v <= 0xff) out[at.offset] = v;
    else needsReserialize = true;
  });
  if (!needsReserialize) return out;
  // a compressed payload's narrow time field no longer fits: rebuild with wider fields
  const p = info.packet;
  p.sendTime += deltaMs;
  for (const pl of p.payloads) if (info.presTimeAt[p.payloads.indexOf(pl)]!.offset >= 0) pl.presentationTime += deltaMs;
  return serializeDataPacket(p, packetSize);
}

/**
 * Only the payloads of `keep` streams, re-serialized to `packetSize`; null when none is left;
 * the same Buffer when every payload is kept.
 */
export function filterPacketStreams(packet: Buffer, packetSize: number, keep: ReadonlySet<number>): Buffer | null {
  const p = parseInternal(packet, packetSize).packet;
  const kept = p.payloads.filter((pl) => keep.has(pl.streamNumber));
  if (kept.length === p.payloads.length) return packet;
  if (kept.length === 0) return null;
  return serializeDataPacket({ ...p, payloads: kept, multiplePayloads: true }, packetSize);
}

/** Streams with a payload that starts a key-frame media object (key-frame bit and offset 0). */
export function packetKeyFrameStreams(packet: Buffer, packetSize: number): Set<number> {
  const out = new Set<number>();
  for (const pl of parseInternal(packet, packetSize).packet.payloads) {
    if (pl.keyFrame && pl.offsetIntoObject === 0) out.add(pl.streamNumber);
  }
  return out;
}

/** Streams that have at least one payload in the packet. */
export function packetStreams(packet: Buffer, packetSize: number): Set<number> {
  return new Set(parseInternal(packet, packetSize).packet.payloads.map((pl) => pl.streamNumber));
}

/**
 * Payload bytes per stream over a run of packets and the send-time span they cover: the measured
 * bitrate of streams whose header gives none (FFmpeg writes no Stream Bitrate Properties for video).
 */
export function measureStreamBitrates(packets: readonly Buffer[], packetSize: number): Map<number, number> {
  const bytes = new Map<number, number>();
  let first = Infinity;
  let last = -Infinity;
  for (const pkt of packets) {
    const p = parseInternal(pkt, packetSize).packet;
    first = Math.min(first, p.sendTime);
    last = Math.max(last, p.sendTime);
    for (const pl of p.payloads) bytes.set(pl.streamNumber, (bytes.get(pl.streamNumber) ?? 0) + pl.data.length);
  }
  const out = new Map<number, number>();
  const spanMs = last - first;
  if (!(spanMs > 0)) return out;
  for (const [stream, n] of bytes) out.set(stream, Math.round((n * 8 * 1000) / spanMs));
  return out;
}
