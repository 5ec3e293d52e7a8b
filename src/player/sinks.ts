/**
 * Where a play goes: a seekable ASF file (the ASF core's AsfFileWriter), a live ASF stream on stdout (header
 * then packets, for ffplay/mpv/gst), or a local renderer process fed on its stdin. A sink gets the header of
 * each entry and its packets; `write` returns false when the network side should wait (files, stdout), while
 * the renderer sink drops packets instead of stalling the network, and counts what it dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { AsfFileWriter } from '../asf/writer.js';
import type { AsfHeader } from '../asf/header.js';
import { MssError } from '../core/errors.js';

export interface Sink {
  readonly name: string;
  /** a new ASF header: the start of the play, or of the next playlist entry / stream change */
  header(headerBytes: Buffer, header: AsfHeader): Promise<void>;
  /** one ASF data packet; false = slow down (wait for 'drain' via waitDrain) */
  write(packet: Buffer): boolean;
  waitDrain(): Promise<void>;
  /** the sink's reader went away (stdout closed, renderer exited): the play should stop */
  readonly gone: boolean;
  finish(): Promise<SinkResult>;
  abort(): Promise<void>;
}

export interface SinkResult {
  files?: string[];
  packetsWritten: number;
  packetsDropped: number;
  durationMs?: number;
}

/** the second and later entries of a client-side playlist go to out.2.asf, out.3.asf, ... */
export function entryFileName(base: string, n: number): string {
  if (n <= 1) return base;
  const ext = path.extname(base);
  return `${base.slice(0, base.length - ext.length)}.${n}${ext || '.asf'}`;
}

const MAX_LINK_HOPS = 40;

/**
 * Where `-o PATH` really writes: a symlink is followed (even a dangling one, whose target is created) so the link
 * itself is never replaced; a path that is not a regular file (FIFO, character device, socket) is a stream target,
 * written in place. Only regular files (or new paths) get the temporary name + rename.
 */
export async function resolveOutputTarget(file: string): Promise<{ path: string; kind: 'regular' | 'stream' }> {
  let current = path.resolve(file);
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    let st;
    try {
      st = await fs.lstat(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path: current, kind: 'regular' };
      throw new MssError('invalid-argument', `cannot write ${file}: ${(err as Error).message}`);
    }
    if (st.isSymbolicLink()) {
      current = path.resolve(path.dirname(current), await fs.readlink(current));
      continue;
    }
    if (st.isDirectory()) throw new MssError('invalid-argument', `cannot write ${file}: it is a directory`);
    return { path: current, kind: st.isFile() ? 'regular' : 'stream' };
  }
  throw new MssError('invalid-argument', `cannot write ${file}: more than ${MAX_LINK_HOPS} symbolic links`);
}

/**
 * Writes each entry to a valid, seekable ASF file (header patched, Simple Index) written crash-safe. A target that
 * is not a regular file (a FIFO, /dev/null) cannot be patched or renamed over: it gets the live ASF stream in
 * place, as stdout would.
 */
export class FileSink implements Sink {
  readonly name = 'file';
  private stream: PipeSink | null = null;
  private writer: AsfFileWriter | null = null;
  private headerBytes: Buffer | null = null;
  private entries = 0;
  private files: string[] = [];
  private written = 0;
  private lastDurationMs = 0;
  private pending: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private inflight = 0;

  constructor(private readonly target: string) {}

  /** a stream target's reader went away, or it cannot take a second header */
  get gone(): boolean {
    return this.stream?.gone ?? false;
  }

  async header(headerBytes: Buffer): Promise<void> {
    if (this.stream) return this.stream.header(headerBytes);
    // the same header again (a resumed connection, a repeated $H) continues the same file
    if (this.headerBytes && this.headerBytes.equals(headerBytes)) return;
    await this.closeCurrent();
    this.entries++;
    const file = entryFileName(this.target, this.entries);
    const resolved = await resolveOutputTarget(file);
    this.files.push(file);
    if (resolved.kind === 'stream') {
      // the first entry decides: a FIFO or a device takes one live stream, like stdout
      // opened here so a refusal (permissions) is an error now, not a silently gone reader later
      let fh: fs.FileHandle;
      try {
        fh = await fs.open(resolved.path, 'w');
      } catch (err) {
        throw new MssError('invalid-argument', `cannot write ${file}: ${(err as Error).message}`);
      }
      this.stream = new PipeSink(createWriteStream('', { fd: fh }), 'file');
      await this.stream.header(headerBytes);
      return;
    }
    this.writer = await AsfFileWriter.create(resolved.path, headerBytes);
    this.headerBytes = Buffer.from(headerBytes);
  }

  write(packet: Buffer): boolean {
    if (this.stream) return this.stream.write(packet);
    if (this.failure) throw this.failure;
    if (!this.writer) throw new MssError('internal', 'file sink: a packet before any header');
    this.inflight++;
    const w = this.writer;
    this.pending = w.write(packet).then(
      () => void this.inflight--,
      (err: Error) => {
        this.inflight--;
        this.failure ??= err;
      },
    );
    this.written++;
    return this.inflight < 64;
  }

  waitDrain(): Promise<void> {
    if (this.stream) return this.stream.waitDrain();
    return this.pending.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  private async closeCurrent(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    this.writer = null;
    await this.pending;
    if (this.failure) throw this.failure;
    const r = await w.finish();
    this.lastDurationMs = r.durationMs;
  }

  async finish(): Promise<SinkResult> {
    if (this.stream) return { ...(await this.stream.finish()), files: this.files };
    await this.closeCurrent();
    return { files: this.files, packetsWritten: this.written, packetsDropped: 0, durationMs: this.lastDurationMs };
  }

  async abort(): Promise<void> {
    if (this.stream) return this.stream.abort();
    const w = this.writer;
    this.writer = null;
    await w?.abort();
  }
}

/**
 * A live ASF stream on a pipe (stdout): the header as the server sent it (Header Object + Data Object head),
 * then packets, which is what ffmpeg/ffplay/mpv read from `-i -`. Later entries are not written: a reader
 * cannot take a second header mid-stream, so the play ends at the first header change.
 */
export class PipeSink implements Sink {
  readonly name: string;
  private headerWritten: Buffer | null = null;
  private written = 0;
  private closed = false;
  private ended = false;

  constructor(private readonly out: Writable, name = 'stdout') {
    this.name = name;
    out.on('error', () => {
      this.closed = true; // EPIPE: the reader has gone (e.g. ffmpeg took the frames it wanted)
    });
    out.on('close', () => (this.closed = true));
  }

  get gone(): boolean {
    return this.closed || this.ended;
  }

  async header(headerBytes: Buffer): Promise<void> {
    if (this.headerWritten) {
      if (!this.headerWritten.equals(headerBytes)) this.ended = true;
      return;
    }
    this.headerWritten = Buffer.from(headerBytes);
    this.out.write(headerBytes);
  }

  write(packet: Buffer): boolean {
    if (this.gone) return true;
    this.written++;
    return this.out.write(packet);
  }

  waitDrain(): Promise<void> {
    if (this.gone || !this.out.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('close', done);
        this.out.off('error', done);
        resolve();
      };
      this.out.once('drain', done);
      this.out.once('close', done);
      this.out.once('error', done);
    });
  }

  async finish(): Promise<SinkResult> {
    if (!this.closed && this.out !== process.stdout) await new Promise<void>((r) => this.out.end(r));
    return { packetsWritten: this.written, packetsDropped: 0 };
  }

  async abort(): Promise<void> {
    await this.finish();
  }
}

/**
 * Starts a local renderer (`--render '<command>'`, run by /bin/sh) and feeds it the ASF stream on stdin. The
 * network side never waits for it: past `maxQueuedBytes` unwritten, whole packets are dropped and counted
 * (a renderer that cannot keep up shows a glitch instead of stalling the download).
 */
export class RendererSink implements Sink {
  readonly name = 'renderer';
  private readonly child: ChildProcess;
  private exited = false;
  private headerWritten: Buffer | null = null;
  private written = 0;
  private dropped = 0;
  private readonly exitPromise: Promise<number | null>;

  constructor(command: string, private readonly maxQueuedBytes = 8 * 1024 * 1024, private readonly onDrop?: (total: number) => void) {
    this.child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'inherit', 'inherit'] });
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.exited = true;
        resolve(code);
      });
      this.child.once('error', () => {
        this.exited = true;
        resolve(null);
      });
    });
    this.child.stdin!.on('error', () => (this.exited = true));
  }

  get gone(): boolean {
    return this.exited;
  }

  async header(headerBytes: Buffer): Promise<void> {
    if (this.headerWritten) return;
    this.headerWritten = Buffer.from(headerBytes);
    this.child.stdin!.write(headerBytes);
  }

  write(packet: Buffer): boolean {
    if (this.exited) return true;
    if (this.child.stdin!.writableLength + packet.length > this.maxQueuedBytes) {
      this.dropped++;
      this.onDrop?.(this.dropped);
      return true;
    }
    this.written++;
    this.child.stdin!.write(packet);
    return true;
  }

  waitDrain(): Promise<void> {
    return Promise.resolve();
  }

  async finish(): Promise<SinkResult> {
    if (!this.exited) this.child.stdin!.end();
    await this.exitPromise;
    return { packetsWritten: this.written, packetsDropped: this.dropped };
  }

  async abort(): Promise<void> {
    if (!this.exited) this.child.kill('SIGTERM');
    await this.exitPromise;
  }
}

/** Receives and discards (no -o and no --render): useful to test a stream or measure it. */
export class NullSink implements Sink {
  readonly name = 'null';
  readonly gone = false;
  private written = 0;

  async header(): Promise<void> {}

  write(): boolean {
    this.written++;
    return true;
  }

  waitDrain(): Promise<void> {
    return Promise.resolve();
  }

  async finish(): Promise<SinkResult> {
    return { packetsWritten: this.written, packetsDropped: 0 };
  }

  async abort(): Promise<void> {}
}

/** `-o PATH`: `-` is stdout (a live stream), anything else a FileSink (which follows links and spots devices). */
export function outputSink(target: string): Sink {
  return target === '-' ? new PipeSink(process.stdout) : new FileSink(target);
}
