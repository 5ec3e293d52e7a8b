/**
 * A broadcast point's pull source: plays an upstream stream (WMSP: an encoder's `--serve` port or another server's
 * broadcast point; MSBD: msbd://host:7007/point) with that protocol's client and feeds the point's live channel. When the upstream ends or fails, it reconnects
 * with backoff while the point stays up: players see a gap, and a stream change if the header differs.
 *
 * The client is passed in (openStream, chosen by the URL's scheme) so the media core does not import a protocol.
 */
import { EventEmitter } from 'node:events';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { LiveIngest } from '../contracts/media.js';

/** What the pull source needs of a client stream (src/protocols/wmsp/client.ts and src/protocols/msbd/client.ts fit). */
export interface PulledStream extends EventEmitter {
  on(event: 'header', cb: (headerBytes: Buffer) => void): this;
  on(event: 'packet', cb: (packet: Buffer) => void): this;
  on(event: 'end', cb: (reason: number) => void): this;
  on(event: 'error', cb: (err: MssError) => void): this;
  close(): void;
}

export interface PullSourceOptions {
  url: string;
  channel: Pick<LiveIngest, 'setHeader' | 'pushPacket'>;
  openStream(url: string): PulledStream;
  log: Logger;
  /** wait for the first header at most this long on start (default 20 s) */
  startTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export class PullSource {
  private stream: PulledStream | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private header: Buffer | null = null;
  readonly stats = { connects: 0, packets: 0, bytes: 0, reconnects: 0 };

  constructor(private readonly opts: PullSourceOptions) {
    this.backoff = opts.backoffInitialMs ?? 500;
  }

  /** Connects and resolves once the upstream's header arrived; rejects if the first attempt fails. */
  start(): Promise<void> {
    this.stopped = false;
    return new Promise((resolve, reject) => {
      let settled = false;
      const t = setTimeout(() => settle(new MssError('timeout', `pull from ${this.opts.url}: no header within ${this.opts.startTimeoutMs ?? 20_000} ms`)), this.opts.startTimeoutMs ?? 20_000);
      const settle = (err?: MssError) => {
        if (settled) return;
        settled = true;
        clearTimeout(t);
        if (err) {
          this.stop();
          reject(err);
        } else resolve();
      };
      this.connect(settle);
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.stream;
    this.stream = null;
    s?.close();
    return Promise.resolve();
  }

  private connect(firstResult?: (err?: MssError) => void): void {
    if (this.stopped) return;
    this.stats.connects++;
    let stream: PulledStream;
    try {
      stream = this.opts.openStream(this.opts.url);
    } catch (err) {
      const e = toMssError(err, 'unavailable');
      if (firstResult) return firstResult(e);
      return this.retry(e.message);
    }
    this.stream = stream;
    let gotHeader = false;
    stream.on('header', (bytes: Buffer) => {
      if (this.stream !== stream) return;
      gotHeader = true;
      try {
        if (!this.header || !this.header.equals(bytes)) {
          this.header = Buffer.from(bytes);
          this.opts.channel.setHeader(this.header);
        }
      } catch (err) {
        const e = toMssError(err, 'malformed');
        this.opts.log.warn('pull.bad-header', { url: this.opts.url, error: e });
        stream.close();
        if (firstResult) return firstResult(e);
        return this.retry(e.message);
      }
      this.backoff = this.opts.backoffInitialMs ?? 500;
      firstResult?.();
      firstResult = undefined;
    });
    stream.on('packet', (packet: Buffer) => {
      if (this.stream !== stream || !gotHeader) return;
      this.stats.packets++;
      this.stats.bytes += packet.length;
      try {
        this.opts.channel.pushPacket(packet);
      } catch (err) {
        this.opts.log.warn('pull.packet-refused', { url: this.opts.url, error: toMssError(err) });
      }
    });
    const lost = (why: string, err?: MssError) => {
      if (this.stream !== stream) return;
      this.stream = null;
      stream.close();
      if (firstResult) {
        firstResult(err ?? new MssError('unavailable', `pull from ${this.opts.url}: ${why}`));
        firstResult = undefined;
        return;
      }
      this.retry(why);
    };
    stream.on('end', (reason: number) => lost(`upstream ended (reason ${reason})`));
    stream.on('error', (err: MssError) => lost(err.message, err));
  }

  private retry(why: string): void {
    if (this.stopped) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.backoffMaxMs ?? 10_000);
    this.stats.reconnects++;
    this.opts.log.warn('pull.reconnecting', { url: this.opts.url, reason: why, retryInMs: delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
