/** Process helpers the MMS end-to-end tests share: run a command, run `mss play`, list a file's packets. */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(root, 'src/cli/main.ts');

export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface PlayRun {
  code: number | null;
  events: Array<Record<string, unknown>>;
  stderr: string;
}

/** `mss play <args>` as a process; its JSON progress events parsed */
export function play(args: string[], timeoutMs = 150_000): Promise<PlayRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, events: stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) });
    });
  });
}

/** ffprobe's packet list (stream, pts, size, flags): two files with the same list hold the same media */
export async function packetList(file: string): Promise<string[]> {
  const p = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,size,flags', '-of', 'csv=p=0', file]);
  return p.stdout.trim().split('\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
