/**
 * Load processes as an orchestrator sees them (the other side of ./load-child.ts): each is `node --import tsx
 * <script> '<json options>'` printing JSON lines. Every process ramps and settles its share and says "ready";
 * when all have, onGo runs (sample the server there) and every window starts at once on `go`; when the last
 * window ended, onWindowEnd runs; each process's "result" line is collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { root } from './proc.js';

export interface LoadLine {
  event: string;
  message?: string;
}

export interface LoadProcess {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * one load process; its stdout lines go to onLine as parsed JSON (other lines are ignored). Its stdin carries `go`:
 * a caller that runs it alone ends stdin at once, and its window starts as soon as its players settled.
 */
export function spawnLoadProcess(script: string, opts: object, onLine: (msg: LoadLine) => void): LoadProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(opts)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        onLine(JSON.parse(line) as LoadLine);
      } catch {
        /* not a JSON line */
      }
    }
  });
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

export interface WindowHooks {
  /** every process is ready, before the windows start: work under the full load that the windows must not count */
  beforeGo?(): Promise<void>;
  /** the windows start: sample the server (synchronously: the windows start right after) */
  onGo(procs: readonly LoadProcess[]): void;
  /** the last window ended */
  onWindowEnd(procs: readonly LoadProcess[]): void;
  /** any other line (progress) */
  onLine?(msg: LoadLine): void;
}

/** runs one load process per options object, their windows together; resolves with their results */
export async function runLoadProcesses<R>(script: string, perProcess: readonly object[], hooks: WindowHooks): Promise<R[]> {
  const procs: LoadProcess[] = [];
  const results: R[] = [];
  let failure: Error | undefined;
  let ready = 0;
  let ended = 0;
  for (const opts of perProcess) {
    procs.push(
      spawnLoadProcess(script, opts, (msg) => {
        if (msg.event === 'ready' && ++ready === perProcess.length) {
          void (hooks.beforeGo?.() ?? Promise.resolve()).then(() => {
            hooks.onGo(procs);
            for (const p of procs) p.child.stdin!.end('go\n');
          });
        } else if (msg.event === 'window-end' && ++ended === perProcess.length) hooks.onWindowEnd(procs);
        else if (msg.event === 'result') results.push(msg as unknown as R);
        else if (msg.event === 'error') failure ??= new Error(`load process: ${msg.message}`);
        else hooks.onLine?.(msg);
      }),
    );
  }
  await Promise.all(procs.map((p) => p.exited));
  if (failure) throw failure;
  if (results.length !== perProcess.length) throw new Error(`${perProcess.length - results.length} of ${perProcess.length} load processes ended without a result`);
  return results;
}
