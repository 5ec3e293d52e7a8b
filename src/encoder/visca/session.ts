/**
 * A VISCA camera on a serial line: one request in flight at a time, a bounded queue behind it, a timeout per
 * step (ACK, completion, inquiry reply). A silent camera gives MssError 'timeout', garbage gives 'malformed',
 * a camera error reply gives 'unavailable'. Nothing here throws out of an event handler: the encoder keeps
 * running whatever the camera does.
 */
import type { SerialPort } from 'serialport';
import { MssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import {
  buildCommand,
  buildInquiry,
  decodeFocusMode,
  decodePowerInquiry,
  decodeZoomPosition,
  ViscaReplySplitter,
  type ViscaCommand,
  type ViscaInquiry,
  type ViscaReply,
} from './codec.js';

export interface ViscaCameraOptions {
  /** serial device, e.g. /dev/ttyUSB0 */
  port: string;
  baudRate: number;
  /** camera address 1..7 */
  address: number;
  /** time allowed for the ACK (commands) or the reply (inquiries) */
  timeoutMs: number;
  /** time allowed between ACK and completion (a zoom or power-on can take seconds); default 10 × timeoutMs */
  completionTimeoutMs?: number;
  /** requests waiting behind the one in flight (default 16) */
  maxQueue?: number;
  log: Logger;
}

interface Job {
  what: string;
  bytes: Buffer;
  inquiry: boolean;
  acked: boolean;
  resolve(data: Buffer): void;
  reject(err: MssError): void;
  timer?: NodeJS.Timeout;
}

export class ViscaCamera {
  private port: SerialPort | null = null;
  private readonly splitter = new ViscaReplySplitter();
  private readonly queue: Job[] = [];
  private inFlight: Job | null = null;
  private readonly maxQueue: number;
  private readonly completionTimeoutMs: number;
  private stats = { commands: 0, timeouts: 0, protocolErrors: 0, cameraErrors: 0 };

  constructor(private readonly opts: ViscaCameraOptions) {
    this.maxQueue = opts.maxQueue ?? 16;
    this.completionTimeoutMs = opts.completionTimeoutMs ?? opts.timeoutMs * 10;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  counters(): Record<string, number> {
    return { ...this.stats, queued: this.queue.length + (this.inFlight ? 1 : 0) };
  }

  async open(): Promise<void> {
    if (this.port) return;
    // loaded only when a camera is configured: the serial bindings cost ~17 MB of RSS
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path: this.opts.port, baudRate: this.opts.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(new MssError('unavailable', `cannot open camera serial port ${this.opts.port}: ${err.message}`, { port: this.opts.port })) : resolve())),
    );
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err: Error) => this.opts.log.warn('camera.serial-error', { port: this.opts.port, error: err }));
    port.on('close', () => {
      if (this.port === port) {
        this.port = null;
        this.failAll(new MssError('unavailable', `camera serial port ${this.opts.port} closed`, { port: this.opts.port }));
      }
    });
    this.port = port;
    this.splitter.reset();
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    this.failAll(new MssError('unavailable', `camera serial port ${this.opts.port} closed`, { port: this.opts.port }));
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Sends a command; resolves on its completion. */
  async command(cmd: ViscaCommand): Promise<void> {
    const bytes = buildCommand(this.opts.address, cmd);
    await this.enqueue(`command ${cmd.kind}`, bytes, false);
  }

  /** Sends an inquiry; resolves with the reply's data bytes. */
  inquire(inquiry: ViscaInquiry): Promise<Buffer> {
    return this.enqueue(`inquiry ${inquiry}`, buildInquiry(this.opts.address, inquiry), true);
  }

  async inquirePower(): Promise<'on' | 'off' | 'fault'> {
    return decodePowerInquiry(await this.inquire('power'));
  }

  async inquireZoomPosition(): Promise<number> {
    return decodeZoomPosition(await this.inquire('zoom-position'));
  }

  async inquireFocusMode(): Promise<'auto' | 'manual'> {
    return decodeFocusMode(await this.inquire('focus-mode'));
  }

  private enqueue(what: string, bytes: Buffer, inquiry: boolean): Promise<Buffer> {
    if (!this.port) return Promise.reject(new MssError('unavailable', `camera serial port ${this.opts.port} is not open`, { port: this.opts.port }));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new MssError('limit-reached', `camera ${what}: ${this.queue.length} requests already waiting (limit ${this.maxQueue})`));
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ what, bytes, inquiry, acked: false, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    const port = this.port;
    if (!port) {
      job.reject(new MssError('unavailable', `camera serial port ${this.opts.port} is not open`));
      return this.pump();
    }
    this.inFlight = job;
    this.stats.commands++;
    // a partial message left over from earlier noise is stale once a new request goes out
    this.splitter.reset();
    this.arm(job, this.opts.timeoutMs, job.inquiry ? 'reply' : 'ACK');
    port.write(job.bytes, (err) => {
      if (err && this.inFlight === job) this.finish(job, new MssError('unavailable', `camera ${job.what}: serial write failed: ${err.message}`));
    });
  }

  private arm(job: Job, ms: number, waitingFor: string): void {
    if (job.timer) clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      if (this.inFlight !== job) return;
      this.stats.timeouts++;
      this.finish(job, new MssError('timeout', `camera ${job.what}: no ${waitingFor} from address ${this.opts.address} on ${this.opts.port} within ${ms} ms`, { port: this.opts.port, address: this.opts.address }));
    }, ms);
  }

  private finish(job: Job, result: Buffer | MssError): void {
    if (job.timer) clearTimeout(job.timer);
    if (this.inFlight === job) this.inFlight = null;
    if (result instanceof MssError) job.reject(result);
    else job.resolve(result);
    this.pump();
  }

  private onData(chunk: Buffer): void {
    for (const item of this.splitter.push(chunk)) {
      if ('error' in item) this.onGarbage(item.error);
      else this.onReply(item.reply);
    }
  }

  private onGarbage(err: MssError): void {
    this.stats.protocolErrors++;
    const job = this.inFlight;
    if (job) {
      this.finish(job, new MssError('malformed', `camera ${job.what}: protocol error: ${err.message}`, { ...err.detail, port: this.opts.port }));
    } else {
      this.opts.log.warn('camera.protocol-error', { port: this.opts.port, error: err });
    }
  }

  private onReply(reply: ViscaReply): void {
    const job = this.inFlight;
    if (reply.type === 'broadcast') return;
    if (reply.from !== this.opts.address) {
      this.opts.log.debug('camera.reply-ignored', { from: reply.from, address: this.opts.address });
      return;
    }
    if (!job) {
      this.opts.log.debug('camera.unexpected-reply', { type: reply.type });
      return;
    }
    if (reply.type === 'ack') {
      if (job.inquiry || job.acked) {
        this.onGarbage(new MssError('malformed', `unexpected ACK (socket ${reply.socket}) for ${job.what}`));
        return;
      }
      job.acked = true;
      this.arm(job, this.completionTimeoutMs, 'completion');
      return;
    }
    if (reply.type === 'error') {
      this.stats.cameraErrors++;
      this.finish(job, new MssError('unavailable', `camera ${job.what}: camera answered ${reply.message}`, { viscaError: reply.code, port: this.opts.port }));
      return;
    }
    // completion: commands carry no data; a command completion without a prior ACK is accepted (some cameras skip it)
    if (!job.inquiry && reply.data.length > 0) {
      this.onGarbage(new MssError('malformed', `command completion for ${job.what} carries ${reply.data.length} unexpected bytes`));
      return;
    }
    this.finish(job, reply.data);
  }

  private failAll(err: MssError): void {
    const jobs = [...(this.inFlight ? [this.inFlight] : []), ...this.queue.splice(0)];
    this.inFlight = null;
    for (const j of jobs) {
      if (j.timer) clearTimeout(j.timer);
      j.reject(err);
    }
  }
}
