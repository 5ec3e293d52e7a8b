/**
 * MS-WMSP codec (pure, no I/O): the $-framing of the HTTP streaming protocol, an incremental frame parser for
 * clients, the Pragma tokenizer and the request classifier (MS-WMSP §2.2.1.4, §2.2.2, §2.2.3).
 *
 * Every frame is a 4-byte framing header (0x24 or 0xA4 with the B bit, a packet-id letter, a little-endian u16
 * PacketLength counting the bytes after it); $H/$D/$M carry the 8-byte MMS data packet header shared with MMSP
 * (../shared/mms-data.ts; PacketSize == PacketLength); $C/$E/$P carry a u32 Reason.
 */
import { MssError } from '../../core/errors.js';
import { MAX_MMS_DATA_PACKET, MAX_MMS_DATA_PAYLOAD, MMS_DATA_HEADER_BYTES, readMmsDataHeader, writeMmsDataHeader } from '../shared/mms-data.js';

export type WmspFrameType = 'H' | 'D' | 'E' | 'C' | 'M' | 'P' | 'T';

const FRAME_MARK = 0x24; // '$'
const BURST_BIT = 0x80;
const TYPE_CODES: Record<WmspFrameType, number> = { H: 0x48, D: 0x44, E: 0x45, C: 0x43, M: 0x4d, P: 0x50, T: 0x54 };
const CODE_TYPES = new Map<number, WmspFrameType>(Object.entries(TYPE_CODES).map(([t, c]) => [c, t as WmspFrameType]));

/** Largest value of the 16-bit PacketLength/PacketSize fields. */
export const MAX_MMS_PACKET = MAX_MMS_DATA_PACKET;
/** Largest payload of one $H/$D/$M frame: 65,535 minus the 8-byte MMS data packet header. */
export const MAX_MMS_PAYLOAD = MAX_MMS_DATA_PAYLOAD;

/** AFFlags values of $H/$M fragments (§2.2.3.1.2). */
export const AF_FIRST = 0x04;
export const AF_MIDDLE = 0x00;
export const AF_LAST = 0x08;
export const AF_WHOLE = 0x0c;

/** $E reasons (§2.2.3.4). */
export const END_FINISHED = 0x00000000;
export const END_ENTRY_DONE = 0x00000001;
export const END_REWIND_AT_START = 0x000d2f09;

function mmsPacket(type: 'H' | 'D' | 'M', payload: Buffer, locationId: number, incarnation: number, afFlags: number): Buffer {
  if (payload.length > MAX_MMS_PAYLOAD) {
    throw new MssError('too-large', `$${type} payload is ${payload.length} bytes, at most ${MAX_MMS_PAYLOAD} fit one MMS data packet`);
  }
  const size = payload.length + MMS_DATA_HEADER_BYTES;
  const out = Buffer.allocUnsafe(4 + size);
  out[0] = FRAME_MARK;
  out[1] = TYPE_CODES[type];
  out.writeUInt16LE(size, 2);
  writeMmsDataHeader(out, 4, { locationId, incarnation, afFlags, packetSize: size });
  payload.copy(out, 4 + MMS_DATA_HEADER_BYTES);
  return out;
}

/**
 * $H frames for an ASF header (Header Object + 50-byte Data Object head). A header over 65,527 bytes is split
 * into fragments with AFFlags 04 (first), 00 (middle), 08 (last); a header that fits is one frame with 0C.
 * LocationId counts the fragments from 0.
 */
export function frameHeader(headerBytes: Buffer, incarnation = 0): Buffer[] {
  if (headerBytes.length === 0) throw new MssError('malformed', '$H: the ASF header is empty');
  if (headerBytes.length <= MAX_MMS_PAYLOAD) return [mmsPacket('H', headerBytes, 0, incarnation, AF_WHOLE)];
  const frames: Buffer[] = [];
  const count = Math.ceil(headerBytes.length / MAX_MMS_PAYLOAD);
  for (let i = 0; i < count; i++) {
    const part = headerBytes.subarray(i * MAX_MMS_PAYLOAD, (i + 1) * MAX_MMS_PAYLOAD);
    const flags = i === 0 ? AF_FIRST : i === count - 1 ? AF_LAST : AF_MIDDLE;
    frames.push(mmsPacket('H', part, i, incarnation, flags));
  }
  return frames;
}

/** One $D frame around one ASF data packet. LocationId = packet number (virtual for live); AFFlags = sequence. */
export function frameData(packet: Buffer, locationId: number, afFlags: number, incarnation = 0): Buffer {
  return mmsPacket('D', packet, locationId, incarnation, afFlags);
}

/**
 * The same $D frame as two buffers, its 12-byte head and the packet itself (not copied): what the media core writes,
 * joining a tick's or a batch's frames into one Buffer once instead of copying every packet into a frame first.
 */
export function frameDataParts(packet: Buffer, locationId: number, afFlags: number, incarnation = 0): [Buffer, Buffer] {
  if (packet.length > MAX_MMS_PAYLOAD) throw new MssError('too-large', `$D payload is ${packet.length} bytes, at most ${MAX_MMS_PAYLOAD} fit one MMS data packet`);
  const size = packet.length + MMS_DATA_HEADER_BYTES;
  const head = Buffer.allocUnsafe(4 + MMS_DATA_HEADER_BYTES);
  head[0] = FRAME_MARK;
  head[1] = TYPE_CODES.D;
  head.writeUInt16LE(size, 2);
  writeMmsDataHeader(head, 4, { locationId, incarnation, afFlags, packetSize: size });
  return [head, packet];
}

function reasonFrame(type: 'E' | 'C', reason: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out[0] = FRAME_MARK;
  out[1] = TYPE_CODES[type];
  out.writeUInt16LE(4, 2);
  out.writeUInt32LE(reason >>> 0, 4);
  return out;
}

/** $E end of stream: 0 = finished, 1 = playlist entry done ($C follows), other HRESULTs = error. */
export function frameEnd(reason = END_FINISHED): Buffer {
  return reasonFrame('E', reason);
}

/** $C stream change: a new ([$M]) $H follows (playlist entry change or new encoder header). */
export function frameStreamChange(reason = 0): Buffer {
  return reasonFrame('C', reason);
}

export interface MetadataFields {
  playlistGenId: number;
  /** 0 for non-live entries */
  broadcastId: number;
  features: string[];
  /** Content Description Lists (§2.2.4), each a CRLF-terminated line; optional */
  contentDescription?: string[];
}

/** $M metadata (§2.2.3.6): `playlist-gen-id=<n>, broadcast-id=<n>, features="<list>"` NUL [CDLs]. */
export function frameMetadata(fields: MetadataFields, incarnation = 0): Buffer {
  for (const f of fields.features) {
    if (!/^[a-z]+$/.test(f)) throw new MssError('malformed', `$M: feature ${JSON.stringify(f)} is not a feature token`);
  }
  const head = `playlist-gen-id=${fields.playlistGenId >>> 0}, broadcast-id=${fields.broadcastId >>> 0}, features="${fields.features.join(',')}"`;
  const cdl = (fields.contentDescription ?? []).map((l) => (l.endsWith('\r\n') ? l : l + '\r\n')).join('');
  const payload = Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from([0]), Buffer.from(cdl, 'utf8')]);
  return mmsPacket('M', payload, 0, incarnation, AF_WHOLE);
}

// $P packet-pair frames are shared with RTSP's TcpPacketPair (MS-RTSP 2.2.7.12): see shared/packet-pair.ts
export { PACKET_PAIR_LENGTHS, framePacketPair } from '../shared/packet-pair.js';

/** $T test data (body of the first Pipeline response): framing header only. */
export function frameTest(): Buffer {
  return Buffer.from([FRAME_MARK, TYPE_CODES.T, 0, 0]);
}

// ---------------------------------------------------------------------------------------------------------------
// Frame parser (client side)

export interface WmspFrame {
  type: WmspFrameType;
  /** B bit: sent without pacing delay (accelerated burst) */
  burst: boolean;
  /** $H/$D/$M only */
  locationId: number;
  incarnation: number;
  afFlags: number;
  /** $C/$E/$P only */
  reason: number;
  /** $H/$D/$M: the MMS data packet payload; $P: the filler after Reason; $T: whatever followed (normally empty) */
  payload: Buffer;
}

/**
 * Incremental, bounded parser for a stream of $-frames (what a WMSP client reads from a response body after
 * removing any chunked transfer coding). It holds at most one incomplete frame (≤ 65,539 bytes); malformed
 * framing throws MssError('malformed') naming the byte offset in the stream.
 */
export class WmspFrameParser {
  private pending: Buffer = Buffer.alloc(0);
  /** stream offset of pending[0] */
  private offset = 0;

  /** bytes held waiting for the rest of a frame */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): WmspFrame[] {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: WmspFrame[] = [];
    let pos = 0;
    while (data.length - pos >= 4) {
      const mark = data[pos];
      if ((mark & ~BURST_BIT) !== FRAME_MARK) {
        throw new MssError('malformed', `WMSP frame at stream offset ${this.offset + pos}: first byte 0x${mark.toString(16)} is not 0x24 or 0xA4`, { offset: this.offset + pos });
      }
      const type = CODE_TYPES.get(data[pos + 1]);
      if (!type) {
        throw new MssError('malformed', `WMSP frame at stream offset ${this.offset + pos}: unknown packet id 0x${data[pos + 1].toString(16)}`, { offset: this.offset + pos });
      }
      const length = data.readUInt16LE(pos + 2);
      if (data.length - pos < 4 + length) break;
      frames.push(this.decode(type, (mark & BURST_BIT) !== 0, data.subarray(pos + 4, pos + 4 + length), this.offset + pos));
      pos += 4 + length;
    }
    this.offset += pos;
    // copy the tail so a large chunk is not kept alive by a small remainder
    this.pending = pos === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(pos));
    return frames;
  }

  private decode(type: WmspFrameType, burst: boolean, body: Buffer, at: number): WmspFrame {
    const frame: WmspFrame = { type, burst, locationId: 0, incarnation: 0, afFlags: 0, reason: 0, payload: body };
    switch (type) {
      case 'H':
      case 'D':
      case 'M': {
        if (body.length < MMS_DATA_HEADER_BYTES) {
          throw new MssError('malformed', `$${type} at stream offset ${at}: PacketLength ${body.length} is shorter than the 8-byte MMS data packet header`, { offset: at });
        }
        const pre = readMmsDataHeader(body, 0);
        if (pre.packetSize !== body.length) {
          throw new MssError('malformed', `$${type} at stream offset ${at}: PacketSize ${pre.packetSize} differs from PacketLength ${body.length}`, { offset: at });
        }
        frame.locationId = pre.locationId;
        frame.incarnation = pre.incarnation;
        frame.afFlags = pre.afFlags;
        frame.payload = body.subarray(MMS_DATA_HEADER_BYTES);
        return frame;
      }
      case 'C':
      case 'E':
      case 'P':
        if (body.length < 4) {
          throw new MssError('malformed', `$${type} at stream offset ${at}: PacketLength ${body.length} leaves no room for the 4-byte Reason`, { offset: at });
        }
        frame.reason = body.readUInt32LE(0);
        frame.payload = body.subarray(4);
        return frame;
      case 'T':
        return frame;
    }
  }
}

/** Joins $H fragments (AFFlags 04 … 00 … 08, or one 0C) into the ASF header; throws on a broken sequence. */
export function assembleHeader(frames: readonly WmspFrame[]): Buffer {
  if (frames.length === 0) throw new MssError('malformed', '$H: no header frames');
  if (frames.length === 1) return frames[0].payload;
  for (let i = 0; i < frames.length; i++) {
    const want = i === 0 ? AF_FIRST : i === frames.length - 1 ? AF_LAST : AF_MIDDLE;
    if (frames[i].type !== 'H' || frames[i].afFlags !== want) {
      throw new MssError('malformed', `$H fragment ${i}: AFFlags 0x${frames[i].afFlags.toString(16)}, expected 0x${want.toString(16)}`);
    }
  }
  return Buffer.concat(frames.map((f) => f.payload));
}

// ---------------------------------------------------------------------------------------------------------------
// Pragma tokens

/** Bounds: tokens per request and length of one token value. */
export const MAX_PRAGMA_TOKENS = 256;
export const MAX_PRAGMA_VALUE = 8192;

/** Tokens of all Pragma lines of a request, keyed by lower-case name (later lines win). */
export type PragmaTokens = Map<string, string>;

const TOKEN_NAME = /^[A-Za-z0-9_.\-]+$/;
/** tokens that must stand alone on their line and whose value runs to the end of the line */
const WHOLE_LINE_TOKENS = ['stream-switch-entry', 'log-line'];

/**
 * Tokenizes Pragma header values (§2.2.1.4): comma-separated `name` or `name=value` tokens; values may be
 * double-quoted and contain commas. `stream-switch-entry=` and `log-line=` take the rest of their line.
 * Tolerates ffmpeg's glued line (`stream-time=0Connection: Close`): the value is kept as sent and numeric
 * readers take its leading digits. Throws MssError('malformed') for an unterminated quote or a bad token name,
 * 'too-large' beyond MAX_PRAGMA_TOKENS tokens or MAX_PRAGMA_VALUE bytes in one value.
 */
export function parsePragmas(headerValues: readonly string[]): PragmaTokens {
  const tokens: PragmaTokens = new Map();
  let count = 0;
  const add = (rawName: string, value: string) => {
    const name = rawName.trim();
    if (name === '') {
      if (value === '') return; // empty token between commas
      throw new MssError('malformed', `Pragma: a value ${JSON.stringify(value.slice(0, 40))} has no token name`);
    }
    if (!TOKEN_NAME.test(name)) throw new MssError('malformed', `Pragma: token name ${JSON.stringify(name.slice(0, 40))} has characters a token name cannot have`);
    if (value.length > MAX_PRAGMA_VALUE) throw new MssError('too-large', `Pragma: ${name} value is ${value.length} bytes, limit ${MAX_PRAGMA_VALUE}`);
    if (++count > MAX_PRAGMA_TOKENS) throw new MssError('too-large', `Pragma: more than ${MAX_PRAGMA_TOKENS} tokens`);
    tokens.set(name.toLowerCase(), value);
  };
  for (const line of headerValues) {
    const trimmed = line.trim();
    const lower = trimmed.toLowerCase();
    const whole = WHOLE_LINE_TOKENS.find((t) => lower.startsWith(t + '='));
    if (whole) {
      add(whole, trimmed.slice(whole.length + 1).trim());
      continue;
    }
    let i = 0;
    while (i < trimmed.length) {
      // one token: name up to '=' or ','
      let name = '';
      while (i < trimmed.length && trimmed[i] !== '=' && trimmed[i] !== ',') name += trimmed[i++];
      let value = '';
      if (trimmed[i] === '=') {
        i++;
        while (i < trimmed.length && trimmed[i] === ' ') i++;
        if (trimmed[i] === '"') {
          const close = trimmed.indexOf('"', i + 1);
          if (close < 0) throw new MssError('malformed', `Pragma: the quoted value of ${name.trim() || 'a token'} is not terminated`);
          value = trimmed.slice(i + 1, close);
          i = close + 1;
          // anything up to the next comma after a closing quote is ignored (tolerance)
          while (i < trimmed.length && trimmed[i] !== ',') i++;
        } else {
          const comma = trimmed.indexOf(',', i);
          const end = comma < 0 ? trimmed.length : comma;
          value = trimmed.slice(i, end).trim();
          i = end;
        }
      }
      add(name, value);
      if (trimmed[i] === ',') i++;
    }
  }
  return tokens;
}

const U32_MAX = 0xffffffff;

/**
 * An unsigned 32-bit token value: its leading decimal digits (so `0Connection: Close` reads as 0). Undefined
 * when the token is absent; MssError('malformed') when the value does not start with a digit or exceeds 2^32-1.
 */
export function pragmaUint(tokens: PragmaTokens, name: string): number | undefined {
  const raw = tokens.get(name.toLowerCase());
  if (raw === undefined) return undefined;
  const m = /^\s*(\d{1,10})/.exec(raw);
  if (!m) throw new MssError('malformed', `Pragma: ${name}=${JSON.stringify(raw.slice(0, 40))} is not a number`);
  const n = Number(m[1]);
  if (n > U32_MAX) throw new MssError('malformed', `Pragma: ${name}=${m[1]} is beyond 4294967295`);
  return n;
}

/** A decimal number token (rate, Speed): leading `[-+]digits[.digits]`. */
export function pragmaNumber(tokens: PragmaTokens, name: string): number | undefined {
  const raw = tokens.get(name.toLowerCase());
  if (raw === undefined) return undefined;
  const m = /^\s*([-+]?\d{1,10}(\.\d{1,12})?)/.exec(raw);
  if (!m) throw new MssError('malformed', `Pragma: ${name}=${JSON.stringify(raw.slice(0, 40))} is not a number`);
  return Number(m[1]);
}

/** `stream-offset=<hi>:<lo>` as a byte offset; undefined when absent or "not set" (4294967295:4294967295). */
export function parseStreamOffset(tokens: PragmaTokens): number | undefined {
  const raw = tokens.get('stream-offset');
  if (raw === undefined) return undefined;
  const m = /^\s*(\d{1,10}):(\d{1,10})/.exec(raw);
  if (!m) throw new MssError('malformed', `Pragma: stream-offset=${JSON.stringify(raw.slice(0, 40))} is not <hi>:<lo>`);
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  if (hi > U32_MAX || lo > U32_MAX) throw new MssError('malformed', `Pragma: stream-offset=${m[0]} has a part beyond 4294967295`);
  if (hi === U32_MAX && lo === U32_MAX) return undefined;
  const offset = hi * 2 ** 32 + lo;
  if (!Number.isSafeInteger(offset)) throw new MssError('malformed', `Pragma: stream-offset=${m[0]} is too large`);
  return offset;
}

export interface StreamSwitchEntry {
  /** stream replaced by this one; null for ffff (none) */
  source: number | null;
  /** stream number read as hexadecimal, as the spec says (VLC writes hex) */
  stream: number;
  /** the same digits read as decimal (ffmpeg writes decimal); NaN when they are not decimal */
  streamDecimal: number;
  /** 0 = all, 1 = key frames only, 2 = off */
  thinning: 0 | 1 | 2;
}

const MAX_SWITCH_ENTRIES = 128;

/** `stream-switch-entry` value: space-separated `src:dst:thin` entries (§2.2.1.4.27). */
export function parseStreamSwitchEntries(value: string): StreamSwitchEntry[] {
  const parts = value.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length > MAX_SWITCH_ENTRIES) throw new MssError('too-large', `Pragma: stream-switch-entry has ${parts.length} entries, limit ${MAX_SWITCH_ENTRIES}`);
  return parts.map((part, i) => {
    const m = /^([0-9A-Fa-f]{1,4}):([0-9A-Fa-f]{1,4}):([0-2])$/.exec(part);
    if (!m) throw new MssError('malformed', `Pragma: stream-switch-entry #${i + 1} ${JSON.stringify(part.slice(0, 40))} is not src:dst:thinning`);
    const src = parseInt(m[1], 16);
    return {
      source: src === 0xffff ? null : src,
      stream: parseInt(m[2], 16),
      streamDecimal: /^\d+$/.test(m[2]) ? parseInt(m[2], 10) : NaN,
      thinning: Number(m[3]) as 0 | 1 | 2,
    };
  });
}

/** `features="a,b"` as a list. */
export function parseFeatures(tokens: PragmaTokens): string[] {
  const raw = tokens.get('features');
  return raw ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];
}

/** Accel/Burst fast-start request: rate in bits/s and media duration in ms; undefined when not asked. */
export function parseAcceleration(tokens: PragmaTokens): { bandwidth: number; durationMs: number } | undefined {
  const bw = pragmaUint(tokens, 'AccelBW') ?? pragmaUint(tokens, 'BurstBW') ?? 0;
  const dur = pragmaUint(tokens, 'AccelDuration') ?? pragmaUint(tokens, 'BurstDuration') ?? 0;
  if (bw === 0 || dur === 0) return undefined;
  return { bandwidth: bw, durationMs: dur };
}

// ---------------------------------------------------------------------------------------------------------------
// Request classification (§2.2.2; order of the rules as in the digest's table)

export type WmspRequestKind =
  | 'Describe'
  | 'Play'
  | 'Pipeline'
  | 'PlayNextEntry'
  | 'SelectStream'
  | 'KeepAlive'
  | 'Log'
  | 'SendEvent'
  | 'Stop'
  | 'GetContentInfo';

export interface ClassifiedRequest {
  kind: WmspRequestKind;
  pragmas: PragmaTokens;
  /** a pipelined-mode request shape (OPTIONS KeepAlive, Pipeline, PlayNextEntry, GET SelectStream, Stop) */
  pipelined: boolean;
}

export type RequestHeaders = Record<string, string | string[] | undefined>;

function headerList(headers: RequestHeaders, name: string): string[] {
  const v = headers[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function flag(tokens: PragmaTokens, name: string): boolean {
  const v = tokens.get(name.toLowerCase());
  if (v === undefined) return false;
  return /^\s*1/.test(v);
}

/**
 * Tells the WMSP request type from the method, the request target, the Pragma tokens and the Content-Type /
 * Content-Length headers. Header names are lower-case (as Node gives them). Throws MssError('unsupported')
 * for a shape the protocol does not define, and parse errors of the Pragma values as they are.
 */
export function classifyRequest(method: string, headers: RequestHeaders, target = ''): ClassifiedRequest {
  const pragmas = parsePragmas(headerList(headers, 'pragma'));
  const contentType = (headerList(headers, 'content-type')[0] ?? '').toLowerCase().split(';')[0].trim();
  const lengthHeader = headerList(headers, 'content-length')[0];
  const hasBody = (lengthHeader !== undefined && Number(lengthHeader) > 0) || headerList(headers, 'transfer-encoding').length > 0;
  const has = (name: string) => pragmas.has(name.toLowerCase());
  const result = (kind: WmspRequestKind, pipelined = false): ClassifiedRequest => ({ kind, pragmas, pipelined });

  switch (method.toUpperCase()) {
    case 'OPTIONS':
      if (target === '*' || has('client-id')) return result('KeepAlive', true);
      break;
    case 'GET': {
      const play = flag(pragmas, 'xPlayStrm');
      const next = flag(pragmas, 'xPlayNextEntry');
      if (has('pipeline-request') && !play && !next) return result('Pipeline', true);
      if (next && !play && !has('pipeline-request')) return result('PlayNextEntry', true);
      if (play && !next && !has('pipeline-request')) return result('Play');
      if (has('stream-switch-entry') && !has('xKeepAliveInPause') && !has('xStopStrm')) return result('SelectStream', true);
      if (!play && !next && !has('pipeline-request') && !has('stream-switch-entry')) return result('Describe');
      break;
    }
    case 'POST': {
      if (contentType === 'application/x-wms-logstats' || has('log-line')) return result('Log');
      if (contentType === 'application/x-wms-sendevent') return result('SendEvent');
      if (contentType === 'application/x-wms-getcontentinfo') return result('GetContentInfo');
      if (!hasBody && contentType === '') {
        if (flag(pragmas, 'xStopStrm')) return result('Stop', true);
        if (has('xKeepAliveInPause')) return result('KeepAlive');
        if (has('stream-switch-entry')) return result('SelectStream');
      }
      break;
    }
  }
  throw new MssError('unsupported', `not a WMSP request: ${method} with Pragma tokens [${[...pragmas.keys()].join(', ')}]${contentType ? ` and Content-Type ${contentType}` : ''}`);
}
