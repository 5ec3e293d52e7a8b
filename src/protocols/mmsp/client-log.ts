/**
 * The CLIENT_LOG structure of LinkViewerToMacLogging (MS-MMSP 2.2.1): 1,490 packed bytes with a 1,142-byte
 * CLIENT_LOG_INFO inside, fixed-size NUL-terminated ANSI strings ("-" when empty). Parsing, building, and the
 * MS-WMLOG record the server stores for it (the same fields a W3C log line of a WMSP player carries).
 */
import { MssError } from '../../core/errors.js';
import { toToken, type WmlogRecord } from '../wmlog/codec.js';

export const CLIENT_LOG_BYTES = 1490;
export const CLIENT_LOG_INFO_BYTES = 1142;

export interface ClientLog {
  url: string;
  channelUrl: string;
  userAgent: string;
  hostingWebPage: string;
  /** dotted a.b.c.d (four u16 parts, major first) */
  clientVersion: string;
  lang: string;
  uniquePid: string;
  hostExe: string;
  hostExeVersion: string;
  fileDurationMs: number;
  fileSize: number;
  avgBandwidthBps: number;
  audioCodec: string;
  videoCodec: string;
  startTimeMs: number;
  playedMs: number;
  rate: number;
  bufferingCount: number;
  bufferingTimeMs: number;
  bytesReceived: number;
  packetsReceived: number;
  packetsLostClient: number;
  minReceptionQuality: number;
  sourceId: number;
  computerDns: string;
  os: string;
  osVersion: string;
  cpu: string;
  proto: string;
  transport: string;
  packetsLostNet: number;
  packetsLostContNet: number;
  resendRequests: number;
  packetsRecoveredResent: number;
  packetsResent: number;
}

/** [field, offset, size] of the strings; offsets are from the start of CLIENT_LOG (info starts at 4) */
const I = 4;
const STRINGS: ReadonlyArray<[keyof ClientLog, number, number]> = [
  ['url', I + 4, 260],
  ['channelUrl', I + 264, 260],
  ['userAgent', I + 524, 64],
  ['hostingWebPage', I + 588, 260],
  ['lang', I + 856, 16],
  ['uniquePid', I + 872, 40],
  ['hostExe', I + 912, 32],
  ['audioCodec', I + 968, 64],
  ['videoCodec', I + 1032, 64],
  ['computerDns', 1154, 260],
  ['os', 1414, 16],
  ['cpu', 1438, 16],
  ['proto', 1454, 8],
  ['transport', 1462, 8],
];

const U32: ReadonlyArray<[keyof ClientLog, number]> = [
  ['fileDurationMs', I + 952],
  ['avgBandwidthBps', I + 964],
  ['startTimeMs', I + 1096],
  ['playedMs', I + 1100],
  ['bufferingCount', I + 1106],
  ['bufferingTimeMs', I + 1110],
  ['packetsReceived', I + 1122],
  ['packetsLostClient', I + 1126],
  ['minReceptionQuality', I + 1134],
  ['sourceId', 1146],
  ['packetsLostNet', 1470],
  ['packetsLostContNet', 1474],
  ['resendRequests', 1478],
  ['packetsRecoveredResent', 1482],
  ['packetsResent', 1486],
];

const U64: ReadonlyArray<[keyof ClientLog, number]> = [
  ['fileSize', I + 956],
  ['bytesReceived', I + 1114],
];

const VERSIONS: ReadonlyArray<[keyof ClientLog, number]> = [
  ['clientVersion', I + 848],
  ['hostExeVersion', I + 944],
  ['osVersion', 1430],
];
const RATE_AT = I + 1104;

function readAnsi(buf: Buffer, at: number, size: number): string {
  const raw = buf.subarray(at, at + size);
  const nul = raw.indexOf(0);
  const text = raw.toString('latin1', 0, nul < 0 ? raw.length : nul);
  return text === '-' ? '' : text;
}

function writeAnsi(out: Buffer, at: number, size: number, text: string): void {
  // printable ASCII only (the ANSI code page of the spec's examples), cut to leave room for the NUL
  const clean = (text || '-').replace(/[^\x20-\x7e]/g, '?').slice(0, size - 1);
  out.write(clean, at, 'latin1');
}

function readVersion(buf: Buffer, at: number): string {
  const lo = buf.readUInt32LE(at);
  const hi = buf.readUInt32LE(at + 4);
  return [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff].join('.');
}

function writeVersion(out: Buffer, at: number, dotted: string): void {
  const p = dotted.split('.').map((x) => Math.min(0xffff, Math.max(0, Number.parseInt(x, 10) || 0)));
  while (p.length < 4) p.push(0);
  out.writeUInt32LE(((p[2]! << 16) | p[3]!) >>> 0, at);
  out.writeUInt32LE(((p[0]! << 16) | p[1]!) >>> 0, at + 4);
}

/** Parses the log field of a LinkViewerToMacLogging message (padding after the 1,490 bytes is ignored). */
export function parseClientLog(body: Buffer): ClientLog {
  if (body.length < CLIENT_LOG_BYTES) {
    throw new MssError('truncated', `CLIENT_LOG: ${body.length} bytes, the structure has ${CLIENT_LOG_BYTES}`);
  }
  const cbSize = body.readUInt32LE(0);
  const infoSize = body.readUInt32LE(I);
  if (cbSize !== CLIENT_LOG_BYTES || infoSize !== CLIENT_LOG_INFO_BYTES) {
    throw new MssError('malformed', `CLIENT_LOG: cbSize ${cbSize} / info cbSize ${infoSize}, expected ${CLIENT_LOG_BYTES} / ${CLIENT_LOG_INFO_BYTES}`);
  }
  const log = {} as Record<keyof ClientLog, string | number>;
  for (const [k, at, size] of STRINGS) log[k] = readAnsi(body, at, size);
  for (const [k, at] of U32) log[k] = body.readUInt32LE(at);
  for (const [k, at] of U64) log[k] = body.readUInt32LE(at + 4) * 0x100000000 + body.readUInt32LE(at);
  for (const [k, at] of VERSIONS) log[k] = readVersion(body, at);
  log.rate = body.readInt16LE(RATE_AT);
  return log as unknown as ClientLog;
}

/** Builds CLIENT_LOG bytes; strings are cut to their fields, numbers clamped to their widths. */
export function buildClientLog(log: ClientLog): Buffer {
  const out = Buffer.alloc(CLIENT_LOG_BYTES);
  out.writeUInt32LE(CLIENT_LOG_BYTES, 0);
  out.writeUInt32LE(CLIENT_LOG_INFO_BYTES, I);
  out.writeUInt32LE(0xffffffff, 1150); // dwIPAddress: not given (SHOULD)
  for (const [k, at, size] of STRINGS) writeAnsi(out, at, size, String(log[k] ?? ''));
  const n = (k: keyof ClientLog) => Math.max(0, Math.floor(Number(log[k]) || 0));
  for (const [k, at] of U32) out.writeUInt32LE(Math.min(0xffffffff, n(k)), at);
  for (const [k, at] of U64) {
    const v = Math.min(Number.MAX_SAFE_INTEGER, n(k));
    out.writeUInt32LE(v % 0x100000000 >>> 0, at);
    out.writeUInt32LE(Math.floor(v / 0x100000000) >>> 0, at + 4);
  }
  for (const [k, at] of VERSIONS) writeVersion(out, at, String(log[k] ?? ''));
  out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.trunc(log.rate || 1))), RATE_AT);
  return out;
}

export interface LogContext {
  /** the player's socket address (c-ip) */
  remoteAddress: string;
  /** when the server received it */
  receivedAt: number;
}

/**
 * The MS-WMLOG record (47-field legacy form) of a CLIENT_LOG, as the server stores it. Times are whole seconds as
 * W3C logs have them; every value is made a token (no spaces, "-" when empty).
 */
export function clientLogToRecord(log: ClientLog, ctx: LogContext): WmlogRecord {
  const iso = new Date(ctx.receivedAt).toISOString();
  const t = toToken;
  const seconds = (ms: number) => String(Math.floor(ms / 1000));
  const url = log.url || '-';
  return {
    'c-ip': t('c-ip', ctx.remoteAddress),
    date: iso.slice(0, 10),
    time: iso.slice(11, 19),
    'c-dns': t('c-dns', log.computerDns),
    'cs-uri-stem': t('cs-uri-stem', url.split('?')[0]),
    'c-starttime': seconds(log.startTimeMs),
    'x-duration': seconds(log.playedMs),
    'c-rate': String(log.rate),
    'c-status': '200',
    'c-playerid': t('c-playerid', log.uniquePid),
    'c-playerversion': t('c-playerversion', log.clientVersion),
    'c-playerlanguage': t('c-playerlanguage', log.lang),
    'cs-User-Agent': t('cs-User-Agent', log.userAgent),
    'cs-Referer': t('cs-Referer', log.hostingWebPage),
    'c-hostexe': t('c-hostexe', log.hostExe),
    'c-hostexever': t('c-hostexever', log.hostExeVersion),
    'c-os': t('c-os', log.os),
    'c-osversion': t('c-osversion', log.osVersion),
    'c-cpu': t('c-cpu', log.cpu),
    filelength: seconds(log.fileDurationMs),
    filesize: String(log.fileSize),
    avgbandwidth: String(log.avgBandwidthBps),
    protocol: t('protocol', log.proto || 'mms'),
    transport: t('transport', log.transport),
    audiocodec: t('audiocodec', log.audioCodec),
    videocodec: t('videocodec', log.videoCodec),
    'c-channelURL': t('c-channelURL', log.channelUrl),
    'sc-bytes': '-',
    'c-bytes': String(log.bytesReceived),
    's-pkts-sent': '-',
    'c-pkts-received': String(log.packetsReceived),
    'c-pkts-lost-client': String(log.packetsLostClient),
    'c-pkts-lost-net': String(log.packetsLostNet),
    'c-pkts-lost-cont-net': String(log.packetsLostContNet),
    'c-resendreqs': String(log.resendRequests),
    'c-pkts-recovered-ECC': '0',
    'c-pkts-recovered-resent': String(log.packetsRecoveredResent),
    'c-buffercount': String(log.bufferingCount),
    'c-totalbuffertime': seconds(log.bufferingTimeMs),
    'c-quality': String(Math.min(100, log.minReceptionQuality)),
    's-ip': '-',
    's-dns': '-',
    's-totalclients': '-',
    's-cpu-util': '-',
    'cs-url': t('cs-url', url),
    'cs-media-name': '-',
    'cs-media-role': '-',
  };
}
