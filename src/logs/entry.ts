/**
 * Log entries as the logs module stores and exports them: a player's log (decoded by the WMLOG codec, then
 * the fields the server must fill itself overridden, MS-WMLOG 2.1) or the server's own record of a session.
 */
import { hostname, loadavg, cpus } from 'node:os';
import type { PlayerLogReport, SessionSummary } from '../contracts/sessions.js';
import { toToken, type WmlogField, type WmlogRecord, type PlayerLog } from '../protocols/wmlog/codec.js';

export type LogSource = 'player' | 'server';

export interface LogEntry {
  id: number;
  /** epoch ms when the server received (or, for sessions, recorded) it */
  receivedAt: number;
  source: LogSource;
  /** legacy | streaming | rendering | connect-time for players, session for the server's own */
  kind: string;
  protocol: string;
  /** w3c | xml | web for players, server for sessions */
  encoding: string;
  remoteAddress: string;
  url: string;
  point?: string;
  clientId?: string;
  fields: WmlogRecord;
  /** ContentDescription and vendor elements of XML logs, kept for export */
  extra?: Record<string, unknown>;
}

export type NewLogEntry = Omit<LogEntry, 'id'>;

/** `protocol` values of MS-WMLOG: http for WMSP, rtsp, asfm for multicast */
function wmlogProtocol(p: string): string {
  if (p === 'wmsp' || p === 'http') return 'http';
  if (p === 'msb') return 'asfm';
  return p;
}

function utcDateTime(ms: number): { date: string; time: string } {
  const iso = new Date(ms).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 19) };
}

/** server CPU use 0-100 from the 1-minute load average (s-cpu-util) */
function cpuUtil(): string {
  const n = Math.max(1, cpus().length);
  return String(Math.min(100, Math.round((loadavg()[0]! / n) * 100)));
}

/** The fields a server fills itself whatever the client sent (MS-WMLOG 2.1: c-ip, s-dns, s-cpu-util, ...). */
function serverFields(remoteAddress: string): WmlogRecord {
  return {
    'c-ip': toToken('c-ip', remoteAddress || '-'),
    's-dns': toToken('s-dns', hostname()),
    's-cpu-util': cpuUtil(),
  };
}

export function playerLogEntry(report: PlayerLogReport, log: PlayerLog): NewLogEntry {
  const fields: WmlogRecord = { ...log.record, ...serverFields(report.remoteAddress) };
  if (report.clientId !== undefined) fields['s-session-id'] = String(report.clientId);
  const extra: Record<string, unknown> = {};
  if (log.contentDescription.length > 0) extra.contentDescription = log.contentDescription;
  if (log.vendor.length > 0) extra.vendor = log.vendor;
  return {
    receivedAt: report.receivedAt,
    source: 'player',
    kind: log.kind,
    protocol: report.protocol,
    encoding: log.encoding,
    remoteAddress: report.remoteAddress,
    url: report.url,
    point: report.point,
    clientId: report.clientId !== undefined ? String(report.clientId) : undefined,
    fields,
    extra: Object.keys(extra).length > 0 ? extra : undefined,
  };
}

/** The server's line for a session, as MS-WMLOG 8 suggests for players that send nothing (ffmpeg, VLC). */
export function sessionEntry(s: SessionSummary, now = Date.now()): NewLogEntry {
  const { date, time } = utcDateTime(s.start);
  const set = (f: WmlogField, v: string | number | undefined) => toToken(f, v === undefined ? undefined : String(v));
  const fields: WmlogRecord = {
    ...serverFields(s.remoteAddress),
    date,
    time,
    'cs-uri-stem': set('cs-uri-stem', s.url.split('?')[0]),
    'c-starttime': '0',
    'x-duration': String(Math.max(0, Math.ceil(s.durationMs / 1000))),
    'c-rate': '1',
    'c-status': String(Math.min(999, Math.max(100, Math.trunc(s.status)))),
    'cs-User-Agent': set('cs-User-Agent', s.userAgent || undefined),
    protocol: wmlogProtocol(s.protocol),
    transport: s.transport ?? (s.protocol === 'msb' ? 'UDP' : 'TCP'),
    'sc-bytes': String(Math.max(0, Math.trunc(s.bytesSent))),
    's-pkts-sent': String(Math.max(0, Math.trunc(s.packetsSent))),
    's-session-id': String(s.clientId),
    's-content-path': set('s-content-path', s.point || undefined),
    'cs-url': set('cs-url', s.url),
  };
  return {
    receivedAt: now,
    source: 'server',
    kind: 'session',
    protocol: s.protocol,
    encoding: 'server',
    remoteAddress: s.remoteAddress,
    url: s.url,
    point: s.point,
    clientId: String(s.clientId),
    fields,
  };
}

/** JSON form for the status API and the device agent. */
export function entryToJson(e: LogEntry): Record<string, unknown> {
  return {
    id: e.id,
    receivedAt: new Date(e.receivedAt).toISOString(),
    source: e.source,
    kind: e.kind,
    protocol: e.protocol,
    encoding: e.encoding,
    remoteAddress: e.remoteAddress,
    url: e.url,
    point: e.point,
    clientId: e.clientId,
    fields: e.fields,
    ...(e.extra ? { extra: e.extra } : {}),
  };
}
