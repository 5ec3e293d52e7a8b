/**
 * What a DESCRIBE (or a server's ANNOUNCE) says about a target: the SDP of its current header, and the URL
 * arithmetic of presentations and their stream controls (rtsp://host/vod/a.wmv is the presentation,
 * rtsp://host/vod/a.wmv/audio a stream of it, .../rtx the retransmission stream).
 */
import { describeHeader } from '../../asf/description.js';
import { parseHeaderObject } from '../../asf/header.js';
import type { ContentDescription, MediaTarget } from '../../contracts/media.js';
import { MssError } from '../../core/errors.js';
import { buildWmsSdp, streamControl, type SdpStream } from './sdp.js';

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** title and SDP per header Buffer (a broadcast's header is one Buffer for every player) */
const titles = new WeakMap<Buffer, string>();

function titleOf(info: ContentDescription, fallback: string): string {
  let t = titles.get(info.headerBytes);
  if (t === undefined) {
    try {
      t = parseHeaderObject(info.headerBytes, 0).contentDescription?.title?.trim() ?? '';
    } catch {
      t = '';
    }
    titles.set(info.headerBytes, t);
  }
  return t || fallback;
}

/** the streams as the SDP lists them; a stream without a bit rate of its own gets a share of the total */
export function sdpStreams(info: ContentDescription): SdpStream[] {
  const share = info.streams.length > 0 ? Math.round(info.bitrate / info.streams.length) : 0;
  return info.streams.map((s) => ({ number: s.number, type: s.type, bitrate: s.bitrate > 0 ? s.bitrate : share }));
}

export function describeTarget(target: MediaTarget, info: ContentDescription, presentationUrl: string, sessionVersion: number): string {
  const name = decode(pathOf(presentationUrl).split('/').filter((s) => s !== '').pop() ?? target.point);
  return buildWmsSdp({
    baseUrl: presentationUrl,
    title: titleOf(info, name),
    headerBytes: info.headerBytes,
    packetSize: info.packetSize,
    durationMs: target.kind === 'broadcast' ? 0 : info.durationMs,
    broadcast: target.kind === 'broadcast',
    seekable: target.kind === 'ondemand',
    streams: sdpStreams(info),
    sessionId: String(sessionVersion),
  });
}

/** the stream number of a control name ('audio', 'video2', ...), or 'rtx', or undefined */
export function streamOfControl(info: ContentDescription, control: string): number | 'rtx' | undefined {
  if (control === 'rtx') return 'rtx';
  return info.streams.find((s) => streamControl(s, info.streams) === control)?.number;
}

export function controlOfStream(info: ContentDescription, stream: number): string {
  const s = info.streams.find((x) => x.number === stream);
  return s ? streamControl(s, info.streams) : String(stream);
}

const URL_SHAPE = /^(rtsps?:\/\/[^/?#]*)?(\/[^?#]*)?(\?[^#]*)?$/i;

/** the authority part (`rtsp://host:port`, or '' for an absolute path) and the path of a Request-URI */
function parts(uri: string): { origin: string; path: string } {
  const m = URL_SHAPE.exec(uri);
  if (!m || (!m[1] && !m[2])) throw new MssError('malformed', `RTSP: Request-URI ${JSON.stringify(uri.slice(0, 80))} is not an rtsp:// URL`, { status: 400 });
  return { origin: m[1] ?? '', path: m[2] ?? '/' };
}

/** the path of an RTSP Request-URI (absolute rtsp:// URL or absolute path), percent-encoding kept */
export function pathOf(uri: string): string {
  return parts(uri).path;
}

/** a presentation URL without a trailing slash or query (what control URLs are relative to) */
export function presentationOf(uri: string): string {
  const p = parts(uri);
  return `${p.origin}${p.path.replace(/\/+$/, '')}`;
}

/** the last path segment and the path before it */
export function splitControl(uri: string): { parent: string; control: string } {
  const p = presentationOf(uri);
  const slash = p.lastIndexOf('/');
  return { parent: p.slice(0, slash), control: decode(p.slice(slash + 1)) };
}

/**
 * A description of a header that arrived in the middle of a stream (the core hands framers the bytes only):
 * enough for its SDP (streams, bit rates, packet size, duration).
 */
export function infoFromHeader(headerBytes: Buffer, previous: ContentDescription): ContentDescription {
  return describeHeader(parseHeaderObject(headerBytes, 0), headerBytes, { packetCount: previous.packetCount, fileSize: previous.fileSize, generation: previous.generation + 1 });
}
