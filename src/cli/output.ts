/**
 * How `mss serve` (and `mss encode`) talk to a person: on a terminal, a short summary once started (URLs of every
 * point, ports, data dir) and then one short line per event; JSON lines when stderr is not a terminal (systemd,
 * pipes, tests) or with --json. The summary replaces the start-up info lines; warnings are shown at once.
 */
import { networkInterfaces } from 'node:os';
import type { MssConfig } from '../config/index.js';
import { redactUrl } from '../config/redact.js';
import { setLogSinks, type LogFields, type LogLevel } from '../core/log.js';

const MAX_LINE = 400;
const HIDDEN = new Set(['ts', 'level', 'component', 'event']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]{1,200}$/.test(v) ? v : JSON.stringify(v.length > 200 ? v.slice(0, 200) + '…' : v);
  return JSON.stringify(v) ?? String(v);
}

/** `12:34:56 warn  http.rejected remote=10.0.0.9 status=404 reason="nothing is served at /x"` */
export function humanLine(record: LogFields): string {
  const ts = typeof record.ts === 'string' ? record.ts.slice(11, 19) : '';
  const level = String(record.level ?? 'info');
  const fields = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  const line = `${ts} ${level.padEnd(5)} ${String(record.event ?? '')}${fields ? ' ' + fields : ''}`;
  return line.length > MAX_LINE ? line.slice(0, MAX_LINE - 1) + '…' : line;
}

export interface HumanOutput {
  /** the summary is out: info lines are shown from now on */
  started(): void;
}

/** Replaces the log sinks with one-line human output on `out`; info lines wait until started() (the summary says it). */
export function useHumanLogs(out: NodeJS.WritableStream): HumanOutput {
  let started = false;
  setLogSinks([
    (_line, level: LogLevel, _event, record) => {
      if (!started && (level === 'info' || level === 'debug')) return;
      out.write(humanLine(record) + '\n');
    },
  ]);
  return { started: () => void (started = true) };
}

/** The address people should use for a listener bound to `host` (a wildcard: this machine's first LAN address). */
export function reachableHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host.includes(':') ? `[${host}]` : host;
  const lan = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  return lan?.address ?? '127.0.0.1';
}

function describeSource(p: MssConfig['server']['publishingPoints'][number], base: string): string {
  if (p.type === 'ondemand') return `files in ${p.path}`;
  const s = p.source;
  if (s.type === 'file') return `${s.path}${s.loop ? ' (looped)' : ''}`;
  if (s.type === 'playlist') return `playlist ${s.path}`;
  if (s.type === 'pull') return `pulled from ${redactUrl(s.url)}`;
  return `waiting for a push: mss encode --push ${base}/${p.name}`;
}

/** The few lines a person needs after `mss serve` started. */
export function serveSummary(opts: { version: string; config: MssConfig; configSource: string; port: number; modules: string[]; pullPort?: number }): string {
  const c = opts.config;
  const host = reachableHost(c.http.host);
  const base = `http://${host}:${opts.port}`;
  const points = c.server.publishingPoints;
  const width = Math.max(4, ...points.map((p) => p.name.length));
  const lines = [
    `mss ${opts.version} serving on ${base} (listening on ${c.http.host}:${opts.port}; config: ${opts.configSource})`,
    ...(points.length === 0 ? ['  no publishing points yet'] : points.map((p) => {
      const url = p.type === 'ondemand' ? `mmsh://${host}:${opts.port}/${p.name}/<file>` : `mmsh://${host}:${opts.port}/${p.name}`;
      return `  ${p.name.padEnd(width)}  ${(p.type === 'ondemand' ? 'on demand' : 'broadcast').padEnd(9)}  ${url}  ${describeSource(p, base)}`;
    })),
    ...(opts.pullPort ? [`  encoder stream for pull: mmsh://${host}:${opts.pullPort}/${c.encoder.point || 'live'}`] : []),
    `  status: ${base}/api/status${c.api.allowRemote ? '' : ' (this machine only)'}${c.api.auth.scheme !== 'none' ? ` (${c.api.auth.scheme} auth)` : ''}   logs: ${base}/api/logs`,
    `  data: ${c.dataDir}   device agent: ${c.mqtt.url ? redactUrl(c.mqtt.url) : 'off (no mqtt.url)'}${c.encoder.enabled ? `   encoder: ${c.encoder.source} (${c.encoder.profile})` : ''}`,
    '  Ctrl-C stops. Events follow, one per line (--json for JSON lines).',
  ];
  return lines.join('\n') + '\n';
}
