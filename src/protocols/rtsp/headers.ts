/**
 * Grammars of the RTSP header values the server and client use (RFC 2326 §12, MS-RTSP §2.2.6): CSeq, Session,
 * Transport, Range (npt, smpte, x-asf-byte, x-asf-packet), RTP-Info, Supported, Content-Type, Bandwidth,
 * X-Accelerate-Streaming, X-Burst-Streaming, X-Notice. Pure and total: each parser returns a value or throws an
 * MssError('malformed') naming the header and the problem, with the RTSP status to answer in detail.status.
 */
import { MssError } from '../../core/errors.js';

const U32_MAX = 0xffffffff;
const MAX_VALUE = 8192;
const MAX_LIST = 32;

function bad(header: string, message: string, status = 400): MssError {
  return new MssError('malformed', `RTSP ${header}: ${message}`, { status, header });
}

function show(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
}

function bounded(header: string, value: string): string {
  if (value.length > MAX_VALUE) throw bad(header, `value of ${value.length} characters is longer than ${MAX_VALUE}`);
  return value.trim();
}

/** a decimal integer in [min, max] */
function decimal(header: string, what: string, text: string, min = 0, max = U32_MAX, status = 400): number {
  if (!/^\d{1,20}$/.test(text)) throw bad(header, `${what} ${show(text)} is not a decimal number`, status);
  const n = Number(text);
  if (n < min || n > max || !Number.isSafeInteger(n)) throw bad(header, `${what} ${text} is outside ${min}..${max}`, status);
  return n;
}

/**
 * Splits on `sep` outside double quotes; a quoted part keeps its quotes. Bounded by the value length.
 */
export function splitOutsideQuotes(value: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

// -- CSeq, Session, Bandwidth ------------------------------------------------------------------------------------

export function parseCSeq(value: string): number {
  return decimal('CSeq', 'sequence number', bounded('CSeq', value));
}

export interface SessionHeader {
  id: string;
  /** seconds, when given */
  timeout?: number;
}

/** `id[;timeout=N]`; ids are 1*(ALPHA | DIGIT | $-_.+), up to 64 characters here (servers reject > 20 with 454) */
export function parseSession(value: string): SessionHeader {
  const parts = bounded('Session', value).split(';').map((p) => p.trim());
  const id = parts[0]!;
  if (!/^[A-Za-z0-9$\-_.+]{1,64}$/.test(id)) throw bad('Session', `id ${show(id)} is not 1 to 64 of A-Z a-z 0-9 $-_.+`, 454);
  const out: SessionHeader = { id };
  for (const p of parts.slice(1)) {
    const m = /^timeout\s*=\s*(\S+)$/i.exec(p);
    if (m) out.timeout = decimal('Session', 'timeout', m[1]!, 1, 86_400);
    else if (p !== '') throw bad('Session', `unknown parameter ${show(p)}`);
  }
  return out;
}

export function formatSession(s: SessionHeader): string {
  return s.timeout !== undefined ? `${s.id};timeout=${s.timeout}` : s.id;
}

/** Bandwidth: bits per second */
export function parseBandwidth(value: string): number {
  return decimal('Bandwidth', 'bit rate', bounded('Bandwidth', value), 0, Number.MAX_SAFE_INTEGER);
}

// -- Transport ---------------------------------------------------------------------------------------------------

export interface TransportSpec {
  /** e.g. RTP */
  protocol: string;
  /** e.g. AVP */
  profile: string;
  /** UDP (default) or TCP, upper case */
  lower: string;
  /** true: unicast, false: multicast, undefined: not said */
  unicast?: boolean;
  interleaved?: [number, number];
  clientPort?: [number, number];
  serverPort?: [number, number];
  port?: [number, number];
  /** 32-bit SSRC (hex on the wire) */
  ssrc?: number;
  /** mode, upper case (PLAY, RECORD); `play` is accepted as FFmpeg sends it */
  mode?: string;
  destination?: string;
  source?: string;
  ttl?: number;
  fec?: { span: number; perSpan: number; burstMargin?: number };
}

function range(header: string, what: string, text: string, max: number): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw bad(header, `${what} ${show(text)} is not N or N-M`);
  const a = decimal(header, what, m[1]!, 0, max);
  const b = m[2] !== undefined ? decimal(header, what, m[2], 0, max) : a;
  return [a, b];
}

function parseTransportSpec(text: string): TransportSpec {
  const parts = splitOutsideQuotes(text, ';').map((p) => p.trim());
  const head = parts[0]!;
  const m = /^([A-Za-z0-9]{1,16})\/([A-Za-z0-9]{1,16})(?:\/([A-Za-z0-9]{1,16}))?$/.exec(head);
  if (!m) throw bad('Transport', `${show(head)} is not transport-protocol/profile[/lower-transport]`);
  const spec: TransportSpec = { protocol: m[1]!.toUpperCase(), profile: m[2]!.toUpperCase(), lower: (m[3] ?? 'UDP').toUpperCase() };
  if (parts.length > 24) throw bad('Transport', `more than 24 parameters in one transport-spec`);
  for (const p of parts.slice(1)) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? '' : p.slice(eq + 1).trim();
    switch (name) {
      case 'unicast':
        spec.unicast = true;
        break;
      case 'multicast':
        spec.unicast = false;
        break;
      case 'interleaved':
        spec.interleaved = range('Transport', 'interleaved channel', val, 255);
        break;
      case 'client_port':
        spec.clientPort = range('Transport', 'client_port', val, 65535);
        break;
      case 'server_port':
        spec.serverPort = range('Transport', 'server_port', val, 65535);
        break;
      case 'port':
        spec.port = range('Transport', 'port', val, 65535);
        break;
      case 'ssrc':
        if (!/^[0-9A-Fa-f]{1,8}$/.test(val)) throw bad('Transport', `ssrc ${show(val)} is not 1 to 8 hex digits`);
        spec.ssrc = parseInt(val, 16) >>> 0;
        break;
      case 'mode':
        spec.mode = unquote(val).toUpperCase();
        break;
      case 'destination':
        spec.destination = unquote(val);
        break;
      case 'source':
        spec.source = unquote(val);
        break;
      case 'ttl':
        spec.ttl = decimal('Transport', 'ttl', val, 0, 255);
        break;
      case 'fecspan':
      case 'fecperspan':
      case 'fecburstmargin': {
        if (!/^[0-9A-Fa-f]{1,2}$/.test(val)) throw bad('Transport', `${name} ${show(val)} is not 1 or 2 hex digits`);
        const n = parseInt(val, 16);
        spec.fec ??= { span: 0, perSpan: 0 };
        if (name === 'fecspan') spec.fec.span = n;
        else if (name === 'fecperspan') spec.fec.perSpan = n;
        else spec.fec.burstMargin = n;
        break;
      }
      default:
        break; // unknown parameters are ignored (append, layers, ...)
    }
  }
  return spec;
}

/** A Transport header: one or more transport-specs in the client's order of preference. */
export function parseTransport(value: string): TransportSpec[] {
  const v = bounded('Transport', value);
  if (v === '') throw bad('Transport', 'empty');
  const specs = splitOutsideQuotes(v, ',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) throw bad('Transport', 'no transport-spec');
  if (specs.length > 8) throw bad('Transport', `${specs.length} transport-specs, at most 8 are read`);
  return specs.map(parseTransportSpec);
}

const pair = (p: [number, number]) => (p[0] === p[1] ? `${p[0]}` : `${p[0]}-${p[1]}`);

export function formatTransport(t: TransportSpec): string {
  const parts = [`${t.protocol}/${t.profile}/${t.lower}`];
  if (t.unicast === true) parts.push('unicast');
  if (t.unicast === false) parts.push('multicast');
  if (t.destination) parts.push(`destination=${t.destination}`);
  if (t.source) parts.push(`source=${t.source}`);
  if (t.interleaved) parts.push(`interleaved=${pair(t.interleaved)}`);
  if (t.clientPort) parts.push(`client_port=${pair(t.clientPort)}`);
  if (t.serverPort) parts.push(`server_port=${pair(t.serverPort)}`);
  if (t.port) parts.push(`port=${pair(t.port)}`);
  if (t.ttl !== undefined) parts.push(`ttl=${t.ttl}`);
  if (t.ssrc !== undefined) parts.push(`ssrc=${(t.ssrc >>> 0).toString(16).padStart(8, '0')}`);
  if (t.mode) parts.push(`mode=${t.mode}`);
  return parts.join(';');
}

// -- Range -------------------------------------------------------------------------------------------------------

export type RangeSpec =
  /** npt and smpte times in ms; start 'now' (live) */
  | { unit: 'npt' | 'smpte'; start: number | 'now'; end?: number }
  /** byte offset in the file (the first data packet is at the header's size) */
  | { unit: 'x-asf-byte'; start: number; end?: number }
  /** ASF data packet number from 0 */
  | { unit: 'x-asf-packet'; start: number; end?: number };

const MAX_NPT_SECONDS = 1e9;

function nptTime(text: string): number | 'now' {
  if (text === 'now') return 'now';
  let m = /^(\d{1,10})(?:\.(\d{0,9}))?$/.exec(text);
  if (m) {
    const s = Number(`${m[1]}.${m[2] || '0'}`);
    if (s > MAX_NPT_SECONDS) throw bad('Range', `npt time ${text} s is too far`, 457);
    return Math.round(s * 1000);
  }
  m = /^(\d{1,6}):([0-5]?\d):([0-5]?\d)(?:\.(\d{0,9}))?$/.exec(text);
  if (m) return Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(`${m[3]}.${m[4] || '0'}`)) * 1000);
  throw bad('Range', `npt time ${show(text)} is not seconds, hh:mm:ss or now`, 457);
}

function smpteTime(text: string, fps: number): number {
  const m = /^(\d{1,2}):(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) throw bad('Range', `smpte time ${show(text)} is not hh:mm:ss[:frames][.subframes]`, 457);
  const [h, min, s, f, sub] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0'].map(Number) as [number, number, number, number, number];
  if (min > 59 || s > 59 || f >= Math.ceil(fps)) throw bad('Range', `smpte time ${show(text)} has a field out of range`, 457);
  return Math.round((h * 3600 + min * 60 + s) * 1000 + ((f + sub / 100) * 1000) / fps);
}

/** One ranges-specifier (MS-RTSP: no lists, no `;time=`). */
export function parseRange(value: string): RangeSpec {
  const v = bounded('Range', value);
  if (v.includes(',')) throw bad('Range', 'more than one ranges-specifier', 457);
  if (/;/.test(v)) throw bad('Range', 'a ;time= parameter is not allowed', 457);
  const m = /^([A-Za-z0-9-]+)\s*=\s*([^-]*)-(.*)$/.exec(v);
  if (!m) throw bad('Range', `${show(v)} is not unit=start-[end]`, 457);
  const unit = m[1]!.toLowerCase();
  const a = m[2]!.trim();
  const b = m[3]!.trim();
  switch (unit) {
    case 'npt': {
      // "npt=-30" (no start) means from the beginning to 30 s
      const start = a === '' ? 0 : nptTime(a);
      const end = b === '' ? undefined : nptTime(b);
      if (end === 'now') throw bad('Range', 'end time "now" is not allowed', 457);
      if (end !== undefined && start !== 'now' && end < start) throw bad('Range', `end ${b} is before start ${a}`, 457);
      return { unit: 'npt', start, end };
    }
    case 'smpte':
    case 'smpte-30-drop':
    case 'smpte-25': {
      const fps = unit === 'smpte-25' ? 25 : unit === 'smpte-30-drop' ? 29.97 : 30;
      const start = smpteTime(a, fps);
      const end = b === '' ? undefined : smpteTime(b, fps);
      if (end !== undefined && end < start) throw bad('Range', `end ${b} is before start ${a}`, 457);
      return { unit: 'smpte', start, end };
    }
    case 'x-asf-byte':
    case 'x-asf-packet': {
      const start = decimal('Range', unit, a, 0, Number.MAX_SAFE_INTEGER, 457);
      const end = b === '' ? undefined : decimal('Range', unit, b, 0, Number.MAX_SAFE_INTEGER, 457);
      if (end !== undefined && end < start) throw bad('Range', `end ${b} is before start ${a}`, 457);
      return { unit, start, end };
    }
    default:
      throw bad('Range', `unit ${show(unit)} is not npt, smpte, x-asf-byte or x-asf-packet`, 457);
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function formatRange(r: RangeSpec): string {
  if (r.unit === 'npt' || r.unit === 'smpte') {
    const start = r.start === 'now' ? 'now' : seconds(r.start);
    return `npt=${start}-${r.end !== undefined ? seconds(r.end) : ''}`;
  }
  return `${r.unit}=${r.start}-${r.end ?? ''}`;
}

// -- RTP-Info ----------------------------------------------------------------------------------------------------

export interface RtpInfoEntry {
  url: string;
  seq?: number;
  rtptime?: number;
}

export function parseRtpInfo(value: string): RtpInfoEntry[] {
  const v = bounded('RTP-Info', value);
  const out: RtpInfoEntry[] = [];
  // a new entry starts at "url="; commas inside a quoted URL are kept
  for (const raw of splitOutsideQuotes(v, ',')) {
    const s = raw.trim();
    if (s === '') continue;
    const params = splitOutsideQuotes(s, ';').map((p) => p.trim());
    if (params.length > MAX_LIST + 1) throw bad('RTP-Info', `more than ${MAX_LIST} parameters`);
    const [first, ...rest] = params;
    const m = /^url\s*=\s*(.+)$/i.exec(first!);
    if (!m) {
      // a comma inside an unquoted URL: glue it to the previous entry's URL
      const prev = out[out.length - 1];
      if (prev && rest.length === 0 && /^[^=\s]+$/.test(first!)) {
        prev.url += `,${first}`;
        continue;
      }
      throw bad('RTP-Info', `entry ${show(s)} does not start with url=`);
    }
    const entry: RtpInfoEntry = { url: unquote(m[1]!.trim()) };
    for (const p of rest) {
      const kv = /^([A-Za-z]+)\s*=\s*(\S+)$/.exec(p);
      if (!kv) continue;
      const k = kv[1]!.toLowerCase();
      if (k === 'seq') entry.seq = decimal('RTP-Info', 'seq', kv[2]!, 0, 65535);
      else if (k === 'rtptime') entry.rtptime = decimal('RTP-Info', 'rtptime', kv[2]!, 0, U32_MAX);
    }
    out.push(entry);
    if (out.length > MAX_LIST) throw bad('RTP-Info', `more than ${MAX_LIST} entries`);
  }
  if (out.length === 0) throw bad('RTP-Info', 'no entries');
  return out;
}

export function formatRtpInfo(entries: readonly RtpInfoEntry[]): string {
  return entries
    .map((e) => [`url=${e.url}`, e.seq !== undefined ? `seq=${e.seq & 0xffff}` : '', e.rtptime !== undefined ? `rtptime=${e.rtptime >>> 0}` : ''].filter((p) => p !== '').join(';'))
    .join(',');
}

// -- Supported, Content-Type -------------------------------------------------------------------------------------

/** Feature tokens, lower-cased; unknown tokens are kept (the caller ignores what it does not know). */
export function parseSupported(value: string): string[] {
  const tokens = bounded('Supported', value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
  if (tokens.length > 64) throw bad('Supported', `${tokens.length} tokens, at most 64 are read`);
  for (const t of tokens) if (!/^[a-z0-9._-]{1,128}$/.test(t)) throw bad('Supported', `${show(t)} is not a feature token`);
  return tokens;
}

export interface ContentType {
  /** lower case `type/subtype` */
  mediaType: string;
  params: Map<string, string>;
}

export function parseContentType(value: string): ContentType {
  const parts = bounded('Content-Type', value).split(';').map((p) => p.trim());
  const mediaType = parts[0]!.toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mediaType)) throw bad('Content-Type', `${show(parts[0]!)} is not type/subtype`, 415);
  const params = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), unquote(p.slice(eq + 1).trim()));
  }
  return { mediaType, params };
}

// -- X-Accelerate-Streaming, X-Burst-Streaming, X-Notice ---------------------------------------------------------

function twoParams(header: string, value: string, names: [string, string], max: number): [number, number] {
  const found = new Map<string, number>();
  for (const p of bounded(header, value).split(';')) {
    const kv = /^\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(p);
    if (!kv) {
      if (p.trim() !== '') throw bad(header, `${show(p)} is not name=value`);
      continue;
    }
    const name = names.find((n) => n.toLowerCase() === kv[1]!.toLowerCase());
    if (name) found.set(name, decimal(header, name, kv[2]!, 0, max));
  }
  const a = found.get(names[0]);
  const b = found.get(names[1]);
  if (a === undefined || b === undefined) throw bad(header, `needs ${names[0]}= and ${names[1]}=`);
  return [a, b];
}

export interface AccelerationRequest {
  durationMs: number;
  bandwidth: number;
}

export function parseAccelerate(value: string): AccelerationRequest {
  const [durationMs, bandwidth] = twoParams('X-Accelerate-Streaming', value, ['AccelDuration', 'AccelBandwidth'], U32_MAX);
  return { durationMs, bandwidth };
}

export function formatAccelerate(a: AccelerationRequest): string {
  return `AccelDuration=${a.durationMs >>> 0};AccelBandwidth=${a.bandwidth >>> 0}`;
}

export function parseBurst(value: string): AccelerationRequest {
  const [durationMs, bandwidth] = twoParams('X-Burst-Streaming', value, ['BurstDuration', 'BurstBandwidth'], 0x7fffffff);
  return { durationMs, bandwidth };
}

export function formatBurst(a: AccelerationRequest): string {
  return `BurstDuration=${Math.min(a.durationMs, 0x7fffffff)};BurstBandwidth=${Math.min(a.bandwidth, 0x7fffffff)}`;
}

export const END_OF_STREAM_NOTICE = '2101 "End-of-Stream Reached"';

export function parseNotice(value: string): { code: number; text: string } {
  const m = /^(\d{4})\s+"([^"]*)"$/.exec(bounded('X-Notice', value));
  if (!m) throw bad('X-Notice', `${show(value)} is not <code> "<text>"`);
  return { code: Number(m[1]), text: m[2]! };
}
