/**
 * One live batch to many players in one native call (PlayerSink.manyWriter): the fan-out adds each player's sink
 * while it walks a group, then sends the group's Buffer to all of them at once and hands each sink its result.
 * Sinks that cannot take a raw write now (rawFd() -1: something queued, a cork, chunk framing, no addon) are not
 * added; the caller writes to them the usual way. Reused for every batch: nothing allocated per player.
 */
import type { ManyWriter, PlayerSink } from '../contracts/media.js';

export class RawBatch {
  private fds = new Int32Array(256);
  private results = new Int32Array(256);
  private sinks: (PlayerSink | undefined)[] = [];
  private count = 0;
  private writer: ManyWriter | null = null;

  /** queues the sink for the next send(); false when it cannot be sent to that way now */
  add(sink: PlayerSink): boolean {
    const w = sink.manyWriter;
    if (!w || (this.writer && w !== this.writer)) return false;
    const fd = sink.rawFd?.() ?? -1;
    if (fd < 0) return false;
    if (this.count === this.fds.length) this.grow();
    this.fds[this.count] = fd;
    this.sinks[this.count] = sink;
    this.count++;
    this.writer = w;
    return true;
  }

  /** sends `data` to every queued sink in one call, then lets each deal with what its socket took */
  send(data: Buffer): void {
    const n = this.count;
    if (n === 0) return;
    const writer = this.writer!;
    this.count = 0;
    this.writer = null;
    writer(this.fds, n, data, this.results);
    for (let i = 0; i < n; i++) {
      const sink = this.sinks[i]!;
      this.sinks[i] = undefined;
      sink.rawWritten?.(data, this.results[i]!);
    }
  }

  private grow(): void {
    const fds = new Int32Array(this.fds.length * 2);
    fds.set(this.fds);
    this.fds = fds;
    this.results = new Int32Array(fds.length);
  }
}
