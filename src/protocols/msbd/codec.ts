/**
 * MS-MSBD messages: every one starts with the 16-byte MSBMSGBASE (dwSignature "MSB ", wVersion 0x0106,
 * wMessageId, cbMessage counting the whole message, hr), little-endian except RES_CONNECT's sin_port and
 * sin_addr (network order). STREAMINFO carries four nested lengths (title, description, link, ASF header) that
 * must add up to the message; IND_PACKET carries one ASF packet behind the 8-byte MSB packet header.
 *
 * Pure and bounded: a message is at most 0xFFFF bytes; every parse returns a value or throws MssError naming the
 * message and the field. MsbdMessageReader cuts a TCP byte stream into messages, holding at most one message.
 */
import { MssError } from '../../core/errors.js';

export const MSBD_SIGNATURE = 0x2042534d;
export const MSBD_VERSION = 0x0106;
export const MSBD_BASE_BYTES = 16;
export const MSBD_MAX_MESSAGE = 0xffff;
/** title + description + link + header */
export const MSBD_MAX_BINARY_DATA = 65487;
export const MSBD_MAX_FIELD = 0xffcf;
const STREAMINFO_FIXED = 48;
const PACKET_FIXED = 24;
/** the largest ASF packet an IND_PACKET holds (wPacketSize <= 0xFFEF counts its own 8 bytes) */
export const MSBD_MAX_ASF_PACKET = 0xffef - 8;

export const MSBD_MESSAGE = {
  REQ_PING: 0x0001,
  RES_PING: 0x0002,
  REQ_STREAMINFO: 0x0003,
  RES_STREAMINFO: 0x0004,
  IND_STREAMINFO: 0x0005,
  REQ_CONNECT: 0x0007,
  RES_CONNECT: 0x0008,
  IND_EOS: 0x0009,
  IND_PACKET: 0x000a,
} as const;

export type MsbdMessageName = keyof typeof MSBD_MESSAGE;
const NAME_OF = new Map<number, MsbdMessageName>(Object.entries(MSBD_MESSAGE).map(([k, v]) => [v, k as MsbdMessageName]));

/** REQ_CONNECT dwFlags */
export const CONNECT_TCP = 0x0001;
export const CONNECT_MULTICAST = 0x0002;
/** RES_CONNECT dwFlags: the ASF header is also in an .nsc file */
export const NSC_PUBLISHED = 0x0002;
/** the channel Windows clients ask for: ASF content */
export const NETSHOW_CHANNEL = 'NetShow';

/** HRESULTs MSBD servers answer with */
export const HR = {
  OK: 0x00000000,
  /** refusal of multicast delivery (MS-MSBD 3.1.5.1 recommends this or E_INVALIDARG) */
  MULTICAST_REFUSED: 0xc00d001a,
  INVALID_ARGUMENT: 0x80070057,
  /** the hr of the empty STREAMINFO after IND_EOS */
  END_OF_STREAM: 0xc00d0033,
  ACCESS_DENIED: 0x80070005,
  NOT_FOUND: 0x80070002,
  FAIL: 0x80004005,
} as const;

export interface StreamInfo {
  streamId: number;
  /** largest ASF packet of the stream's IND_PACKETs */
  packetSize: number;
  totalPackets: number;
  bitRate: number;
  /** ms; 0xFFFFFFFF when unknown (live) */
  durationMs: number;
  title: Buffer;
  description: Buffer;
  link: Buffer;
  /** ASF Header Object + the first 50 bytes of the Data Object */
  header: Buffer;
}

export type MsbdMessage =
  | { type: 'REQ_PING' | 'RES_PING' | 'REQ_STREAMINFO' | 'IND_EOS'; hr: number }
  | { type: 'REQ_CONNECT'; hr: number; flags: number; channel: string }
  | { type: 'RES_CONNECT'; hr: number; flags: number; family: number; port: number; address: string }
  /** info null: the "empty" STREAMINFO that follows IND_EOS (its body is ignored, as the spec says) */
  | { type: 'IND_STREAMINFO' | 'RES_STREAMINFO'; hr: number; info: StreamInfo | null }
  | { type: 'IND_PACKET'; hr: number; packetId: number; streamId: number; payload: Buffer };

function fail(code: 'malformed' | 'truncated' | 'too-large', message: string, detail: Record<string, unknown> = {}): never {
  throw new MssError(code, `MSBD ${message}`, detail);
}

function base(id: number, cb: number, hr: number): Buffer {
  if (cb < MSBD_BASE_BYTES || cb > MSBD_MAX_MESSAGE) fail('too-large', `message of ${cb} bytes (0x10 to 0xFFFF)`);
  const b = Buffer.alloc(cb);
  b.writeUInt32LE(MSBD_SIGNATURE, 0);
  b.writeUInt16LE(MSBD_VERSION, 4);
  b.writeUInt16LE(id, 6);
  b.writeUInt32LE(cb, 8);
  b.writeUInt32LE(hr >>> 0, 12);
  return b;
}

const validStreamId = (id: number) => (id >= 0 && id <= 0x07ff) || (id >= 0x8000 && id <= 0x87ff);

// -- building ---------------------------------------------------------------------------------------------------

/** A header-only message: REQ_PING, RES_PING, REQ_STREAMINFO, IND_EOS. */
export function encodeSimple(type: 'REQ_PING' | 'RES_PING' | 'REQ_STREAMINFO' | 'IND_EOS', hr = HR.OK): Buffer {
  return base(MSBD_MESSAGE[type], MSBD_BASE_BYTES, hr);
}

export function encodeConnectRequest(channel = NETSHOW_CHANNEL, flags = CONNECT_TCP): Buffer {
  const name = Buffer.from(channel, 'utf16le');
  if (name.length > MSBD_MAX_MESSAGE - 20) fail('too-large', `REQ_CONNECT channel of ${name.length} bytes`);
  const b = base(MSBD_MESSAGE.REQ_CONNECT, 20 + name.length, HR.OK);
  b.writeUInt32LE(flags >>> 0, 16);
  name.copy(b, 20);
  return b;
}

/** RES_CONNECT; a multicast address/port (network order on the wire) only when the stream is multicast */
export function encodeConnectResponse(hr: number, opts: { flags?: number; multicast?: { address: string; port: number } } = {}): Buffer {
  const b = base(MSBD_MESSAGE.RES_CONNECT, 36, hr);
  b.writeUInt32LE((opts.flags ?? 0) >>> 0, 16);
  if (opts.multicast) {
    const parts = opts.multicast.address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) fail('malformed', `RES_CONNECT address ${JSON.stringify(opts.multicast.address)} is not IPv4`);
    b.writeUInt16LE(2, 20);
    b.writeUInt16BE(opts.multicast.port & 0xffff, 22);
    for (let i = 0; i < 4; i++) b[24 + i] = parts[i]!;
  }
  return b;
}

export function encodeStreamInfo(info: StreamInfo, type: 'IND_STREAMINFO' | 'RES_STREAMINFO' = 'IND_STREAMINFO', hr = HR.OK): Buffer {
  if (!validStreamId(info.streamId)) fail('malformed', `STREAMINFO wStreamId 0x${info.streamId.toString(16)} outside 0-0x7FF and 0x8000-0x87FF`);
  if (!Number.isInteger(info.packetSize) || info.packetSize < 0 || info.packetSize > 0xfff7) fail('malformed', `STREAMINFO cbPacketSize ${info.packetSize} outside 0-0xFFF7`);
  const parts = [info.title, info.description, info.link, info.header];
  for (const [i, p] of parts.entries()) if (p.length > MSBD_MAX_FIELD) fail('too-large', `STREAMINFO ${['title', 'description', 'link', 'header'][i]} of ${p.length} bytes (at most ${MSBD_MAX_FIELD})`);
  const data = parts.reduce((n, p) => n + p.length, 0);
  if (data > MSBD_MAX_BINARY_DATA) fail('too-large', `STREAMINFO binary data of ${data} bytes (at most ${MSBD_MAX_BINARY_DATA})`);
  const b = base(MSBD_MESSAGE[type], STREAMINFO_FIXED + data, hr);
  b.writeUInt16LE(info.streamId, 16);
  b.writeUInt16LE(info.packetSize, 18);
  b.writeUInt32LE(info.totalPackets >>> 0, 20);
  b.writeUInt32LE(info.bitRate >>> 0, 24);
  b.writeUInt32LE(info.durationMs >>> 0, 28);
  let at = 32;
  for (const p of parts) {
    b.writeUInt32LE(p.length, at);
    at += 4;
  }
  for (const p of parts) {
    p.copy(b, at);
    at += p.length;
  }
  return b;
}

/** The STREAMINFO that follows IND_EOS when no stream comes next: hr END_OF_STREAM, every field 0. */
export function encodeEmptyStreamInfo(): Buffer {
  return base(MSBD_MESSAGE.IND_STREAMINFO, STREAMINFO_FIXED, HR.END_OF_STREAM);
}

export function encodePacket(packetId: number, streamId: number, asf: Buffer): Buffer {
  if (!validStreamId(streamId)) fail('malformed', `IND_PACKET wStreamId 0x${streamId.toString(16)} outside 0-0x7FF and 0x8000-0x87FF`);
  if (asf.length > MSBD_MAX_ASF_PACKET) fail('too-large', `IND_PACKET of a ${asf.length}-byte ASF packet (at most ${MSBD_MAX_ASF_PACKET})`);
  const b = base(MSBD_MESSAGE.IND_PACKET, PACKET_FIXED + asf.length, HR.OK);
  b.writeUInt32LE(packetId >>> 0, 16);
  b.writeUInt16LE(streamId, 20);
  b.writeUInt16LE(8 + asf.length, 22);
  asf.copy(b, PACKET_FIXED);
  return b;
}

// -- parsing ----------------------------------------------------------------------------------------------------

/** Checks an MSBMSGBASE (at least 16 bytes) and returns its message length and name. */
export function readMessageBase(buf: Buffer): { type: MsbdMessageName; length: number; hr: number } {
  if (buf.length < MSBD_BASE_BYTES) fail('truncated', `message header of ${buf.length} bytes (16 needed)`);
  const sig = buf.readUInt32LE(0);
  if (sig !== MSBD_SIGNATURE) fail('malformed', `signature 0x${sig.toString(16).padStart(8, '0')} is not "MSB " (0x2042534d)`);
  const version = buf.readUInt16LE(4);
  if (version >> 8 !== MSBD_VERSION >> 8) fail('malformed', `version 0x${version.toString(16).padStart(4, '0')} (this speaks 0x0106)`);
  const id = buf.readUInt16LE(6);
  const type = NAME_OF.get(id);
  if (!type) fail('malformed', `unknown wMessageId 0x${id.toString(16)}`);
  const length = buf.readUInt32LE(8);
  if (length < MSBD_BASE_BYTES || length > MSBD_MAX_MESSAGE) fail('malformed', `${type} cbMessage ${length} outside 0x10-0xFFFF`);
  return { type, length, hr: buf.readUInt32LE(12) };
}

/** Parses exactly one message (`buf` is the whole message). Views into `buf` are returned for binary fields. */
export function parseMessage(buf: Buffer): MsbdMessage {
  const { type, length, hr } = readMessageBase(buf);
  if (length !== buf.length) fail(length > buf.length ? 'truncated' : 'malformed', `${type} cbMessage ${length} does not match the ${buf.length} bytes given`);
  switch (type) {
    case 'REQ_PING':
    case 'RES_PING':
    case 'REQ_STREAMINFO':
    case 'IND_EOS':
      if (length !== MSBD_BASE_BYTES) fail('malformed', `${type} of ${length} bytes carries a body (it has none)`);
      return { type, hr };
    case 'REQ_CONNECT': {
      if (length < 20) fail('truncated', `REQ_CONNECT of ${length} bytes has no dwFlags`);
      const name = buf.subarray(20);
      if (name.length % 2 !== 0) fail('malformed', `REQ_CONNECT szChannel of ${name.length} bytes is not UTF-16`);
      return { type, hr, flags: buf.readUInt32LE(16), channel: name.toString('utf16le').replace(/\u0000+$/, '') };
    }
    case 'RES_CONNECT':
      if (length !== 36) fail('malformed', `RES_CONNECT of ${length} bytes (it has 36)`);
      return { type, hr, flags: buf.readUInt32LE(16), family: buf.readUInt16LE(20), port: buf.readUInt16BE(22), address: [...buf.subarray(24, 28)].join('.') };
    case 'IND_STREAMINFO':
    case 'RES_STREAMINFO':
      return { type, hr, info: parseStreamInfoBody(buf, type, hr) };
    case 'IND_PACKET': {
      if (length < PACKET_FIXED) fail('truncated', `IND_PACKET of ${length} bytes has no packet header`);
      const packetId = buf.readUInt32LE(16);
      const streamId = buf.readUInt16LE(20);
      const size = buf.readUInt16LE(22);
      if (size < 8 || size > 0xffef) fail('malformed', `IND_PACKET wPacketSize ${size} outside 8-0xFFEF`, { packetId });
      if (size !== length - MSBD_BASE_BYTES) fail('malformed', `IND_PACKET wPacketSize ${size} does not match cbMessage ${length} - 16`, { packetId });
      if (!validStreamId(streamId)) fail('malformed', `IND_PACKET wStreamId 0x${streamId.toString(16)} outside 0-0x7FF and 0x8000-0x87FF`, { packetId });
      return { type, hr, packetId, streamId, payload: buf.subarray(PACKET_FIXED) };
    }
  }
}

function parseStreamInfoBody(buf: Buffer, type: string, hr: number): StreamInfo | null {
  // the empty STREAMINFO after IND_EOS: a failure hr (Windows leaves its fields unassigned: they are ignored)
  if (buf.length === MSBD_BASE_BYTES || (hr & 0x80000000) !== 0) return null;
  if (buf.length < STREAMINFO_FIXED) fail('truncated', `${type} of ${buf.length} bytes (its fixed part is 48)`);
  const streamId = buf.readUInt16LE(16);
  if (!validStreamId(streamId)) fail('malformed', `${type} wStreamId 0x${streamId.toString(16)} outside 0-0x7FF and 0x8000-0x87FF`);
  const packetSize = buf.readUInt16LE(18);
  if (packetSize > 0xfff7) fail('malformed', `${type} cbPacketSize ${packetSize} over 0xFFF7`);
  const names = ['cbTitle', 'cbDescription', 'cbLink', 'cbHeader'];
  const sizes = names.map((n, i) => {
    const v = buf.readUInt32LE(32 + 4 * i);
    if (v > MSBD_MAX_FIELD) fail('malformed', `${type} ${n} ${v} over 0xFFCF`);
    return v;
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > MSBD_MAX_BINARY_DATA) fail('malformed', `${type} binary data of ${total} bytes over ${MSBD_MAX_BINARY_DATA}`);
  if (total !== buf.length - STREAMINFO_FIXED) fail('malformed', `${type} lengths add up to ${total} bytes but ${buf.length - STREAMINFO_FIXED} follow`);
  let at = STREAMINFO_FIXED;
  const take = (n: number) => buf.subarray(at, (at += n));
  return {
    streamId,
    packetSize,
    totalPackets: buf.readUInt32LE(20),
    bitRate: buf.readUInt32LE(24),
    durationMs: buf.readUInt32LE(28),
    title: take(sizes[0]!),
    description: take(sizes[1]!),
    link: take(sizes[2]!),
    header: take(sizes[3]!),
  };
}

/**
 * Cuts a TCP byte stream into MSBD messages. Garbage is refused as soon as the 16-byte header shows it (bad
 * signature, version, id or length), so a hostile peer cannot make it hold more than one message (64 KB).
 */
export class MsbdMessageReader {
  private chunks: Buffer[] = [];
  private held = 0;
  private need = 0;

  /** bytes waiting for the rest of their message */
  get buffered(): number {
    return this.held;
  }

  /** Adds bytes; returns the messages they complete (in order). Throws MssError on garbage. */
  push(chunk: Buffer): MsbdMessage[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.held += chunk.length;
    const out: MsbdMessage[] = [];
    for (;;) {
      if (this.need === 0) {
        if (this.held < MSBD_BASE_BYTES) break;
        this.need = readMessageBase(this.peek(MSBD_BASE_BYTES)).length;
      }
      if (this.held < this.need) break;
      const msg = this.take(this.need);
      this.need = 0;
      out.push(parseMessage(msg));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let msg: Buffer;
    if (first.length >= n) {
      msg = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      msg = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.held -= n;
    return msg;
  }
}

/** UTF-16LE text with its NUL, as Windows writes STREAMINFO strings (the encoding is not specified) */
export function streamInfoText(text: string): Buffer {
  return text ? Buffer.from(`${text}\u0000`, 'utf16le') : Buffer.alloc(0);
}

export function streamInfoTextOf(b: Buffer): string {
  return (b.length % 2 === 0 ? b.toString('utf16le') : b.toString('latin1')).replace(/\u0000+$/, '');
}
