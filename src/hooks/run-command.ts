/**
 * Runs one external program for mss (an event hook, the DRM packager): no shell, input on stdin, a deadline
 * (SIGTERM to its process group, SIGKILL a moment later), and the tail of its output kept for the log. Never
 * throws: every outcome, a missing program included, is a result.
 */
import { spawn } from 'node:child_process';

export interface CommandRun {
  command: string;
  args: readonly string[];
  env?: Record<string, string>;
  stdin?: string | Buffer;
  timeoutMs: number;
  cwd?: string;
}

export interface CommandResult {
  ok: boolean;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** the program could not be started (ENOENT, EACCES) */
  error?: string;
  durationMs: number;
  /** the last bytes of each stream */
  stdout: string;
  stderr: string;
}

/** output kept per stream for the log */
const TAIL_BYTES = 4096;
const KILL_GRACE_MS = 2000;

class Tail {
  private parts: Buffer[] = [];
  private size = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    while (this.size > TAIL_BYTES && this.parts.length > 1) this.size -= this.parts.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.parts);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('utf8').trimEnd();
  }
}

export function runCommand(run: CommandRun): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const out = new Tail();
    const err = new Tail();
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(run.command, [...run.args], {
      cwd: run.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...run.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // its own process group: a timeout kills what it started too
      detached: true,
    });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    }, run.timeoutMs);
    timer.unref();
    const finish = (r: Omit<CommandResult, 'durationMs' | 'stdout' | 'stderr' | 'timedOut' | 'ok'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer && !timedOut) clearTimeout(killTimer);
      resolve({ ...r, ok: !timedOut && !r.error && r.code === 0, timedOut, durationMs: Math.round(performance.now() - started), stdout: out.text(), stderr: err.text() });
    };
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.once('error', (e) => finish({ code: null, signal: null, error: e.message }));
    child.once('close', (code, signal) => finish({ code, signal }));
    // a program that does not read its input must not fail the run
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(run.stdin ?? '');
  });
}
