/**
 * Writes what a broadcast sends to ASF files: a new file per header (name, then name-2, name-3 ...). Writes go
 * through one bounded queue: storage slower than the stream (a worn SD card) stops the archive with a logged event
 * once the queue holds maxQueuedBytes, and the broadcast goes on; memory never grows with a slow disk.
 */
import path from 'node:path';
import { AsfFileWriter } from '../asf/index.js';
import type { Logger } from '../core/log.js';

/** what the archiver needs of a file writer (AsfFileWriter; tests pass a slow one) */
export interface ArchiveWriter {
  readonly path: string;
  write(packet: Buffer): Promise<void>;
  finish(): Promise<{ packets: number; durationMs: number }>;
}

export type OpenArchiveWriter = (file: string, headerObject: Buffer) => Promise<ArchiveWriter>;

type Job = { kind: 'file'; header: Buffer } | { kind: 'packet'; packet: Buffer } | { kind: 'close'; done: () => void };

export class Archiver {
  private writer: ArchiveWriter | null = null;
  private queue: Job[] = [];
  private queuedBytes = 0;
  private draining = false;
  private files = 0;
  private stopped = false;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly maxQueuedBytes = 8 * 1024 * 1024,
    private readonly open: OpenArchiveWriter = (f, h) => AsfFileWriter.create(f, h),
  ) {}

  /** false once the archive stopped (a write failed or the storage could not keep up) */
  get active(): boolean {
    return !this.stopped;
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  startFile(headerObject: Buffer): void {
    this.push({ kind: 'file', header: headerObject }, headerObject.length);
  }

  write(packet: Buffer): void {
    this.push({ kind: 'packet', packet }, packet.length);
  }

  /** closes the current file once everything queued is written */
  finish(): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ kind: 'close', done: resolve });
      void this.drain();
    });
  }

  private push(job: Job, bytes: number): void {
    if (this.stopped) return;
    if (this.queuedBytes + bytes > this.maxQueuedBytes) {
      this.stop('storage too slow', { queuedBytes: this.queuedBytes, maxQueuedBytes: this.maxQueuedBytes });
      return;
    }
    this.queue.push(job);
    this.queuedBytes += bytes;
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const job = this.queue.shift()!;
        try {
          await this.run(job);
        } catch (err) {
          this.stop('write failed', { error: err });
        } finally {
          const n = job.kind === 'file' ? job.header.length : job.kind === 'packet' ? job.packet.length : 0;
          this.queuedBytes = Math.max(0, this.queuedBytes - n);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async run(job: Job): Promise<void> {
    if (job.kind === 'close') {
      await this.closeWriter().catch((err) => this.log.error('archive.failed', { file: this.file, error: err }));
      job.done();
      return;
    }
    if (this.stopped) return;
    if (job.kind === 'file') {
      await this.closeWriter();
      this.files++;
      const ext = path.extname(this.file);
      const name = this.files === 1 ? this.file : `${this.file.slice(0, this.file.length - ext.length)}-${this.files}${ext || '.asf'}`;
      this.writer = await this.open(name, job.header);
      this.log.info('archive.started', { file: name });
      return;
    }
    await this.writer?.write(job.packet);
  }

  private async closeWriter(): Promise<void> {
    const w = this.writer;
    this.writer = null;
    if (!w) return;
    const r = await w.finish();
    this.log.info('archive.finished', { file: w.path, packets: r.packets, durationMs: r.durationMs });
  }

  /** an archive problem never disturbs the broadcast: log it once, drop what is queued, keep the file written so far */
  private stop(reason: string, fields: Record<string, unknown>): void {
    if (this.stopped) return;
    this.stopped = true;
    const dropped = this.queue.filter((j) => j.kind === 'packet').length;
    const closers = this.queue.filter((j): j is Extract<Job, { kind: 'close' }> => j.kind === 'close');
    this.queue = [...closers, { kind: 'close', done: () => undefined }];
    this.queuedBytes = 0;
    this.log.error('archive.stopped', { file: this.file, reason, droppedPackets: dropped, ...fields });
    void this.drain();
  }
}
