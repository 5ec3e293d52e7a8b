import test from '../helpers/test.js';
import { openAsfFile, packetKeyFrameStreams, parseDataPacket, readSendTime } from '../../src/asf/index.js';
import { createLogger } from '../../src/core/log.js';
import { LiveFanout } from '../../src/media/fanout.js';
import { streamLayout } from '../../src/media/live.js';
import { PacingScheduler } from '../../src/media/scheduler.js';
import type { PacketFramer, PlayerSink } from '../../src/contracts/media.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';

/** a sink that records writes; `stalled` makes it stop draining (its queue only grows) */
class MemorySink implements PlayerSink {
  writes: Buffer[] = [];
  queued = 0;
  stalled = false;
  closed = false;
  destroyedFor = '';
  private closers: Array<() => void> = [];
  write(buf: Buffer): void {
    this.writes.push(buf);
    if (this.stalled) this.queued += buf.length;
  }
  get queuedBytes(): number {
    return this.queued;
  }
  end(): void {
    this.closed = true;
    this.closers.forEach((c) => c());
  }
  destroy(reason: string): void {
    this.destroyedFor = reason;
    this.end();
  }
  onClose(cb: () => void): void {
    this.closers.push(cb);
  }
}

let framed = 0;
const framer: PacketFramer = {
  name: 'test',
  header: (h) => [Buffer.concat([Buffer.from('H'), h.subarray(0, 4)])],
  data: (p, loc) => {
    framed++;
    const b = Buffer.alloc(8 + p.length);
    b.write('D', 0);
    b.writeUInt32LE(loc, 4);
    p.copy(b, 8);
    return b;
  },
  streamChange: () => Buffer.from('C'),
  end: () => Buffer.from('E'),
};

async function source() {
  const file = await openAsfFile(await fixture(FIXTURES.av20));
  const packets = await file.readPackets(0, file.layout.packetCount);
  const layout = streamLayout(file.layout.header);
  const header = file.layout.headerBytes;
  await file.close();
  return { packets, layout, header };
}

/** a started fan-out over the 20 s fixture, its scheduler stopped when the test ends */
async function liveFanout(t: { teardown(fn: () => void): void }) {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = makeFanout(scheduler);
  fanout.setHeader(header, layout);
  return { packets, layout, header, scheduler, fanout };
}

function makeFanout(scheduler: PacingScheduler, opts: { queue?: number; slowMs?: number } = {}) {
  return new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: opts.queue ?? 64 * 1024, slowPlayerTimeoutMs: opts.slowMs ?? 1000 });
}

test('each packet is framed once and the same Buffer goes to every player', async (t) => {
  const { packets, fanout } = await liveFanout(t);
  const sinks = Array.from({ length: 50 }, () => new MemorySink());
  for (const sink of sinks) fanout.join({ sink, framer });
  framed = 0;
  for (const p of packets.slice(0, 100)) fanout.push(p);
  t.is(framed, 100);
  const lastOf = (s: MemorySink) => s.writes[s.writes.length - 1];
  for (const s of sinks) t.is(lastOf(s), lastOf(sinks[0]));
});

test('a late joiner starts with the header and the key frame that leaves about a preroll of media to catch up', async (t) => {
  const { packets, layout, fanout } = await liveFanout(t);
  const video = layout.videoStreams[0];
  const n = 200;
  for (const p of packets.slice(0, n)) fanout.push(p);
  const newest = readSendTime(packets[n - 1]);
  const target = newest - Math.max(1000, layout.prerollMs ?? 0);
  let expected = -1;
  for (let i = 0; i < n; i++) {
    if (packetKeyFrameStreams(packets[i], layout.packetSize).has(video) && readSendTime(packets[i]) <= target) expected = i;
  }
  t.true(expected > 0);
  const sink = new MemorySink();
  fanout.join({ sink, framer });
  t.is(sink.writes[0].toString('latin1', 0, 1), 'H');
  t.is(sink.writes[1].readUInt32LE(4), expected);
  t.is(sink.writes.length, 1 + (n - expected));
  // the first packet begins with the key frame: no video payload of an earlier picture
  const first = parseDataPacket(sink.writes[1].subarray(8), layout.packetSize);
  const firstVideo = first.payloads.find((pl) => pl.streamNumber === video)!;
  t.true(firstVideo.keyFrame && firstVideo.offsetIntoObject === 0);
  fanout.push(packets[n]);
  t.is(sink.writes[sink.writes.length - 1].readUInt32LE(4), n);
});

test('a stalled player is dropped after the timeout without holding back the others', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler(20, undefined, 50);
  t.teardown(() => scheduler.stop());
  const fanout = makeFanout(scheduler, { queue: 64 * 1024, slowMs: 500 });
  fanout.setHeader(header, layout);
  const good = new MemorySink();
  const slow = new MemorySink();
  slow.stalled = true;
  fanout.join({ sink: good, framer });
  fanout.join({ sink: slow, framer });
  for (const p of packets.slice(0, 150)) fanout.push(p);
  // the slow one stopped receiving at its bound; the good one got everything
  t.true(slow.queued <= 64 * 1024 + 20_000);
  t.is(good.writes.length, 151);
  await new Promise((r) => setTimeout(r, 900));
  scheduler.runTick();
  t.is(slow.destroyedFor, 'slow player');
  t.is(fanout.playerCount, 1);
  for (const p of packets.slice(150, 160)) fanout.push(p);
  t.is(good.writes.length, 161);
});

test('a new header sends $C and the new header to players; the end sends $E and closes them', async (t) => {
  const { packets, layout, header, fanout } = await liveFanout(t);
  const sink = new MemorySink();
  const handle = fanout.join({ sink, framer });
  fanout.push(packets[0]);
  fanout.setHeader(header, layout);
  const tail = sink.writes.slice(-2).map((b) => b.toString('latin1', 0, 1));
  t.deepEqual(tail, ['C', 'H']);
  fanout.push(packets[1]);
  t.is(sink.writes[sink.writes.length - 1].readUInt32LE(4), 0, 'LocationId restarts after a stream change');
  fanout.end();
  t.is(sink.writes[sink.writes.length - 1].toString(), 'E');
  t.true(sink.closed);
  t.is((await handle.ended).endReason, 'finished');
});

test('a join with sendHeader false gets no header first, but the header of a later stream change', async (t) => {
  const { packets, layout, header, fanout } = await liveFanout(t);
  fanout.push(packets[0]);
  const sink = new MemorySink();
  fanout.join({ sink, framer, sendHeader: false });
  t.false(sink.writes.some((b) => b.toString('latin1', 0, 1) === 'H'), 'the protocol sent the header already');
  fanout.setHeader(header, layout);
  t.deepEqual(sink.writes.slice(-2).map((b) => b.toString('latin1', 0, 1)), ['C', 'H']);
});

test('players selecting a subset of streams get filtered packets, framed once per selection', async (t) => {
  const { packets, layout, fanout } = await liveFanout(t);
  const audio = layout.allStreams.find((s) => !layout.videoStreams.includes(s))!;
  const a = new MemorySink();
  const b = new MemorySink();
  fanout.join({ sink: a, framer, streams: new Set([audio]) });
  fanout.join({ sink: b, framer, streams: new Set([audio]) });
  framed = 0;
  for (const p of packets.slice(0, 60)) fanout.push(p);
  t.true(framed <= 60);
  t.is(a.writes[a.writes.length - 1], b.writes[b.writes.length - 1]);
});

test('SelectStream on a live player moves it to the new selection from the next key frame', async (t) => {
  const { packets, layout, fanout } = await liveFanout(t);
  const sink = new MemorySink();
  const all = new MemorySink();
  const handle = fanout.join({ sink, framer });
  fanout.join({ sink: all, framer });
  for (const p of packets.slice(0, 10)) fanout.push(p);
  const audio = layout.allStreams.find((s) => !layout.videoStreams.includes(s))!;
  handle.selectStreams!(new Set([audio]));
  const before = sink.writes.length;
  for (const p of packets.slice(10, 100)) fanout.push(p);
  const after = sink.writes.slice(before);
  t.true(after.length > 0);
  // its frames are no longer the unfiltered ones the other player gets
  t.false(after.some((b) => all.writes.includes(b)));
});

test('batched delivery: packets are written once per batch, one shared Buffer per group, none lost or reordered', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 20, slowPlayerTimeoutMs: 1000, batchMs: 100 });
  fanout.setHeader(header, layout);
  const a = new MemorySink();
  const b = new MemorySink();
  fanout.join({ sink: a, framer });
  fanout.join({ sink: b, framer });
  const before = a.writes.length;
  for (const p of packets.slice(0, 10)) fanout.push(p);
  t.is(a.writes.length, before, 'nothing written before the batch is due');
  await new Promise((r) => setTimeout(r, 150));
  scheduler.runTick();
  t.is(a.writes.length, before + 1);
  t.is(a.writes[a.writes.length - 1], b.writes[b.writes.length - 1]);
  // the batch holds the 10 framed packets in order
  const batch = a.writes[a.writes.length - 1];
  const ids: number[] = [];
  for (let off = 0; off < batch.length; ) {
    ids.push(batch.readUInt32LE(off + 4));
    off += 8 + layout.packetSize;
  }
  t.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('a catching-up player is sent the batches live players got, as the same Buffers, with no packet missing', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 22, slowPlayerTimeoutMs: 1000, batchMs: 50 });
  fanout.setHeader(header, layout);
  const early = new MemorySink();
  fanout.join({ sink: early, framer });
  for (let i = 0; i < 120; i++) {
    fanout.push(packets[i]);
    if (i % 5 === 4) {
      await new Promise((r) => setTimeout(r, 55));
      scheduler.runTick();
    }
  }
  const late = new MemorySink();
  fanout.join({ sink: late, framer });
  t.true(late.writes.some((w) => early.writes.includes(w)), 'reuses a live batch');
  const ids: number[] = [];
  for (const w of late.writes.slice(1)) {
    for (let off = 0; off < w.length; off += 8 + layout.packetSize) ids.push(w.readUInt32LE(off + 4));
  }
  t.deepEqual(ids, Array.from({ length: ids.length }, (_, k) => ids[0] + k));
  t.is(ids[ids.length - 1], 119);
});

test('framed copies and joined batches count against the ring bound, which holds', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const ringBytes = 256 * 1024;
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 22, slowPlayerTimeoutMs: 1000, ringBytes, batchMs: 0 });
  fanout.setHeader(header, layout);
  const audio = layout.allStreams.find((s) => !layout.videoStreams.includes(s))!;
  const video = layout.videoStreams[0]!;
  // three groups: all streams, audio only, video only; each frames its own copy of every packet
  for (const streams of [undefined, new Set([audio]), new Set([video])]) fanout.join({ sink: new MemorySink(), framer, streams });
  for (const p of packets.slice(0, 400)) fanout.push(p);
  const info = fanout.ringInfo();
  const raw = info.packets * layout.packetSize;
  t.true(info.bytes > raw * 2, `${info.bytes} bytes held for ${raw} bytes of packets`);
  t.true(info.bytes <= ringBytes + 4 * (layout.packetSize + 8), `${info.bytes} bytes held, bound ${ringBytes}`);
});

test('players whose framers differ only in their header frames (WMP 9 and older) share framed data packets', async (t) => {
  const { packets, fanout } = await liveFanout(t);
  const v9: PacketFramer = { ...framer, name: 'test-with-metadata', packetKey: 'test', header: (h) => [Buffer.from('M'), ...framer.header(h)] };
  const old: PacketFramer = { ...framer, packetKey: 'test' };
  const a = new MemorySink();
  const b = new MemorySink();
  fanout.join({ sink: a, framer: v9 });
  fanout.join({ sink: b, framer: old });
  framed = 0;
  for (const p of packets.slice(0, 40)) fanout.push(p);
  t.is(framed, 40, 'each packet framed once for both');
  t.is(a.writes[a.writes.length - 1], b.writes[b.writes.length - 1]);
  t.is(a.writes[0]!.toString('latin1', 0, 1), 'M');
  t.is(b.writes[0]!.toString('latin1', 0, 1), 'H');
});

test('a sequenced datagram framer frames each packet once and in order; every member gets the same datagrams one by one', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 22, slowPlayerTimeoutMs: 1000, batchMs: 100 });
  fanout.setHeader(header, layout);
  const calls: number[] = [];
  let seq = 0;
  const rtp: PacketFramer = {
    name: 'rtp-like',
    transport: 'datagram',
    sequenced: true,
    header: () => [],
    data: (p, loc) => {
      calls.push(loc);
      const a = Buffer.alloc(6);
      a.writeUInt16BE(seq++ & 0xffff, 0);
      a.writeUInt32BE(loc, 2);
      const b = Buffer.from(a);
      b.writeUInt16BE(seq++ & 0xffff, 0);
      return [a, b];
    },
    streamChange: () => null,
    end: () => null,
  };
  const first = new MemorySink();
  fanout.join({ sink: first, framer: rtp });
  for (const p of packets.slice(0, 120)) fanout.push(p);
  const second = new MemorySink();
  fanout.join({ sink: second, framer: { ...rtp } });
  for (const p of packets.slice(120, 240)) fanout.push(p);
  fanout.end();
  t.deepEqual(calls, [...calls].sort((x, y) => x - y));
  t.is(new Set(calls).size, calls.length, 'no packet framed twice');
  const seqs = first.writes.map((w) => w.readUInt16BE(0));
  t.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'the first member sees consecutive sequence numbers');
  t.true(first.writes.every((w) => w.length === 6), 'datagrams are never joined');
  const shared = new Set(first.writes);
  t.true(second.writes.length > 0 && second.writes.every((w) => shared.has(w)), 'the second member gets the very same datagrams');
  const seqs2 = second.writes.map((w) => w.readUInt16BE(0));
  t.deepEqual(seqs2, seqs2.map((_, i) => seqs2[0]! + i), 'and consecutive sequence numbers from its join on');
});

/** a sink the fan-out may batch with others: its "descriptor" is its index; rawWritten records the result */
class BatchedSink extends MemorySink {
  rawResults: number[] = [];
  taking = true;
  constructor(
    readonly manyWriter: (fds: Int32Array, count: number, data: Buffer, results: Int32Array) => void,
    private readonly fd: number,
  ) {
    super();
  }
  rawFd(): number {
    return this.taking ? this.fd : -1;
  }
  rawWritten(data: Buffer, result: number): void {
    this.rawResults.push(result);
    this.writes.push(data);
  }
}

test('a live batch goes to every player that can take it in one manyWriter call; the others get it by write()', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 20, slowPlayerTimeoutMs: 1000, batchMs: 100 });
  fanout.setHeader(header, layout);
  const calls: Array<{ fds: number[]; data: Buffer }> = [];
  const writer = (fds: Int32Array, count: number, data: Buffer, results: Int32Array) => {
    calls.push({ fds: [...fds.subarray(0, count)], data });
    for (let i = 0; i < count; i++) results[i] = fds[i] === 2 ? 7 : data.length; // player 2's socket takes 7 bytes
  };
  const batched = Array.from({ length: 300 }, (_, i) => new BatchedSink(writer, i)); // past RawBatch's first 256
  const plain = new MemorySink();
  for (const sink of batched) fanout.join({ sink, framer });
  fanout.join({ sink: plain, framer });
  await new Promise((r) => setTimeout(r, 20));
  scheduler.runTick(); // joins caught up (nothing in the ring yet): all live
  batched[5]!.taking = false; // something queued on its socket: this batch it takes by write()
  const before = plain.writes.length;
  for (const p of packets.slice(0, 6)) fanout.push(p);
  await new Promise((r) => setTimeout(r, 150));
  scheduler.runTick();
  t.is(calls.length, 1, 'one call for the whole group');
  t.is(calls[0]!.fds.length, 299);
  t.false(calls[0]!.fds.includes(5));
  const batch = calls[0]!.data;
  t.is(plain.writes.length, before + 1);
  t.is(plain.writes[plain.writes.length - 1], batch, 'the same Buffer for every player');
  t.is(batched[5]!.writes[batched[5]!.writes.length - 1], batch);
  t.deepEqual(batched[5]!.rawResults, []);
  t.deepEqual(batched[2]!.rawResults, [7], 'each sink gets its own result to queue the rest');
  t.deepEqual(batched[0]!.rawResults, [batch.length]);
  t.is(fanout.bytesSent >= batch.length * 301, true);
});
