/**
 * The player's log (MS-WMLOG): what it received and how, built from its counters as a legacy log with the
 * optional cs-url/cs-media-name/cs-media-role tail (47 fields), sent as XML to the server over the play's
 * protocol and as `MX_STATS_LogLine:` to each .asx LOGURL that passes the validation GET (MS-WMLOG 2.3).
 */
import http from 'node:http';
import { arch, release, type } from 'node:os';
import type { AsfHeader } from '../asf/header.js';
import { MssError } from '../core/errors.js';
import { buildWebServerLog, buildXmlLog, toToken, type WmlogRecord } from '../protocols/wmlog/codec.js';

export const PLAYER_VERSION = '0.1.0.0';

export interface PlayReportInput {
  /** the URL actually streamed from (after rollover/redirects) */
  streamUrl: string;
  /** the URL the user asked for (before .asx resolution, rollover, redirects) */
  requestedUrl: string;
  playerId: string;
  userAgent: string;
  startedAtMs: number;
  endedAtMs: number;
  /** position the play started at, seconds into the content */
  startSeconds: number;
  header: AsfHeader | undefined;
  broadcast: boolean;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  longestLossRun: number;
  reconnects: number;
  protocol: string;
  /** TCP unless the data came over UDP (multicast) */
  transport?: 'TCP' | 'UDP';
  /** packets rebuilt from error correction */
  recoveredEcc?: number;
  mediaName?: string;
  channelUrl?: string;
}

function codecNames(header: AsfHeader | undefined, kind: 'audio' | 'video'): string {
  const names = (header?.streams ?? []).filter((s) => s.type === kind).map((s) => s.codec);
  return names.length ? [...new Set(names)].join(';') : '-';
}

/** MS-WMLOG `protocol` field: http for WMSP, rtsp, mms, asfm for multicast */
function logProtocol(p: string): string {
  return p === 'wmsp' ? 'http' : p === 'mmsp' ? 'mms' : p === 'msb' ? 'asfm' : p;
}

export function buildPlayRecord(r: PlayReportInput): WmlogRecord {
  const now = new Date(r.endedAtMs).toISOString();
  const seconds = Math.max(0, (r.endedAtMs - r.startedAtMs) / 1000);
  const received = r.packetsReceived;
  const quality = received + r.packetsLost === 0 ? 100 : Math.round((received / (received + r.packetsLost)) * 100);
  const stem = r.streamUrl.split('?')[0]!;
  const t = toToken;
  return {
    'c-ip': '0.0.0.0',
    date: now.slice(0, 10),
    time: now.slice(11, 19),
    'c-dns': '-',
    'cs-uri-stem': t('cs-uri-stem', stem),
    'c-starttime': String(Math.max(0, Math.floor(r.startSeconds))),
    'x-duration': String(Math.ceil(seconds)),
    'c-rate': '1',
    // 210: the player reconnected during the play (MS-WMLOG 2.1.25.2)
    'c-status': r.reconnects > 0 ? '210' : '200',
    'c-playerid': r.playerId,
    'c-playerversion': PLAYER_VERSION,
    'c-playerlanguage': '-',
    'cs-User-Agent': t('cs-User-Agent', r.userAgent),
    'cs-Referer': '-',
    'c-hostexe': 'mss',
    'c-hostexever': PLAYER_VERSION,
    'c-os': t('c-os', type()),
    'c-osversion': t('c-osversion', release()),
    'c-cpu': t('c-cpu', arch()),
    filelength: r.broadcast ? '0' : String(Math.round((r.header?.durationMs ?? 0) / 1000)),
    filesize: r.broadcast ? '0' : String(r.header?.fileProperties.fileSize ?? 0n),
    avgbandwidth: seconds > 0 ? String(Math.round((r.bytesReceived * 8) / seconds)) : '-',
    protocol: logProtocol(r.protocol),
    transport: r.transport ?? 'TCP',
    audiocodec: t('audiocodec', codecNames(r.header, 'audio')),
    videocodec: t('videocodec', codecNames(r.header, 'video')),
    'c-channelURL': t('c-channelURL', r.channelUrl),
    'sc-bytes': '-',
    'c-bytes': String(r.bytesReceived),
    's-pkts-sent': '-',
    'c-pkts-received': String(received),
    'c-pkts-lost-client': String(r.packetsLost),
    'c-pkts-lost-net': String(r.packetsLost),
    'c-pkts-lost-cont-net': String(r.longestLossRun),
    'c-resendreqs': '0',
    'c-pkts-recovered-ECC': String(r.recoveredEcc ?? 0),
    'c-pkts-recovered-resent': '0',
    'c-buffercount': String(r.reconnects),
    'c-totalbuffertime': '0',
    'c-quality': String(quality),
    's-ip': '-',
    's-dns': '-',
    's-totalclients': '-',
    's-cpu-util': '-',
    'cs-url': t('cs-url', r.requestedUrl),
    'cs-media-name': t('cs-media-name', r.mediaName),
    'cs-media-role': '-',
  };
}

export function playLogXml(record: WmlogRecord): string {
  return buildXmlLog(record, { form: 47 });
}

/** A player-generated GUID in the anonymous form WMP uses ({3300AD50-2C39-46c0-AE0A-<12 random hex>}). */
export function anonymousPlayerId(random: () => number = Math.random): string {
  let tail = '';
  for (let i = 0; i < 12; i++) tail += Math.floor(random() * 16).toString(16).toUpperCase();
  return `{3300AD50-2C39-46c0-AE0A-${tail}}`;
}

function request(method: 'GET' | 'POST', url: URL, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  if (url.protocol !== 'http:') return Promise.reject(new MssError('unsupported', `log URL ${url.href}: only http:// is supported`));
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'User-Agent': 'mss-play/0.1' };
    if (body !== undefined) {
      headers['Content-Type'] = 'text/plain;charset=UTF-8';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request(url, { method, agent: false, timeout: timeoutMs, headers }, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 64 * 1024) parts.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new MssError('timeout', `${method} ${url.href}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof MssError ? err : new MssError('unavailable', `${method} ${url.href}: ${err.message}`)));
    req.end(body);
  });
}

/** Validates a web-server log URL (the GET must show the logging DLL banner), then POSTs the line. */
export async function postWebLog(logUrl: string, record: WmlogRecord, timeoutMs = 10_000): Promise<number> {
  const url = new URL(logUrl);
  const check = await request('GET', url, undefined, timeoutMs);
  if (check.status !== 200 || !/<h1>\s*(NetShow ISAPI Log Dll|WMS ISAPI Log Dll\/\d{1,4}\.\d{1,4}\.\d{1,4}\.\d{1,4})\s*<\/h1>/i.test(check.text)) {
    throw new MssError('unavailable', `log URL ${url.href} did not validate (HTTP ${check.status}, no logging banner): log not sent`);
  }
  const res = await request('POST', url, buildWebServerLog(record, 47), timeoutMs);
  if (res.status < 200 || res.status >= 300) throw new MssError('unavailable', `log URL ${url.href}: HTTP ${res.status}`, { status: res.status });
  return res.status;
}
