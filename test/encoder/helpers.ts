/**
 * Test peers for the encoder: `mss encode` as a child process (JSON log lines collected, always stopped in
 * teardown), ffprobe on an mmsh:// URL, and the ffmpeg children of a process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerLogSource } from '../helpers/test-logs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');

export interface LogLine {
  event?: string;
  [k: string]: unknown;
}

export interface RunningEncode {
  child: ChildProcess;
  logs: LogLine[];
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<number | null>;
  stderr(): string;
}

export function startEncode(args: string[]): RunningEncode {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'encode', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MSS_LOG_LEVEL: 'info' } });
  const logs: LogLine[] = [];
  let text = '';
  let partial = '';
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  registerLogSource(`mss encode (pid ${child.pid})`, (max) => text.trimEnd().split('\n').slice(-max));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (text.length < 2_000_000) text += s;
    partial += s;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const l = JSON.parse(line) as LogLine;
        logs.push(l);
        for (const w of [...waiters]) if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      } catch {
        // not JSON
      }
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return {
    child,
    logs,
    stderr: () => text,
    waitForLog(pred, timeoutMs = 30_000) {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l: LogLine) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`mss encode: no matching log within ${timeoutMs} ms; stderr:\n${text.slice(-3000)}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const k = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(k);
      return code;
    },
  };
}

export interface ProbeResult {
  streams: Array<{ codec_type: string; codec_name: string; nb_read_frames?: string }>;
}

/** ffprobe reading `seconds` of a stream and counting decoded frames. */
export function probe(url: string, seconds = 3, timeoutMs = 60_000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-hide_banner', '-v', 'error', '-show_entries', 'stream=codec_type,codec_name,nb_read_frames', '-count_frames', '-read_intervals', `%+${seconds}`, '-of', 'json', url],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffprobe ${url} failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout) as ProbeResult);
        } catch (e) {
          reject(e);
        }
      },
    );
  });
}

/** Pids of ffmpeg processes whose parent is `ppid`. */
export function ffmpegChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
      if (m && m[1] === 'ffmpeg' && Number(m[2]) === ppid) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export function frames(r: ProbeResult, type: 'video' | 'audio'): number {
  return r.streams.filter((s) => s.codec_type === type).reduce((n, s) => n + Number(s.nb_read_frames ?? 0), 0);
}
