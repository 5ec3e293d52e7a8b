/**
 * MS-MMSP codec, framing layer (pure, bounded, total): the 32-byte TcpMessageHeader around control messages
 * (2.2.3), the chunkLen/MID envelope of each message (2.2.4), an incremental reader for the TCP stream that mixes
 * control packets and Data packets (3.1.5.2), Data packets (2.2.2, preheader shared with WMSP), the UDP
 * RequestPacketListResend (2.2.5), the funnelName syntax (2.2.4.18) and the HRESULTs the server answers with.
 * The typed messages are in messages.ts, the CLIENT_LOG structure in client-log.ts.
 */
import { MssError } from '../../core/errors.js';
import { MMS_DATA_HEADER_BYTES, buildMmsDataPacket, parseMmsDataPacket, readMmsDataHeader, type MmsDataPacket } from '../shared/mms-data.js';

export { buildMmsDataPacket, parseMmsDataPacket, type MmsDataPacket } from '../shared/mms-data.js';

export const TCP_HEADER_BYTES = 32;
/** sessionId: bytes CE FA 0B B0 at offset 4 tell a control packet from a Data packet */
export const SESSION_ID = 0xb00bface;
/** seal "MMS " */
export const SEAL = 0x20534d4d;
/** chunkLen + MID */
export const MESSAGE_PREFIX_BYTES = 8;
/** largest control packet a receiver accepts unless told otherwise (real ones are well under 2 KiB) */
export const DEFAULT_MAX_CONTROL_PACKET = 64 * 1024;
/** messages one TcpMessageHeader may carry (senders put one; receivers must handle several) */
export const MAX_MESSAGES_PER_PACKET = 32;

/** MID high 16 bits */
export const TO_SERVER = 0x0003;
export const TO_CLIENT = 0x0004;

/** packet-pair negotiation values of the playIncarnation fields (2.2.4.6, 2.2.4.17, 2.2.4.19) */
export const PACKET_PAIR = {
  disabled: 0xf0f0f0ef,
  use: 0xf0f0f0f0,
  tcpHighEntropy: 0xf0f0f0f1,
  udpHighEntropy: 0xf0f0f901,
} as const;

/** fileAttributes of ReportOpenFile (2.2.4.7) */
export const FILE_ATTRIBUTES = {
  canStride: 0x00800000,
  canSeek: 0x01000000,
  broadcast: 0x02000000,
  live: 0x04000000,
  playlist: 0x40000000,
} as const;

/**
 * HRESULTs (MS-ERREF; NS_E_* from the Windows Media error table) the server puts in the hr field of a reply and the
 * client maps back to an MssError code.
 */
export const HRESULT = {
  ok: 0x00000000,
  /** ReportEndOfStream: the playlist entry ended and a ReportStreamChange follows */
  entryEnded: 0x00000001,
  accessDenied: 0x80070005,
  /** NS_E_PROTOCOL_MISMATCH: no transport both sides support */
  protocolMismatch: 0xc00d0012,
  /** NS_E_FILE_NOT_FOUND */
  fileNotFound: 0xc00d001a,
  /** NS_E_INTERNAL */
  internal: 0xc00d0024,
  /** NS_E_INVALID_REQUEST: the request is invalid in the current state */
  invalidRequest: 0xc00d002b,
  /** NS_E_BAD_CONTROL_DATA: the server received invalid data on the control connection */
  badControlData: 0xc00d0032,
  /** NS_E_NO_STREAM: no stream available (a broadcast that is not on air) */
  noStream: 0xc00d0033,
  /** NS_E_INVALID_STREAM: the selection names no stream of the content */
  invalidStream: 0xc00d003c,
  /** NS_E_INVALID_PORT */
  invalidPort: 0xc00d0043,
  /** NS_E_STRIDE_REFUSED: fast forward / rewind not available */
  strideRefused: 0xc00d0045,
  /** NS_E_MAX_BITRATE: the server's bandwidth limit */
  maxBitrate: 0xc00d0047,
  /** NS_E_MAX_CLIENTS: the player limit ("server busy") */
  maxClients: 0xc00d0049,
} as const;

/** the MssError code a client reports for a server's failure HRESULT */
export function errorCodeForHresult(hr: number): 'not-found' | 'forbidden' | 'limit-reached' | 'malformed' | 'unsupported' | 'unavailable' {
  switch (hr >>> 0) {
    case HRESULT.fileNotFound:
      return 'not-found';
    case HRESULT.accessDenied:
      return 'forbidden';
    case HRESULT.maxClients:
    case HRESULT.maxBitrate:
      return 'limit-reached';
    case HRESULT.badControlData:
    case HRESULT.invalidRequest:
    case HRESULT.invalidStream:
      return 'malformed';
    case HRESULT.protocolMismatch:
    case HRESULT.invalidPort:
    case HRESULT.strideRefused:
      return 'unsupported';
    default:
      return 'unavailable';
  }
}

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

// -- TcpMessageHeader --------------------------------------------------------------------------------------------

/** One message inside a TcpMessageHeader packet. */
export interface MmsMessage {
  /** full MID (direction in the high 16 bits) */
  mid: number;
  /** low 16 bits of the MID: what receivers dispatch on */
  command: number;
  /** the fields after MID, including the sender's padding to 8 bytes */
  body: Buffer;
}

export interface TcpMessagePacket {
  seq: number;
  messages: MmsMessage[];
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * One TcpMessageHeader packet holding one message: MID and its fields (padded with zeros to a multiple of 8).
 * chunkCount is written as (total - 16) / 8, as every real implementation does.
 */
export function encodeTcpMessage(mid: number, fields: Buffer, seq: number, timeSentMs = 0): Buffer {
  const messageBytes = MESSAGE_PREFIX_BYTES + pad8(fields.length);
  const total = TCP_HEADER_BYTES + messageBytes;
  if (total > DEFAULT_MAX_CONTROL_PACKET) {
    throw new MssError('too-large', `MMS message ${hex32(mid)}: ${fields.length} bytes of fields, a control packet holds at most ${DEFAULT_MAX_CONTROL_PACKET - TCP_HEADER_BYTES - MESSAGE_PREFIX_BYTES}`);
  }
  const out = Buffer.alloc(total);
  out[0] = 1; // rep; version, versionMinor, padding stay 0
  out.writeUInt32LE(SESSION_ID, 4);
  out.writeUInt32LE(total - 16, 8);
  out.writeUInt32LE(SEAL, 12);
  out.writeUInt32LE((total - 16) / 8, 16);
  out.writeUInt16LE(seq & 0xffff, 20);
  // timeSent: a u64 of milliseconds; receivers ignore it
  out.writeUInt32LE(timeSentMs % 0x100000000 >>> 0, 24);
  out.writeUInt32LE(Math.floor(timeSentMs / 0x100000000) >>> 0, 28);
  out.writeUInt32LE(messageBytes / 8, 32);
  out.writeUInt32LE(mid >>> 0, 36);
  fields.copy(out, 40);
  return out;
}

/**
 * Decodes exactly one TcpMessageHeader packet: checks rep/version, sessionId, seal and messageLength (chunkCount
 * is not checked: implementations disagree on it), then splits the messages by chunkLen. The bodies are views.
 */
export function decodeTcpMessage(packet: Buffer, at = 0): TcpMessagePacket {
  const where = at > 0 ? ` at stream offset ${at}` : '';
  if (packet.length < TCP_HEADER_BYTES + MESSAGE_PREFIX_BYTES) {
    throw new MssError('truncated', `MMS control packet${where}: ${packet.length} bytes, at least ${TCP_HEADER_BYTES + MESSAGE_PREFIX_BYTES} needed`);
  }
  if (packet[0] !== 1 || packet[1] !== 0 || packet[2] !== 0) {
    throw new MssError('malformed', `MMS control packet${where}: rep/version/versionMinor are ${packet[0]}/${packet[1]}/${packet[2]}, expected 1/0/0`);
  }
  const sessionId = packet.readUInt32LE(4);
  if (sessionId !== SESSION_ID) throw new MssError('malformed', `MMS control packet${where}: sessionId ${hex32(sessionId)} is not ${hex32(SESSION_ID)}`);
  const seal = packet.readUInt32LE(12);
  if (seal !== SEAL) throw new MssError('malformed', `MMS control packet${where}: seal ${hex32(seal)} is not "MMS " (${hex32(SEAL)})`);
  const messageLength = packet.readUInt32LE(8);
  if (messageLength + 16 !== packet.length) {
    throw new MssError('malformed', `MMS control packet${where}: messageLength ${messageLength} says ${messageLength + 16} bytes, the packet has ${packet.length}`);
  }
  if ((packet.length - TCP_HEADER_BYTES) % 8 !== 0) {
    throw new MssError('malformed', `MMS control packet${where}: ${packet.length - TCP_HEADER_BYTES} bytes of messages is not a multiple of 8`);
  }
  const seq = packet.readUInt16LE(20);
  const messages: MmsMessage[] = [];
  let pos = TCP_HEADER_BYTES;
  while (pos < packet.length) {
    if (messages.length >= MAX_MESSAGES_PER_PACKET) throw new MssError('too-large', `MMS control packet${where}: more than ${MAX_MESSAGES_PER_PACKET} messages`);
    const chunkLen = packet.readUInt32LE(pos);
    const bytes = chunkLen * 8;
    if (chunkLen === 0 || bytes > packet.length - pos) {
      throw new MssError('malformed', `MMS message ${messages.length + 1}${where}: chunkLen ${chunkLen} (${bytes} bytes) does not fit the ${packet.length - pos} bytes left`);
    }
    const mid = packet.readUInt32LE(pos + 4);
    messages.push({ mid, command: mid & 0xffff, body: packet.subarray(pos + MESSAGE_PREFIX_BYTES, pos + bytes) });
    pos += bytes;
  }
  return { seq, messages };
}

// -- the TCP stream ----------------------------------------------------------------------------------------------

export type MmsStreamItem = { kind: 'control'; packet: TcpMessagePacket } | { kind: 'data'; data: MmsDataPacket };

export interface MmsStreamReaderOptions {
  /** largest control packet accepted (default 64 KiB) */
  maxControlPacket?: number;
  /** a client accepts Data packets on the stream; a server refuses them (players send control packets only) */
  acceptData: boolean;
}

/**
 * Incremental reader of an MMS TCP stream. A packet whose bytes 4..7 are the sessionId is a TcpMessageHeader
 * (length u32@8 + 16), anything else a Data packet (length u16@6). Holds at most one incomplete packet (bounded by
 * maxControlPacket or 65,535); malformed input throws MssError naming the stream offset.
 */
export class MmsStreamReader {
  private pending: Buffer = Buffer.alloc(0);
  private offset = 0;
  private readonly maxControl: number;

  constructor(private readonly opts: MmsStreamReaderOptions) {
    this.maxControl = opts.maxControlPacket ?? DEFAULT_MAX_CONTROL_PACKET;
  }

  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): MmsStreamItem[] {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const items: MmsStreamItem[] = [];
    let pos = 0;
    while (data.length - pos >= 8) {
      const at = this.offset + pos;
      let size: number;
      const control = data.readUInt32LE(pos + 4) === SESSION_ID;
      if (control) {
        if (data.length - pos < 12) break;
        size = data.readUInt32LE(pos + 8) + 16;
        if (size < TCP_HEADER_BYTES + MESSAGE_PREFIX_BYTES || size > this.maxControl) {
          throw new MssError(size > this.maxControl ? 'too-large' : 'malformed', `MMS control packet at stream offset ${at}: ${size} bytes is outside ${TCP_HEADER_BYTES + MESSAGE_PREFIX_BYTES}..${this.maxControl}`, { offset: at });
        }
      } else {
        if (!this.opts.acceptData) {
          throw new MssError('malformed', `MMS stream offset ${at}: sessionId ${hex32(data.readUInt32LE(pos + 4))} is not ${hex32(SESSION_ID)}: not a TcpMessageHeader`, { offset: at });
        }
        size = readMmsDataHeader(data, pos).packetSize;
        if (size < MMS_DATA_HEADER_BYTES) throw new MssError('malformed', `MMS Data packet at stream offset ${at}: PacketSize ${size} is smaller than its preheader`, { offset: at });
      }
      if (data.length - pos < size) break;
      const packet = data.subarray(pos, pos + size);
      items.push(control ? { kind: 'control', packet: decodeTcpMessage(packet, at) } : { kind: 'data', data: parseMmsDataPacket(packet) });
      pos += size;
    }
    this.offset += pos;
    // copy the tail so a large chunk is not kept alive by a small remainder
    this.pending = pos === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(pos));
    return items;
  }
}

// -- UDP resend requests (2.2.5) ---------------------------------------------------------------------------------

export const RESEND_SIGNATURE = 0xbeeff00d;
export const MAX_RESEND_PACKETS = 32;

export interface ResendRequest {
  /** nCubs of the client's ReportFunnelInfo */
  clientId: number;
  /** low 16 bits of openFileId */
  sourceId: number;
  /** 32-bit sequence numbers (their low 8 bits are the Data packets' AFFlags) */
  sequences: number[];
}

export function encodeResendRequest(r: ResendRequest): Buffer {
  if (r.sequences.length < 1 || r.sequences.length > MAX_RESEND_PACKETS) {
    throw new MssError('invalid-argument', `RequestPacketListResend: ${r.sequences.length} packets, 1..${MAX_RESEND_PACKETS} allowed`);
  }
  const out = Buffer.alloc(12 + 4 * r.sequences.length);
  out.writeUInt32LE(RESEND_SIGNATURE, 0);
  out.writeUInt32LE(r.clientId >>> 0, 4);
  out.writeUInt16LE(r.sourceId & 0xffff, 8);
  out.writeUInt16LE(r.sequences.length, 10);
  r.sequences.forEach((s, i) => out.writeUInt32LE(s >>> 0, 12 + 4 * i));
  return out;
}

export function decodeResendRequest(buf: Buffer): ResendRequest {
  if (buf.length < 16) throw new MssError('truncated', `RequestPacketListResend: ${buf.length} bytes, at least 16 needed`);
  const sig = buf.readUInt32LE(0);
  if (sig !== RESEND_SIGNATURE) throw new MssError('malformed', `RequestPacketListResend: signature ${hex32(sig)} is not ${hex32(RESEND_SIGNATURE)}`);
  const n = buf.readUInt16LE(10);
  if (n < 1 || n > MAX_RESEND_PACKETS) throw new MssError('malformed', `RequestPacketListResend: wNumPackets ${n} is outside 1..${MAX_RESEND_PACKETS}`);
  if (buf.length !== 12 + 4 * n) throw new MssError('malformed', `RequestPacketListResend: ${buf.length} bytes, ${n} packets need exactly ${12 + 4 * n}`);
  const sequences: number[] = [];
  for (let i = 0; i < n; i++) sequences.push(buf.readUInt32LE(12 + 4 * i));
  return { clientId: buf.readUInt32LE(4), sourceId: buf.readUInt16LE(8), sequences };
}

// -- funnelName (2.2.4.18) ---------------------------------------------------------------------------------------

export interface FunnelName {
  /** the address the client says it receives on (servers ignore it: data goes to the TCP peer) */
  address: string;
  transport: 'TCP' | 'UDP';
  port: number;
}

const FUNNEL = /^\\\\([^\\\s]{1,64})\\(TCP|UDP)\\(\d{1,5})$/i;

/** `\\<ip>\TCP\<port>` or `\\<ip>\UDP\<port>`; trailing garbage after a NUL was already cut by the string reader. */
export function parseFunnelName(text: string): FunnelName {
  const m = FUNNEL.exec(text.trim());
  if (!m) throw new MssError('malformed', `funnelName ${JSON.stringify(text.slice(0, 80))} is not \\\\<address>\\TCP|UDP\\<port>`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new MssError('malformed', `funnelName ${JSON.stringify(text.slice(0, 80))}: port ${port} is outside 1..65535`);
  return { address: m[1]!, transport: m[2]!.toUpperCase() as 'TCP' | 'UDP', port };
}

export function formatFunnelName(f: FunnelName): string {
  return `\\\\${f.address}\\${f.transport}\\${f.port}`;
}

// -- Data packets on the wire ------------------------------------------------------------------------------------

/** AFFlags of header pieces (2.2.2, with the WMSP reading FFmpeg relies on: 04 on every piece but the last) */
export const AF_HEADER_MORE = 0x04;
export const AF_HEADER_LAST = 0x08;
export const AF_HEADER_WHOLE = 0x0c;
export const AF_PACKET_PAIR = 0x10;
/** playIncarnation of packet-pair Data packets and of headers after a playlist stream change over TCP */
export const INCARNATION_SPECIAL = 0xff;

/**
 * The Data packets of an ASF file header (Header Object + 50-byte Data Object head), in pieces of at most
 * `maxPiece` bytes (the file's packet size, 2.2.2/3.2.5.8.1). LocationId counts the pieces from 0.
 */
export function frameHeaderPackets(headerBytes: Buffer, incarnation: number, maxPiece: number): Buffer[] {
  if (headerBytes.length === 0) throw new MssError('malformed', 'MMS header Data packets: the ASF header is empty');
  const piece = Math.max(1, Math.min(maxPiece, 0xffff - MMS_DATA_HEADER_BYTES));
  const count = Math.ceil(headerBytes.length / piece);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const flags = count === 1 ? AF_HEADER_WHOLE : i === count - 1 ? AF_HEADER_LAST : AF_HEADER_MORE;
    out.push(buildMmsDataPacket(headerBytes.subarray(i * piece, (i + 1) * piece), i, incarnation, flags));
  }
  return out;
}
