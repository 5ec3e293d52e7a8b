/**
 * The DRM packager hook: files dropped into an on-demand point's `incoming/` (or uploaded through the API, which
 * stores them there) are handed to a configured external program that packages them (mss encrypts nothing), and
 * published into the point's directory only when it succeeded and its output is a readable ASF file. A file is
 * taken once its size stayed the same for one scan; files are packaged one at a time. The program's exit status
 * and output are logged; a failed file moves to `incoming/failed/` with a `.log` beside it. Without a command,
 * files are published after the ASF check alone.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openAsfFile } from '../asf/index.js';
import type { AppContext } from '../app/context.js';
import type { OnDemandPointConfig } from '../config/index.js';
import { toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import { INCOMING_DIR, UPLOAD_NAME } from '../api/upload.js';
import { runCommand, type CommandResult } from './run-command.js';

const WORK_DIR = '.work';
const FAILED_DIR = 'failed';
/** most files looked at per folder and scan (the rest wait for the next scan) */
const MAX_FILES_PER_SCAN = 100;

type EventListener = (type: string, data: Record<string, unknown>) => void;

export class PackagerModule implements AppModule {
  readonly name = 'packager';
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  /** path → size seen at the last scan */
  private readonly seen = new Map<string, number>();
  private busy = false;
  private readonly listeners = new Set<EventListener>();
  readonly counters = { published: 0, failed: 0, scans: 0 };
  private current: string | null = null;

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('packager');
  }

  /** file-published and packaging-failed events (hooks, the device agent) */
  onEvent(cb: EventListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.scan(), this.ctx.config.packager.scanIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  health(): ModuleHealth {
    return { ok: true, state: this.timer ? 'running' : 'stopped', detail: { ...this.counters, packaging: this.current, command: this.ctx.config.packager.command || null } };
  }

  telemetry(): Record<string, unknown> {
    return { ...this.counters };
  }

  private points(): OnDemandPointConfig[] {
    const only = this.ctx.config.packager.points;
    return this.ctx.config.server.publishingPoints.filter((p): p is OnDemandPointConfig => p.type === 'ondemand' && (only.length === 0 || only.includes(p.name)));
  }

  /** one pass over every watched incoming/ folder; a pass still running makes the next one wait */
  async scan(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.counters.scans++;
      const present = new Set<string>();
      for (const point of this.points()) {
        const dir = path.join(point.path, INCOMING_DIR);
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const name of names.filter((n) => UPLOAD_NAME.test(n)).slice(0, MAX_FILES_PER_SCAN)) {
          const file = path.join(dir, name);
          const st = await stat(file).catch(() => null);
          if (!st?.isFile()) continue;
          present.add(file);
          // taken once its size held for a whole interval (a copy in progress grows)
          if (this.seen.get(file) !== st.size) {
            this.seen.set(file, st.size);
            continue;
          }
          this.seen.delete(file);
          present.delete(file);
          await this.process(point, name);
        }
      }
      for (const f of [...this.seen.keys()]) if (!present.has(f)) this.seen.delete(f);
    } catch (err) {
      this.log.error('packager.scan-failed', { error: toMssError(err) });
    } finally {
      this.busy = false;
    }
  }

  private emit(type: string, data: Record<string, unknown>): void {
    for (const l of this.listeners) {
      try {
        l(type, data);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private async process(point: OnDemandPointConfig, name: string): Promise<void> {
    const cfg = this.ctx.config.packager;
    const incoming = path.join(point.path, INCOMING_DIR);
    const input = path.join(incoming, name);
    const work = path.join(incoming, WORK_DIR);
    await mkdir(work, { recursive: true });
    const output = path.join(work, `${randomBytes(6).toString('hex')}-${name}`);
    this.current = `${point.name}/${name}`;
    let result: CommandResult | null = null;
    let reason = '';
    try {
      let candidate = input;
      if (cfg.command) {
        const fill = (a: string) => a.replaceAll('{input}', input).replaceAll('{output}', output).replaceAll('{point}', point.name).replaceAll('{name}', name);
        result = await runCommand({ command: cfg.command, args: cfg.args.map(fill), env: { MSS_INPUT: input, MSS_OUTPUT: output, MSS_POINT: point.name, MSS_NAME: name }, timeoutMs: cfg.timeoutMs, cwd: work });
        if (!result.ok) reason = result.timedOut ? `timed out after ${cfg.timeoutMs} ms` : result.error ? `could not run: ${result.error}` : `exited with ${result.code ?? result.signal}`;
        else if (!(await stat(output).catch(() => null))?.isFile()) reason = 'exited 0 but wrote no output file';
        candidate = output;
      }
      if (!reason) reason = await asfProblem(candidate);
      if (reason) {
        await this.reject(point, name, reason, result);
        return;
      }
      await rename(candidate, path.join(point.path, name));
      if (candidate !== input) await rm(input, { force: true });
      this.counters.published++;
      this.log.info('packager.published', { point: point.name, file: name, packaged: Boolean(cfg.command), code: result?.code, durationMs: result?.durationMs, stdout: result?.stdout.slice(-1000) || undefined, stderr: result?.stderr.slice(-1000) || undefined });
      this.emit('file-published', { point: point.name, file: name, packaged: Boolean(cfg.command) });
    } catch (err) {
      await this.reject(point, name, toMssError(err).message, result);
    } finally {
      await rm(output, { force: true });
      this.current = null;
    }
  }

  private async reject(point: OnDemandPointConfig, name: string, reason: string, result: CommandResult | null): Promise<void> {
    this.counters.failed++;
    const failed = path.join(point.path, INCOMING_DIR, FAILED_DIR);
    try {
      await mkdir(failed, { recursive: true });
      await rename(path.join(point.path, INCOMING_DIR, name), path.join(failed, name));
      const report = [`file: ${name}`, `reason: ${reason}`, `exit code: ${result?.code ?? '-'}`, `signal: ${result?.signal ?? '-'}`, '--- stdout', result?.stdout ?? '', '--- stderr', result?.stderr ?? ''].join('\n');
      await writeFile(path.join(failed, `${name}.log`), report + '\n');
    } catch (err) {
      this.log.error('packager.move-failed', { point: point.name, file: name, error: toMssError(err) });
    }
    this.log.warn('packager.failed', { point: point.name, file: name, reason, code: result?.code, signal: result?.signal, stdout: result?.stdout.slice(-1000) || undefined, stderr: result?.stderr.slice(-2000) || undefined });
    this.emit('packaging-failed', { point: point.name, file: name, reason });
  }
}

/** '' when the file is a readable ASF file, else why not */
async function asfProblem(file: string): Promise<string> {
  try {
    const f = await openAsfFile(file);
    const packets = f.layout.packetCount;
    await f.close();
    return packets > 0 ? '' : 'the ASF file has no data packets';
  } catch (err) {
    return `not a playable ASF file: ${toMssError(err).message}`;
  }
}
