/**
 * Process and port helpers of the benchmarks: run a command, CPU seconds and RSS of a process from /proc, a free
 * port, waiting for a listener, stopping a child, and `mss serve` as deployed (compiled JS into .bench/dist, so the
 * repo's dist/ is left alone).
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const benchDir = path.join(root, '.bench');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** the p-th percentile of an ascending array (0 when empty) */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout: String(stdout), stderr: String(stderr), ms: performance.now() - t0 });
    });
  });
}

export function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** utime and stime of a process in seconds */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "pid (comm) ": field 3 is state (index 0) → utime is field 14 (index 11), stime 15 (index 12)
  return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
}

/** CPU seconds per thread name (main thread, V8 GC workers, libuv pool...), summed over threads of the same name */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = tid === String(pid) ? 'main' : comm;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
    } catch {
      // thread ended meanwhile
    }
  }
  return out;
}

export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/**
 * /proc/<pid>/io: rchar counts every byte read() or pread() returned (files and sockets), read_bytes what the
 * process made the block layer fetch (page-cache misses)
 */
export function ioCounters(pid: number): { rchar: number; readBytes: number } {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rchar: field('rchar'), readBytes: field('read_bytes') };
}

export function statusKb(pid: number, key: 'VmHWM' | 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`not listening on ${port} within ${timeoutMs} ms`);
}

/** waitForPort, and when the child exits or times out first: stops it and throws with the tail of its log */
export async function waitForListener(what: string, port: number, child: ChildProcess, logFile: string, timeoutMs = 30_000): Promise<void> {
  try {
    await waitForPort(port, child, timeoutMs);
  } catch (err) {
    await stopChild(child);
    throw new Error(`${what} ${(err as Error).message}; log:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

export interface MssEntry {
  cmd: string;
  args: string[];
  how: string;
}

let compiled: MssEntry | undefined;

/** `mss serve` as deployed: the working tree compiled once into .bench/dist (or a given main.js) */
export async function prepareMss(entryOverride?: string): Promise<MssEntry> {
  if (compiled) return compiled;
  if (entryOverride) {
    compiled = { cmd: process.execPath, args: [entryOverride, 'serve'], how: `node ${entryOverride}` };
    return compiled;
  }
  const outDir = path.join(benchDir, 'dist');
  const r = await run('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', outDir], { timeoutMs: 300_000 });
  const main = path.join(outDir, 'src/cli/main.js');
  if (existsSync(main)) {
    if (r.code !== 0) process.stderr.write(`note: tsc reported type errors (emitted anyway):\n${r.stdout.split('\n').slice(0, 10).join('\n')}\n`);
    compiled = { cmd: process.execPath, args: [main, 'serve'], how: 'node .bench/dist (compiled)' };
  } else {
    compiled = { cmd: process.execPath, args: ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve'], how: 'node --import tsx (compile failed)' };
  }
  return compiled;
}
