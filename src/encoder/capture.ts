/**
 * Runs ffmpeg as a supervised child and turns its stdout (live ASF) into header + packet events.
 *
 * - ffmpeg runs in its own process group; stop() signals the whole group (SIGTERM, SIGKILL after a grace period)
 *   and a process 'exit' hook kills any group still alive, so no ffmpeg outlives us. If we are killed outright,
 *   ffmpeg's next write to the closed pipe fails and it exits on its own.
 * - A crash, a stall (no output for stallTimeoutMs) or unparsable output restarts ffmpeg with exponential
 *   backoff. Each restart is an event ('encoder-restart'; 'capture-lost' when the capture device is gone).
 * - Send and presentation times are shifted after a restart so the timeline keeps going forward; a new header is
 *   announced only when it differs from the previous one (same profile, same bytes: players see only a gap).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { AsfStreamParser, readSendTime, restampPacket, type AsfHeader } from '../asf/index.js';
import { systemReason, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

export type EncoderEventType = 'encoder-started' | 'encoder-exit' | 'encoder-restart' | 'encoder-stalled' | 'capture-lost' | 'capture-missing' | 'encoder-failed' | 'encoder-stopped';

export interface EncoderEvent {
  type: EncoderEventType;
  at: number;
  /** ffmpeg run number (1 = first) */
  run: number;
  code?: number | null;
  signal?: string | null;
  /** delay before the next start */
  restartInMs?: number;
  /** the last lines ffmpeg wrote to stderr */
  stderr?: string[];
  message?: string;
  device?: string;
}

export interface CaptureOptions {
  ffmpegPath: string;
  args: string[];
  log: Logger;
  /** capture devices the source reads (their disappearance is 'capture-lost') */
  devices?: string[];
  /** restart delays: initial, doubled up to max (default 500 ms .. 30 s) */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** no stdout for this long (after the first bytes: the same) = stalled (default 15 s) */
  stallTimeoutMs?: number;
  /** grace period between SIGTERM and SIGKILL on stop (default 3 s) */
  killGraceMs?: number;
  /** while a capture device does not exist, look for it this often instead of running ffmpeg (default 10 s) */
  missingDeviceRetryMs?: number;
}

/** Other device nodes like `device` (`/dev/video9` → `/dev/video0`, `/dev/video1`), to say what is there instead. */
export function similarDevices(device: string): string[] {
  const dir = path.dirname(device);
  const base = path.basename(device);
  const prefix = base.replace(/\d+$/, '');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const number = (n: string) => Number(n.slice(prefix.length) || -1);
  return names
    .filter((n) => n !== base && n.startsWith(prefix) && /^\d*$/.test(n.slice(prefix.length)))
    .sort((a, b) => number(a) - number(b))
    .slice(0, 32)
    .map((n) => path.join(dir, n));
}

function missingDeviceMessage(device: string, retryMs: number): string {
  const found = similarDevices(device);
  const kind = path.basename(device).replace(/\d+$/, '') || 'such';
  const there = found.length > 0 ? `found: ${found.join(', ')}` : `no other ${kind} devices found`;
  return `capture device ${device} does not exist (${there}); looking for it again every ${retryMs >= 1000 ? `${Math.round(retryMs / 1000)} s` : `${retryMs} ms`}`;
}

const STDERR_LINES = 20;
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

export interface CaptureSupervisorEvents {
  header: [headerBytes: Buffer, header: AsfHeader];
  packet: [packet: Buffer];
  event: [event: EncoderEvent];
}

export class CaptureSupervisor extends EventEmitter<CaptureSupervisorEvents> {
  private child: ChildProcess | null = null;
  private parser = new AsfStreamParser({ validatePackets: false });
  private runs = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private stderrTail: string[] = [];
  private stderrPartial = '';
  private lastHeader: Buffer | null = null;
  private packetSize = 0;
  /** shift applied to this run's times; computed at its first packet */
  private shiftMs: number | null = null;
  private lastSendTime = -1;
  private runStartedAt = 0;
  private runPackets = 0;
  readonly stats = { packets: 0, bytes: 0, restarts: 0, headers: 0 };
  private exited: Promise<void> = Promise.resolve();
  /** the current run is being replaced (replaceArgs): restart at once, not as a failure */
  private replacing = false;
  /** capture devices seen present at some start (a missing one was lost, not mistyped) */
  private readonly seenDevices = new Set<string>();
  /** a missing device was reported and is being waited for */
  private waitingForDevice = false;

  constructor(private readonly opts: CaptureOptions) {
    super();
    this.backoffMs = opts.backoffInitialMs ?? 500;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get currentHeader(): Buffer | null {
    return this.lastHeader;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child || this.restartTimer) return;
    this.stopping = false;
    installExitHook();
    this.launch();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.clearStall();
    const child = this.child;
    if (child?.pid) {
      killGroup(child.pid, 'SIGTERM');
      const killer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), this.opts.killGraceMs ?? 3000);
      await this.exited;
      clearTimeout(killer);
    }
    this.emitEvent({ type: 'encoder-stopped' });
  }

  /** Kills the current ffmpeg as if it had crashed (tests, and the 'encoder-restart' command). */
  restartNow(): void {
    if (this.child?.pid) killGroup(this.child.pid, 'SIGKILL');
  }

  /**
   * Runs ffmpeg with new arguments (profile or source change): the current run ends at once and the next starts
   * without backoff; its header, when different, is announced as a new header (players see a stream change).
   */
  replaceArgs(args: string[], devices?: string[]): void {
    this.opts.args = args;
    if (devices) this.opts.devices = devices;
    this.replacing = true;
    if (this.child?.pid) killGroup(this.child.pid, 'SIGTERM');
    else if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
      this.launch();
    }
  }

  /**
   * Runs ffmpeg when every capture device exists. A missing one is reported (once: "does not exist" when it was
   * never there, with the devices that are) and looked for every missingDeviceRetryMs, without running ffmpeg.
   */
  private launch(): void {
    const absent = (this.opts.devices ?? []).filter((d) => !existsSync(d));
    if (absent.length === 0) {
      for (const d of this.opts.devices ?? []) this.seenDevices.add(d);
      this.waitingForDevice = false;
      this.spawnOnce();
      return;
    }
    const retryMs = this.opts.missingDeviceRetryMs ?? 10_000;
    if (!this.waitingForDevice) {
      this.waitingForDevice = true;
      const never = absent.find((d) => !this.seenDevices.has(d));
      // a device that was there and went away was reported as lost when ffmpeg exited
      if (never) this.emitEvent({ type: 'capture-missing', device: never, restartInMs: retryMs, message: missingDeviceMessage(never, retryMs) });
    } else {
      this.opts.log.debug('encoder.capture-still-missing', { devices: absent });
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.launch();
    }, retryMs);
  }

  private emitEvent(e: Omit<EncoderEvent, 'at' | 'run'>): void {
    const event: EncoderEvent = { at: Date.now(), run: this.runs, ...e };
    const level = e.type === 'encoder-started' || e.type === 'encoder-stopped' ? 'info' : e.type === 'encoder-failed' ? 'error' : 'warn';
    this.opts.log[level](`encoder.${e.type}`, { ...event, type: undefined });
    this.emit('event', event);
  }

  private spawnOnce(): void {
    this.runs++;
    this.parser = new AsfStreamParser({ validatePackets: false });
    this.stderrTail = [];
    this.stderrPartial = '';
    this.shiftMs = null;
    this.runStartedAt = Date.now();
    this.runPackets = 0;
    let child: ChildProcess;
    try {
      child = spawn(this.opts.ffmpegPath, this.opts.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      this.onExit(null, null, toMssError(err, 'unavailable').message);
      return;
    }
    this.child = child;
    let resolveExited!: () => void;
    this.exited = new Promise((r) => (resolveExited = r));
    if (child.pid) liveGroups.add(child.pid);
    child.stdout!.on('data', (chunk: Buffer) => this.onStdout(child, chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => this.onStderr(s));
    let spawnError: string | undefined;
    child.once('error', (err) => {
      spawnError = `cannot run ${this.opts.ffmpegPath}: ${systemReason(err)}`;
    });
    child.once('close', (code, signal) => {
      if (child.pid) liveGroups.delete(child.pid);
      if (this.child === child) this.child = null;
      resolveExited();
      this.onExit(code, signal, spawnError);
    });
    this.armStall();
    this.emitEvent({ type: 'encoder-started', message: `${this.opts.ffmpegPath} pid ${child.pid ?? '?'}` });
  }

  private onStderr(s: string): void {
    this.stderrPartial += s;
    const lines = this.stderrPartial.split('\n');
    this.stderrPartial = lines.pop()!.slice(-2000);
    for (const l of lines) {
      if (l.trim() === '') continue;
      this.stderrTail.push(l.slice(0, 500));
      if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
    }
  }

  private armStall(): void {
    this.clearStall();
    const ms = this.opts.stallTimeoutMs ?? 15_000;
    this.stallTimer = setTimeout(() => {
      const child = this.child;
      if (!child?.pid) return;
      this.emitEvent({ type: 'encoder-stalled', message: `no output from ffmpeg for ${ms} ms`, stderr: [...this.stderrTail] });
      killGroup(child.pid, 'SIGKILL');
    }, ms);
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private onStdout(child: ChildProcess, chunk: Buffer): void {
    if (child !== this.child) return;
    this.armStall();
    let events;
    try {
      events = this.parser.push(chunk);
    } catch (err) {
      const e = toMssError(err, 'malformed');
      this.opts.log.warn('encoder.bad-output', { error: e });
      if (child.pid) killGroup(child.pid, 'SIGKILL');
      return;
    }
    for (const ev of events) {
      if (ev.type === 'header') this.onHeader(Buffer.from(ev.headerBytes), ev.header);
      else this.onPacket(ev.packet);
    }
  }

  private onHeader(bytes: Buffer, header: AsfHeader): void {
    this.packetSize = header.fileProperties.packetSize;
    if (this.lastHeader && this.lastHeader.equals(bytes)) return;
    this.lastHeader = bytes;
    this.stats.headers++;
    this.emit('header', bytes, header);
  }

  private onPacket(packet: Buffer): void {
    let out = packet;
    try {
      const sendTime = readSendTime(packet);
      if (this.shiftMs === null) {
        // the first run keeps ffmpeg's times; later runs continue 100 ms after the last packet sent
        this.shiftMs = this.lastSendTime < 0 ? 0 : Math.max(0, this.lastSendTime + 100 - sendTime);
      }
      if (this.shiftMs !== 0) out = restampPacket(packet, this.packetSize, this.shiftMs);
      this.lastSendTime = sendTime + this.shiftMs;
    } catch (err) {
      this.opts.log.warn('encoder.bad-packet', { error: toMssError(err) });
      return;
    }
    this.runPackets++;
    this.stats.packets++;
    this.stats.bytes += out.length;
    this.emit('packet', out);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    this.clearStall();
    this.child = null;
    if (this.stopping) return;
    if (this.replacing) {
      this.replacing = false;
      this.emitEvent({ type: 'encoder-restart', message: `ffmpeg restarted with new settings (run ${this.runs + 1})` });
      this.launch();
      return;
    }
    const stderr = [...this.stderrTail];
    const lostDevice = (this.opts.devices ?? []).find((d) => !existsSync(d));
    const deviceError = stderr.some((l) => /No such device|Input\/output error|ENODEV|Cannot open video device|cannot open audio device/i.test(l));
    // a run that produced media for a while resets the backoff
    if (this.runPackets > 0 && Date.now() - this.runStartedAt > 10_000) this.backoffMs = this.opts.backoffInitialMs ?? 500;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.backoffMaxMs ?? 30_000);
    this.stats.restarts++;
    if (spawnError) {
      this.emitEvent({ type: 'encoder-failed', message: spawnError, restartInMs: delay });
    } else if (lostDevice || deviceError) {
      this.emitEvent({ type: 'capture-lost', device: lostDevice, code, signal, stderr, restartInMs: delay, message: lostDevice ? `capture device ${lostDevice} is gone` : 'ffmpeg reported a capture device error' });
    } else {
      this.emitEvent({ type: 'encoder-exit', code, signal, stderr, restartInMs: delay, message: `ffmpeg exited (code ${code}, signal ${signal})` });
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.emitEvent({ type: 'encoder-restart', message: `restarting ffmpeg (run ${this.runs + 1})` });
      this.launch();
    }, delay);
  }
}

