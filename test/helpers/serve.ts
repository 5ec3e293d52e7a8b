/**
 * Starts `mss serve` as a child process with a temporary config on an ephemeral port (127.0.0.1 only) and a
 * temporary data directory. Resolves once the HTTP listener logged its port. Always call stop() (e.g. in
 * t.teardown): it sends SIGTERM, waits for the exit (SIGKILL after a grace period) and removes the temp dir.
 *
 *   const srv = await startServe({ server: { publishingPoints: [...] } });
 *   t.teardown(srv.stop);
 *   // srv.url = 'http://127.0.0.1:40123', srv.port, srv.mmsh('/vod/a.wmv') = 'mmsh://127.0.0.1:40123/vod/a.wmv'
 *   // srv.rtspPort, srv.rtsp('/vod/a.wmv') = 'rtsp://127.0.0.1:40125/vod/a.wmv' (RTSP on an ephemeral port too)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerLogSource } from './test-logs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');

/**
 * On-demand points over one directory for the protocol tests: open, a player limit of one, Basic (ann/s3cret),
 * Digest (bob/pw), and an address list no test client is on.
 */
export function onDemandTestPoints(dir: string): object[] {
  return [
    { name: 'vod', type: 'ondemand', path: dir },
    { name: 'one', type: 'ondemand', path: dir, maxPlayers: 1 },
    { name: 'locked', type: 'ondemand', path: dir, auth: { scheme: 'basic', realm: 'mss', users: [{ name: 'ann', password: 's3cret' }] } },
    { name: 'digest', type: 'ondemand', path: dir, auth: { scheme: 'digest', realm: 'mss', users: [{ name: 'bob', password: 'pw' }] } },
    { name: 'nobody', type: 'ondemand', path: dir, access: { allow: ['10.9.9.9'], deny: [] } },
  ];
}

export interface ServeOptions {
  /** merged into the config document (http.host/port and dataDir are set by the helper unless given) */
  config?: Record<string, unknown>;
  /** extra environment (MSS_* overrides) */
  env?: Record<string, string>;
  /** how long to wait for the listener (default 30 s) */
  startTimeoutMs?: number;
  /** use the embedded defaults instead of a config file (no --config; port via MSS_HTTP_PORT) */
  embeddedDefaults?: boolean;
}

export interface ServeLogLine {
  level?: string;
  component?: string;
  event?: string;
  [k: string]: unknown;
}

export interface RunningServe {
  url: string;
  port: number;
  /** mmsh:// URL of a path on this server */
  mmsh(pathname: string): string;
  /** http:// URL of a path on this server */
  http(pathname: string): string;
  /** the MMS listener's port (waits for it to listen; MMS is on unless the config turns it off) */
  mmsPort(): Promise<number>;
  /** mmst:// (or mmsu://, mms://) URL of a path on this server's MMS port */
  mms(pathname: string, scheme?: 'mmst' | 'mmsu' | 'mms'): Promise<string>;
  /** the RTSP listener's port (0 when RTSP is disabled) */
  rtspPort: number;
  /** rtsp:// URL of a path on this server */
  rtsp(pathname: string): string;
  dataDir: string;
  configFile: string | null;
  child: ChildProcess;
  /** every JSON log line written so far (stderr) */
  logs: ServeLogLine[];
  /** raw stderr text so far (non-JSON lines included) */
  stderr(): string;
  /** resolves with the first log line (already written or future) matching `pred` */
  waitForLog(pred: (l: ServeLogLine) => boolean, timeoutMs?: number): Promise<ServeLogLine>;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove temp files; resolves with the exit code */
  stop(): Promise<number | null>;
}

function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startServe(opts: ServeOptions = {}): Promise<RunningServe> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-serve-'));
  const dataDir = path.join(dir, 'var');
  const args = ['--import', 'tsx', MAIN, 'serve'];
  let configFile: string | null = null;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), MSS_LOG_LEVEL: 'info', ...opts.env };
  if (opts.embeddedDefaults) {
    env.MSS_HTTP_PORT ??= '0';
    env.MSS_HTTP_HOST ??= '127.0.0.1';
    env.MSS_MMSP_PORT ??= '0';
    env.MSS_MMSP_HOST ??= '127.0.0.1';
    env.MSS_DATA_DIR ??= dataDir;
    env.MSS_RTSP_PORT ??= '0';
    env.MSS_RTSP_HOST ??= '127.0.0.1';
  } else {
    // every listener on loopback and a free port (parallel test servers never collide on 8080, 1755 or 8554)
    const doc = merge({ dataDir, http: { host: '127.0.0.1', port: 0 }, mmsp: { host: '127.0.0.1', port: 0 }, rtsp: { host: '127.0.0.1', port: 0 } }, opts.config ?? {});
    configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(doc, null, 2));
    args.push('--config', configFile);
  }
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: ServeLogLine[] = [];
  let stderrText = '';
  const waiters: Array<{ pred: (l: ServeLogLine) => boolean; resolve: (l: ServeLogLine) => void }> = [];
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (stderrText.length < 4 * 1024 * 1024) stderrText += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      let parsed: ServeLogLine;
      try {
        parsed = JSON.parse(line) as ServeLogLine;
      } catch {
        continue;
      }
      if (logs.length < 100_000) logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.pred(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stdout!.resume();
  // a failing test shows the end of what this process logged (test/helpers/test.ts)
  registerLogSource(`mss serve (pid ${child.pid})`, (max) => stderrText.trimEnd().split('\n').slice(-max));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (pred: (l: ServeLogLine) => boolean, timeoutMs = 30_000): Promise<ServeLogLine> => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const entry = {
        pred,
        resolve: (l: ServeLogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(entry), 1);
        reject(new Error(`mss serve: no matching log line within ${timeoutMs} ms; stderr:\n${stderrText.slice(-4000)}`));
      }, timeoutMs);
      waiters.push(entry);
    });
  };

  let stopped: Promise<number | null> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(killer);
        await rm(dir, { recursive: true, force: true });
        return code;
      }
      await rm(dir, { recursive: true, force: true });
      return child.exitCode;
    })();
    return stopped;
  };

  const listening = await Promise.race([
    // the main listener (an encoder's pull listener logs the same event under another component)
    waitForLog((l) => l.event === 'http.listening' && (l.component === undefined || l.component === 'mss.http'), opts.startTimeoutMs ?? 30_000),
    exited.then((code) => {
      throw new Error(`mss serve exited with code ${code} before listening; stderr:\n${stderrText.slice(-4000)}`);
    }),
  ]).catch(async (err) => {
    await stop();
    throw err;
  });
  const port = Number(listening.port);
  const url = `http://127.0.0.1:${port}`;
  const mmsPort = async () => Number((await waitForLog((l) => l.event === 'mmsp.started')).port);
  // RTSP starts after the HTTP listener (its module comes later in the list); absent when disabled
  const rtspEnabled = (opts.config?.rtsp as { enabled?: boolean } | undefined)?.enabled !== false && opts.env?.MSS_RTSP_ENABLED !== 'false';
  const rtspLine = rtspEnabled
    ? await waitForLog((l) => l.event === 'rtsp.listening', opts.startTimeoutMs ?? 30_000).catch(async (err) => {
        await stop();
        throw err;
      })
    : undefined;
  const rtspPort = rtspLine ? Number(rtspLine.port) : 0;
  return {
    url,
    port,
    mmsh: (p) => `mmsh://127.0.0.1:${port}${p.startsWith('/') ? p : '/' + p}`,
    http: (p) => `${url}${p.startsWith('/') ? p : '/' + p}`,
    mmsPort,
    mms: async (p, scheme = 'mmst') => `${scheme}://127.0.0.1:${await mmsPort()}${p.startsWith('/') ? p : '/' + p}`,
    rtspPort,
    rtsp: (p) => `rtsp://127.0.0.1:${rtspPort}${p.startsWith('/') ? p : '/' + p}`,
    dataDir,
    configFile,
    child,
    logs,
    stderr: () => stderrText,
    waitForLog,
    stop,
  };
}
