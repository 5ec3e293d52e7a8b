/**
 * RTSP/1.0 message codec (RFC 2326 §4, §6, §7, §10.12; pure, no I/O): requests and responses with their headers
 * and bodies, and the `$`-framed interleaved binary data that shares the control connection. The incremental
 * parser is bounded (request line + headers, header count, body size) and total: it returns whole items or
 * throws an MssError naming the problem; after an error the byte stream cannot be trusted and the parser stays
 * failed (the caller answers and closes).
 *
 * Header *values* (Transport, Range, Session, ...) are parsed in headers.ts.
 */
import { MssError } from '../../core/errors.js';

export const RTSP_VERSION = 'RTSP/1.0';

export interface RtspLimits {
  /** request or status line plus headers, in bytes */
  maxHeaderBytes: number;
  /** body (Content-Length) in bytes */
  maxBodyBytes: number;
  /** header lines per message */
  maxHeaders: number;
}

export const DEFAULT_RTSP_LIMITS: RtspLimits = { maxHeaderBytes: 16384, maxBodyBytes: 65536, maxHeaders: 64 };

const MAX_METHOD = 32;
const MAX_URI = 4096;

/** RFC 2326 §7.1.1 status codes and their reason phrases. */
const REASONS: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  250: 'Low on Storage Space',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Time-out',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  415: 'Unsupported Media Type',
  451: 'Parameter Not Understood',
  452: 'Conference Not Found',
  453: 'Not Enough Bandwidth',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  456: 'Header Field Not Valid for Resource',
  457: 'Invalid Range',
  458: 'Parameter Is Read-Only',
  459: 'Aggregate operation not allowed',
  460: 'Only aggregate operation allowed',
  461: 'Unsupported transport',
  462: 'Destination unreachable',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Time-out',
  505: 'RTSP Version not supported',
  551: 'Option not supported',
};

export function rtspReason(status: number): string {
  return REASONS[status] ?? (status < 300 ? 'OK' : status < 400 ? 'Redirect' : status < 500 ? 'Client Error' : 'Server Error');
}

/** Case-insensitive, order-keeping header list (a name may repeat). */
export class RtspHeaders {
  private readonly list: Array<[name: string, value: string]> = [];

  constructor(init?: Iterable<readonly [string, string]> | Record<string, string | number | undefined>) {
    if (!init) return;
    if (Symbol.iterator in Object(init)) {
      for (const [k, v] of init as Iterable<readonly [string, string]>) this.append(k, v);
    } else {
      for (const [k, v] of Object.entries(init as Record<string, string | number | undefined>)) if (v !== undefined) this.append(k, String(v));
    }
  }

  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const [k, v] of this.list) if (k.toLowerCase() === lower) return v;
    return undefined;
  }

  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    return this.list.filter(([k]) => k.toLowerCase() === lower).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  append(name: string, value: string): this {
    this.list.push([name, value]);
    return this;
  }

  /** replaces every value of the name with one */
  set(name: string, value: string): this {
    this.delete(name);
    return this.append(name, value);
  }

  delete(name: string): this {
    const lower = name.toLowerCase();
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0].toLowerCase() === lower) this.list.splice(i, 1);
    return this;
  }

  get size(): number {
    return this.list.length;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.list[Symbol.iterator]();
  }
}

export interface RtspRequest {
  kind: 'request';
  method: string;
  uri: string;
  version: string;
  headers: RtspHeaders;
  body: Buffer;
}

export interface RtspResponse {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
  headers: RtspHeaders;
  body: Buffer;
}

/** RFC 2326 §10.12: `$`, a channel byte, a 16-bit big-endian length, then that many bytes (an RTP/RTCP packet). */
export interface InterleavedFrame {
  kind: 'interleaved';
  channel: number;
  data: Buffer;
}

export type RtspItem = RtspRequest | RtspResponse | InterleavedFrame;

/** The status a server answers for a codec error (detail.status), 400 when the error does not say. */
export function statusOfParseError(err: MssError): number {
  const s = err.detail.status;
  return typeof s === 'number' ? s : err.code === 'too-large' ? 413 : 400;
}

function bad(message: string, status = 400, detail: Record<string, unknown> = {}): MssError {
  return new MssError(status === 413 || status === 414 ? 'too-large' : status === 505 ? 'unsupported' : 'malformed', `RTSP: ${message}`, { status, ...detail });
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CONTROL_CHARS = /[\x00-\x08\x0a-\x1f\x7f]/;

function printable(s: string, max = 60): string {
  return JSON.stringify(s.length > max ? s.slice(0, max) + '…' : s);
}

interface StartLine {
  kind: 'request' | 'response';
  method: string;
  uri: string;
  version: string;
  status: number;
  reason: string;
}

function parseStartLine(line: string): StartLine {
  if (line.startsWith('RTSP/')) {
    const m = /^(RTSP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(line);
    if (!m) throw bad(`status line ${printable(line)} is not "RTSP/1.0 <code> <reason>"`);
    if (m[1] !== RTSP_VERSION) throw bad(`status line names ${m[1]}, only ${RTSP_VERSION} is spoken`, 505);
    if (m[3] !== undefined && CONTROL_CHARS.test(m[3])) throw bad('status line reason has control characters');
    return { kind: 'response', method: '', uri: '', version: m[1], status: Number(m[2]), reason: m[3] ?? '' };
  }
  const parts = line.split(' ');
  if (parts.length !== 3) throw bad(`request line ${printable(line)} is not "<method> <uri> RTSP/1.0"`);
  const [method, uri, version] = parts as [string, string, string];
  if (method.length === 0 || method.length > MAX_METHOD || !TOKEN.test(method)) throw bad(`method ${printable(method)} is not a token of at most ${MAX_METHOD} characters`);
  if (uri.length === 0) throw bad('request line has an empty Request-URI');
  if (uri.length > MAX_URI) throw bad(`Request-URI of ${uri.length} characters is longer than ${MAX_URI}`, 414);
  if (CONTROL_CHARS.test(uri)) throw bad('Request-URI has control characters');
  if (!/^RTSP\/\d\.\d$/.test(version)) throw bad(`request line ends in ${printable(version)}, not RTSP/1.0`);
  if (version !== RTSP_VERSION) throw bad(`request names ${version}, only ${RTSP_VERSION} is spoken`, 505);
  return { kind: 'request', method, uri, version, status: 0, reason: '' };
}

/** Headers from the lines after the start line; folded continuation lines (leading SP/HT) join the one before. */
function parseHeaderLines(lines: string[], limits: RtspLimits): RtspHeaders {
  const headers = new RtspHeaders();
  let last: [string, string] | null = null;
  const out: Array<[string, string]> = [];
  for (const line of lines) {
    if (line[0] === ' ' || line[0] === '\t') {
      if (!last) throw bad('a continuation line comes before any header');
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad(`header line ${printable(line)} has no "name:"`);
    const name = line.slice(0, colon).trimEnd();
    if (!TOKEN.test(name)) throw bad(`header name ${printable(name)} is not a token`);
    const value = line.slice(colon + 1).trim();
    if (CONTROL_CHARS.test(value)) throw bad(`header ${name} has control characters`);
    last = [name, value];
    out.push(last);
    if (out.length > limits.maxHeaders) throw bad(`more than ${limits.maxHeaders} header lines`, 413);
  }
  for (const [k, v] of out) headers.append(k, v);
  return headers;
}

/** Content-Length of a message: one decimal value (repeats must agree), at most maxBodyBytes. */
function contentLength(headers: RtspHeaders, limits: RtspLimits): number {
  const values = headers.getAll('content-length');
  if (values.length === 0) return 0;
  const first = values[0]!;
  if (!/^\d{1,10}$/.test(first)) throw bad(`Content-Length ${printable(first)} is not a decimal number`);
  if (values.some((v) => v !== first)) throw bad(`Content-Length given ${values.length} times with different values`);
  const n = Number(first);
  if (n > limits.maxBodyBytes) throw bad(`body of ${n} bytes is larger than the ${limits.maxBodyBytes} allowed`, 413, { contentLength: n });
  return n;
}

/** Where the header section ends: index after the blank line, or -1. Accepts CRLF or bare LF line ends. */
function headerEnd(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (buf[i] !== 0x0a) continue;
    if (i + 1 < end && buf[i + 1] === 0x0a) return i + 2;
    if (i + 2 < end && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/**
 * Incremental parser for one RTSP connection (either end). `push` returns the items completed by the chunk, in
 * order. Between messages, stray CR/LF bytes are skipped (keep-alive habits of some clients). Bytes are kept in
 * one growing buffer and the header terminator is searched only in new bytes, so a peer that trickles one byte
 * at a time costs linear work, never quadratic.
 */
export class RtspStreamParser {
  private store: Buffer = Buffer.allocUnsafe(0);
  private start = 0;
  private end = 0;
  /** bytes of the current header section already searched for its end */
  private scanned = 0;
  private failed: MssError | null = null;
  /** a header section already parsed, waiting for its body */
  private pending: { start: StartLine; headers: RtspHeaders; bodyLength: number } | null = null;
  private readonly limits: RtspLimits;

  constructor(limits: Partial<RtspLimits> = {}) {
    this.limits = { ...DEFAULT_RTSP_LIMITS, ...limits };
  }

  /** bytes held for an incomplete item */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): RtspItem[] {
    if (this.failed) throw this.failed;
    this.append(chunk);
    const items: RtspItem[] = [];
    try {
      while (this.next(items));
    } catch (err) {
      this.failed = err instanceof MssError ? err : bad(String(err));
      this.store = Buffer.allocUnsafe(0);
      this.start = this.end = 0;
      throw this.failed;
    }
    if (this.start === this.end) this.start = this.end = 0;
    return items;
  }

  private append(chunk: Buffer): void {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.store.length) {
      const need = live + chunk.length;
      if (need <= this.store.length / 2) {
        this.store.copyWithin(0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(need, this.store.length * 2, 4096));
        this.store.copy(grown, 0, this.start, this.end);
        this.store = grown;
      }
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
  }

  /** parses one item; false when more bytes are needed */
  private next(items: RtspItem[]): boolean {
    const buf = this.store;
    if (this.pending) {
      const { start, headers, bodyLength } = this.pending;
      if (this.end - this.start < bodyLength) return false;
      // a copy: the body outlives the buffer it arrived in
      const body = Buffer.from(buf.subarray(this.start, this.start + bodyLength));
      this.start += bodyLength;
      this.pending = null;
      items.push(
        start.kind === 'request'
          ? { kind: 'request', method: start.method, uri: start.uri, version: start.version, headers, body }
          : { kind: 'response', version: start.version, status: start.status, reason: start.reason, headers, body },
      );
      return true;
    }
    if (this.scanned === 0) {
      while (this.start < this.end && (buf[this.start] === 0x0d || buf[this.start] === 0x0a)) this.start++;
    }
    const pos = this.start;
    if (pos >= this.end) return false;
    if (buf[pos] === 0x24) {
      if (this.end - pos < 4) return false;
      const length = buf.readUInt16BE(pos + 2);
      if (this.end - pos - 4 < length) return false;
      items.push({ kind: 'interleaved', channel: buf[pos + 1]!, data: Buffer.from(buf.subarray(pos + 4, pos + 4 + length)) });
      this.start = pos + 4 + length;
      return true;
    }
    const first = buf[pos]!;
    const isLetter = (first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a) || first === 0x5f;
    if (!isLetter) throw bad(`byte 0x${first.toString(16).padStart(2, '0')} where a request, a response or a $ frame must start`);
    const limit = Math.min(this.end, pos + this.limits.maxHeaderBytes);
    const end = headerEnd(buf, pos + Math.max(0, this.scanned - 2), limit);
    if (end < 0) {
      if (this.end - pos >= this.limits.maxHeaderBytes) throw bad(`start line and headers longer than ${this.limits.maxHeaderBytes} bytes`, 413);
      this.scanned = limit - pos;
      return false;
    }
    this.scanned = 0;
    const lines = buf.subarray(pos, end).toString('latin1').split(/\r?\n/);
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const start = parseStartLine(lines[0]!);
    const headers = parseHeaderLines(lines.slice(1), this.limits);
    const bodyLength = contentLength(headers, this.limits);
    this.start = end;
    this.pending = { start, headers, bodyLength };
    return true;
  }
}

/** Parses exactly one complete message (tests, tools); throws when the bytes hold less or more than one. */
export function parseRtspMessage(bytes: Buffer, limits: Partial<RtspLimits> = {}): RtspRequest | RtspResponse {
  const items = new RtspStreamParser(limits).push(bytes);
  const first = items[0];
  if (!first || first.kind === 'interleaved') throw bad('no complete RTSP message in the bytes');
  if (items.length > 1) throw bad(`${items.length} items where one message was expected`);
  return first;
}

export type HeaderInput = RtspHeaders | Iterable<readonly [string, string]> | Record<string, string | number | undefined>;

function headerText(headers: HeaderInput, body: Buffer | undefined): string {
  const list = headers instanceof RtspHeaders ? headers : new RtspHeaders(headers);
  let out = '';
  let hasLength = false;
  for (const [k, v] of list) {
    if (!TOKEN.test(k)) throw new MssError('invalid-argument', `RTSP: header name ${printable(k)} is not a token`);
    if (/[\r\n]/.test(v)) throw new MssError('invalid-argument', `RTSP: header ${k} value has a line break`);
    if (k.toLowerCase() === 'content-length') hasLength = true;
    out += `${k}: ${v}\r\n`;
  }
  if (body && body.length > 0 && !hasLength) out += `Content-Length: ${body.length}\r\n`;
  return out + '\r\n';
}

export function serializeRequest(method: string, uri: string, headers: HeaderInput, body?: Buffer): Buffer {
  if (!TOKEN.test(method)) throw new MssError('invalid-argument', `RTSP: method ${printable(method)} is not a token`);
  if (uri.length === 0 || /[\s]/.test(uri)) throw new MssError('invalid-argument', `RTSP: Request-URI ${printable(uri)} is empty or has spaces`);
  const head = Buffer.from(`${method} ${uri} ${RTSP_VERSION}\r\n${headerText(headers, body)}`, 'latin1');
  return body && body.length > 0 ? Buffer.concat([head, body]) : head;
}

export function serializeResponse(status: number, headers: HeaderInput, body?: Buffer, reason = rtspReason(status)): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new MssError('invalid-argument', `RTSP: status ${status} is not a 3-digit code`);
  const head = Buffer.from(`${RTSP_VERSION} ${status} ${reason.replace(/[\r\n]/g, ' ')}\r\n${headerText(headers, body)}`, 'latin1');
  return body && body.length > 0 ? Buffer.concat([head, body]) : head;
}

/** The 4-byte interleaved frame header for `length` bytes on `channel`. */
export function interleavedHeader(channel: number, length: number): Buffer {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) throw new MssError('invalid-argument', `RTSP: interleaved channel ${channel} outside 0..255`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) throw new MssError('too-large', `RTSP: interleaved frame of ${length} bytes, at most 65535 fit`);
  const out = Buffer.allocUnsafe(4);
  out[0] = 0x24;
  out[1] = channel;
  out.writeUInt16BE(length, 2);
  return out;
}

/** One interleaved frame (header and data in one Buffer). */
export function frameInterleaved(channel: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  interleavedHeader(channel, data.length).copy(out, 0);
  data.copy(out, 4);
  return out;
}
