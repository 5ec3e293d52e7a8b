/**
 * SDP (RFC 4566) as MS-RTSP 2.2.5 shapes it for ASF content: the session level carries the ASF file header
 * (`a=pgmpu:data:application/vnd.ms.wms-hdr.asfv1;base64,...`: Header Object + 50-byte Data Object head),
 * `a=maxps`, the content description list, `b=AS/RS/RR` and `a=type`; one media description per ASF stream
 * (`x-asf-pf/1000`, `a=stream:<n>`, `a=control`), plus the retransmission stream (`x-wms-rtx/1000`,
 * control `rtx`, stream 65536) that FFmpeg insists on before it SETUPs over UDP. Build for the server, parse
 * (bounded) for the client.
 */
import { MssError } from '../../core/errors.js';

export const ASF_HEADER_MIME = 'application/vnd.ms.wms-hdr.asfv1';
export const CONTENT_DESC_MIME = 'application/x-wms-contentdesc';
export const RTX_STREAM = 65536;
export const DEFAULT_PAYLOAD_TYPE = 96;
export const DEFAULT_RTX_PAYLOAD_TYPE = 97;

/** an SDP longer than this is refused (the base64 ASF header dominates: 4 MiB of header) */
export const MAX_SDP_BYTES = 6 * 1024 * 1024;
const MAX_LINES = 4096;
const MAX_MEDIA = 127;

export interface SdpStream {
  number: number;
  /** audio, video, or anything else (sent as application) */
  type: string;
  /** bits per second (peak when known) */
  bitrate: number;
  /** average bit rate when it differs from the peak (b=X-AV) */
  averageBitrate?: number;
  reliable?: boolean;
}

export interface WmsSdpInput {
  /** absolute aggregate control URL (the presentation) */
  baseUrl: string;
  title: string;
  headerBytes: Buffer;
  packetSize: number;
  /** ms; 0 when unknown (broadcast) */
  durationMs: number;
  broadcast: boolean;
  seekable: boolean;
  streams: readonly SdpStream[];
  /** name/value strings for the content description list (e.g. title, author) */
  contentDescription?: ReadonlyArray<readonly [string, string]>;
  payloadType?: number;
  rtxPayloadType?: number;
  /** o= session id and version (decimal digits) */
  sessionId?: string;
  sessionVersion?: string;
}

/** The relative control URL of a stream: `audio` or `video` when one of its kind, else `<type><number>`. */
export function streamControl(stream: Pick<SdpStream, 'number' | 'type'>, all: ReadonlyArray<Pick<SdpStream, 'type'>>): string {
  const kind = mediaOf(stream.type);
  const alone = all.filter((s) => mediaOf(s.type) === kind).length === 1;
  return alone ? kind : `${kind}${stream.number}`;
}

function mediaOf(type: string): 'audio' | 'video' | 'application' {
  return type === 'audio' || type === 'video' ? type : 'application';
}

const kbps = (bps: number) => Math.max(1, Math.ceil(bps / 1000));

/** Percent-encodes what may not stand in a data URL (RFC 3986 unreserved and sub-delims stay). */
function uriText(s: string): string {
  return encodeURIComponent(s).replace(/%2C/gi, ',').replace(/%3B/gi, ';').replace(/%3D/gi, '=').replace(/%3A/gi, ':');
}

/**
 * MS-WMSP 2.2.4 content description list: `<name len>,<name>,<type>,<value len>,<value>` per entry (lengths
 * in UTF-8 bytes, type 31 = string), the first entry `language`; then URI-encoded for the data URL.
 */
export function contentDescriptionList(entries: ReadonlyArray<readonly [string, string]>, language = ''): string {
  const all: Array<readonly [string, string]> = [['language', language], ...entries];
  const text = all.map(([n, v]) => `${Buffer.byteLength(n)},${n},31,${Buffer.byteLength(v)},${v}`).join(',');
  return uriText(text);
}

export function buildWmsSdp(i: WmsSdpInput): string {
  const pt = i.payloadType ?? DEFAULT_PAYLOAD_TYPE;
  const rtxPt = i.rtxPayloadType ?? DEFAULT_RTX_PAYLOAD_TYPE;
  if (i.streams.length === 0) throw new MssError('invalid-argument', 'SDP: content without streams');
  if (i.streams.length > MAX_MEDIA) throw new MssError('too-large', `SDP: ${i.streams.length} streams, at most ${MAX_MEDIA}`);
  const total = i.streams.reduce((a, s) => a + Math.max(0, s.bitrate), 0);
  const id = i.sessionId ?? '0';
  const features = [i.broadcast ? 'broadcast' : '', i.seekable ? '' : 'notseekable', 'notstridable'].filter((f) => f !== '');
  const title = i.title.replace(/[\r\n]/g, ' ').trim() || '-';
  const lines = [
    'v=0',
    `o=- ${id} ${i.sessionVersion ?? id} IN IP4 0.0.0.0`,
    `s=${title}`,
    'c=IN IP4 0.0.0.0',
    `b=AS:${kbps(total)}`,
    'b=RS:0',
    'b=RR:0',
    't=0 0',
    `a=maxps:${i.packetSize}`,
    `a=control:${i.baseUrl}`,
    i.broadcast || i.durationMs <= 0 ? 'a=range:npt=0.000-' : `a=range:npt=0.000-${(i.durationMs / 1000).toFixed(3)}`,
    `a=type:${features.join(',')}`,
    'a=recvonly',
    `a=pgmpu:data:${CONTENT_DESC_MIME},${contentDescriptionList(i.contentDescription ?? [['title', title]])}`,
    `a=pgmpu:data:${ASF_HEADER_MIME};base64,${i.headerBytes.toString('base64')}`,
  ];
  for (const s of i.streams) {
    if (!Number.isInteger(s.number) || s.number < 1 || s.number > 65534) throw new MssError('invalid-argument', `SDP: stream number ${s.number} outside 1..65534`);
    lines.push(`m=${mediaOf(s.type)} 0 RTP/AVP ${pt}`, `b=AS:${kbps(s.bitrate)}`);
    if (s.averageBitrate !== undefined && s.averageBitrate !== s.bitrate) lines.push(`b=X-AV:${kbps(s.averageBitrate)}`);
    lines.push(`a=rtpmap:${pt} x-asf-pf/1000`, `a=control:${streamControl(s, i.streams)}`, `a=stream:${s.number}`);
    if (s.reliable) lines.push('a=reliable');
  }
  lines.push(`m=application 0 RTP/AVP ${rtxPt}`, `a=rtpmap:${rtxPt} x-wms-rtx/1000`, 'a=control:rtx', `a=stream:${RTX_STREAM}`);
  return lines.join('\r\n') + '\r\n';
}

// -- parsing (client) ---------------------------------------------------------------------------------------------

export interface SdpMedia {
  media: string;
  port: number;
  proto: string;
  formats: number[];
  /** payload type -> encoding name (lower case) and clock rate */
  rtpmap: Map<number, { encoding: string; clockRate: number }>;
  control?: string;
  /** a=stream value */
  stream?: number;
  bandwidthKbps?: number;
  reliable: boolean;
}

export interface WmsSdp {
  title?: string;
  control?: string;
  /** Header Object + Data Object head from the pgmpu data URL */
  asfHeader?: Buffer;
  maxPacketSize?: number;
  features: string[];
  range?: string;
  bandwidthKbps?: number;
  media: SdpMedia[];
}

function bad(message: string): MssError {
  return new MssError('malformed', `SDP: ${message}`);
}

function intIn(text: string, what: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) throw bad(`${what} ${JSON.stringify(text.slice(0, 20))} is not a number in ${min}..${max}`);
  return Number(text);
}

export function parseWmsSdp(text: string): WmsSdp {
  if (text.length > MAX_SDP_BYTES) throw new MssError('too-large', `SDP: ${text.length} characters, at most ${MAX_SDP_BYTES}`);
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new MssError('too-large', `SDP: ${lines.length} lines, at most ${MAX_LINES}`);
  const out: WmsSdp = { features: [], media: [] };
  let current: SdpMedia | null = null;
  let sawVersion = false;
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (line === '') continue;
    if (!/^[a-z]=/.test(line)) throw bad(`line ${JSON.stringify(line.slice(0, 40))} is not <letter>=<value>`);
    const type = line[0]!;
    const value = line.slice(2);
    if (!sawVersion) {
      if (type !== 'v' || value !== '0') throw bad('does not start with v=0');
      sawVersion = true;
      continue;
    }
    if (type === 'm') {
      const m = /^(\S+) (\d{1,5})(?:\/\d+)? (\S+)((?: \S+)*)$/.exec(value);
      if (!m) throw bad(`media line ${JSON.stringify(value.slice(0, 60))} is not "<media> <port> <proto> <fmt>..."`);
      if (out.media.length >= MAX_MEDIA) throw new MssError('too-large', `SDP: more than ${MAX_MEDIA} media descriptions`);
      const formats = m[4]!.trim().split(' ').filter((f) => f !== '').map((f) => (/^\d{1,3}$/.test(f) ? Number(f) : -1)).filter((f) => f >= 0 && f <= 127);
      current = { media: m[1]!, port: intIn(m[2]!, 'port', 0, 65535), proto: m[3]!, formats, rtpmap: new Map(), reliable: false };
      out.media.push(current);
      continue;
    }
    if (type === 's' && !current) out.title = value;
    if (type === 'b') {
      const m = /^AS:(\d{1,10})$/.exec(value);
      if (m) {
        if (current) current.bandwidthKbps = Number(m[1]);
        else out.bandwidthKbps = Number(m[1]);
      }
      continue;
    }
    if (type !== 'a') continue;
    const colon = value.indexOf(':');
    const name = (colon < 0 ? value : value.slice(0, colon)).toLowerCase();
    const arg = colon < 0 ? '' : value.slice(colon + 1);
    if (current) {
      if (name === 'rtpmap') {
        const m = /^(\d{1,3}) ([^/\s]+)\/(\d{1,10})/.exec(arg);
        if (!m) throw bad(`rtpmap ${JSON.stringify(arg.slice(0, 40))} is not "<pt> <encoding>/<clock>"`);
        current.rtpmap.set(intIn(m[1]!, 'payload type', 0, 127), { encoding: m[2]!.toLowerCase(), clockRate: Number(m[3]) });
      } else if (name === 'control') current.control = arg;
      else if (name === 'stream') current.stream = intIn(arg, 'stream number', 1, 131070);
      else if (name === 'reliable') current.reliable = true;
      continue;
    }
    if (name === 'control') out.control = arg;
    else if (name === 'maxps') out.maxPacketSize = intIn(arg, 'maxps', 1, 0xffffffff);
    else if (name === 'type') out.features = arg.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '');
    else if (name === 'range') out.range = arg;
    else if (name === 'pgmpu') {
      const prefix = `data:${ASF_HEADER_MIME};base64,`;
      if (arg.toLowerCase().startsWith(prefix.toLowerCase())) {
        const b64 = arg.slice(prefix.length);
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw bad('the ASF header data URL is not base64');
        out.asfHeader = Buffer.from(b64, 'base64');
      }
    }
  }
  if (!sawVersion) throw bad('empty');
  return out;
}

/** A media description's control URL made absolute against the session's (RFC 2326 C.1.1). */
export function resolveControl(base: string, control: string | undefined): string {
  if (!control || control === '*') return base;
  if (/^rtsps?:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}
