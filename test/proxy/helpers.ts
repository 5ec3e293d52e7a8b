/**
 * Peers for the proxy tests: origin and proxy `mss serve` processes (see test/helpers/serve.ts), their status
 * API, ffprobe/ffmpeg runs (optionally through the proxy as an HTTP proxy), a free port for an origin that must
 * come back on the same address, and hostile origins (one that answers garbage, one that never answers).
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface ProbeResult {
  code: number;
  stderr: string;
  streams: Array<{ codec_type: string; codec_name: string }>;
  duration: number;
  /** frames read, by codec type (with -count_frames) */
  frames: Record<string, number>;
}

/** ffprobe of a URL (streams, duration, frame counts); `proxy` sets http_proxy (ffmpeg then sends absolute URIs) */
export async function probe(url: string, opts: { proxy?: string; countFrames?: boolean; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const args = ['-v', 'error', '-of', 'json', '-show_streams', '-show_format'];
  if (opts.countFrames) args.push('-count_frames');
  const env: Record<string, string> = opts.proxy ? { http_proxy: opts.proxy, no_proxy: '' } : { http_proxy: '', no_proxy: '*' };
  const r = await run('ffprobe', [...args, url], { timeoutMs: opts.timeoutMs ?? 90_000, env });
  let doc: { streams?: Array<Record<string, string>>; format?: { duration?: string } } = {};
  try {
    doc = JSON.parse(r.stdout || '{}');
  } catch {
    doc = {};
  }
  const streams = (doc.streams ?? []).map((s) => ({ codec_type: s.codec_type!, codec_name: s.codec_name! }));
  const frames: Record<string, number> = {};
  for (const s of doc.streams ?? []) if (s.nb_read_frames) frames[s.codec_type!] = (frames[s.codec_type!] ?? 0) + Number(s.nb_read_frames);
  return { code: r.code, stderr: r.stderr, streams, duration: Number(doc.format?.duration ?? NaN), frames };
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface PointStatus {
  name: string;
  players: number;
  sessions: number;
  bytesSent: number;
  proxy?: { hits: number; misses: number; staleHits: number; passThrough: number; originChecks: number; errors: number; bytesFromOrigin: number };
  live?: Array<{ url: string; players: number; upstream?: { state: string; connects: number; reconnects: number; bytes: number } }>;
  upstream?: { state: string; connects: number; reconnects: number; bytes: number };
}

export async function pointStatus(base: string, name: string): Promise<PointStatus> {
  const s = await getJson<{ points: PointStatus[] }>(`${base}/api/status`);
  const p = s.points.find((x) => x.name === name);
  if (!p) throw new Error(`no point ${name} in ${base}/api/status`);
  return p;
}

export interface CacheListing {
  entries: Array<{ url: string; file: string; state: string; bytes: number; packets: number; of: number; hits: number; filling: boolean }>;
  bytes: number;
  maxBytes: number;
  fills: number;
  evictions: number;
  verifyFailures: number;
}

export function cacheListing(base: string): Promise<CacheListing> {
  return getJson<CacheListing>(`${base}/api/proxy/cache`);
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** a TCP port free right now on 127.0.0.1 (for an origin that is restarted on the same address) */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A hostile origin: `garbage` answers every request with a 200 and bytes that are no WMSP; `stall` never answers. */
export async function hostileOrigin(kind: 'garbage' | 'stall'): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    if (kind === 'stall') return; // reads the request, says nothing
    sock.once('data', () => {
      const body = Buffer.alloc(4096, 0x5a);
      body.write('$H\u00ff\u00ffnot an ASF header at all', 0, 'latin1');
      sock.end(Buffer.concat([Buffer.from(`HTTP/1.0 200 OK\r\nContent-Type: application/x-mms-framed\r\nPragma: client-id=1, features="seekable"\r\n\r\n`, 'latin1'), body]));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

export interface FetchedStream {
  headerBytes: Buffer;
  packets: Buffer[];
  locationIds: number[];
  end: 'end' | string;
}

/** the whole stream through mss's own WMSP client, asking for it fast (AccelBW), as packets to compare */
export function fetchAll(url: string, opts: { startMs?: number; timeoutMs?: number } = {}): Promise<FetchedStream> {
  return new Promise((resolve) => {
    const s = openWmspStream(url, { accel: { bandwidth: 200_000_000, durationMs: 3_600_000 }, startMs: opts.startMs, timeoutMs: opts.timeoutMs ?? 30_000 });
    const out: FetchedStream = { headerBytes: Buffer.alloc(0), packets: [], locationIds: [], end: '' };
    s.on('header', (h) => (out.headerBytes = h));
    s.on('packet', (p, info) => {
      out.packets.push(p);
      out.locationIds.push(info.locationId);
    });
    s.on('end', () => {
      out.end = 'end';
      s.close();
      resolve(out);
    });
    s.on('error', (e) => {
      out.end = e.message;
      s.close();
      resolve(out);
    });
  });
}
