/**
 * MMS framing in the media core's live fan-out (frame once, send many): every TCP play of a group receives the
 * very same Buffer for a packet, UDP plays the same datagram Buffers with consecutive sequence numbers; a header
 * change gives each play its own ReportEndOfStream/ReportStreamChange (its sequence numbers, its incarnation) and
 * the shared header pieces and media with playIncarnation 0xFF. Also the UDP reorder buffer and the resend ring.
 */
import test from '../../helpers/test.js';
import { openAsfFile } from '../../../src/asf/index.js';
import { createLogger } from '../../../src/core/log.js';
import type { PlayerSink } from '../../../src/contracts/media.js';
import { LiveFanout } from '../../../src/media/fanout.js';
import { streamLayout } from '../../../src/media/live.js';
import { PacingScheduler } from '../../../src/media/scheduler.js';
import { MmsStreamReader, encodeTcpMessage, parseMmsDataPacket } from '../../../src/protocols/mmsp/codec.js';
import { DataFramerCache, playFramer } from '../../../src/protocols/mmsp/framers.js';
import { decodeMac, encodeMac, type MacMessage } from '../../../src/protocols/mmsp/messages.js';
import { ResendingSink } from '../../../src/protocols/mmsp/resend.js';
import { ReorderBuffer, SequenceExtender } from '../../../src/protocols/mmsp/udp-order.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';

class MemorySink implements PlayerSink {
  writes: Buffer[] = [];
  closed = false;
  private closers: Array<() => void> = [];
  readonly queuedBytes = 0;
  write(b: Buffer): void {
    this.writes.push(b);
  }
  end(): void {
    this.closed = true;
    this.closers.forEach((c) => c());
  }
  destroy(): void {
    this.end();
  }
  onClose(cb: () => void): void {
    this.closers.push(cb);
  }
}

async function source() {
  const file = await openAsfFile(await fixture(FIXTURES.av20));
  const packets = await file.readPackets(0, 200);
  const layout = streamLayout(file.layout.header);
  const header = file.layout.headerBytes;
  await file.close();
  return { packets, layout, header };
}

function session(cache: DataFramerCache, transport: 'tcp' | 'udp', id: number, key: string) {
  let seq = 0;
  const sent: MacMessage[] = [];
  const changes: number[] = [];
  const data = cache.get(key, 4, transport === 'udp');
  const framer = playFramer({
    name: `mmsp:${id}:1`,
    transport,
    data,
    playIncarnation: 4,
    hooks: {
      control: (m) => {
        sent.push(m);
        const e = encodeMac(m);
        return encodeTcpMessage(e.mid, e.fields, seq++);
      },
      udpStreamChange: () => changes.push(id),
    },
  });
  return { framer, sent, changes, sink: new MemorySink() };
}

test('TCP plays of a live group get the same Buffer per packet; a header change: own control messages, shared 0xFF header, 0xFF media', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 20, slowPlayerTimeoutMs: 1000 });
  fanout.setHeader(header, layout);
  const cache = new DataFramerCache();
  const plays = [1, 2, 3].map((id) => session(cache, 'tcp', id, 'mmsp:tcp:live:4:1:n'));
  for (const p of plays) fanout.join({ sink: p.sink, framer: p.framer, sendHeader: false, liveEdge: true });
  for (const p of packets.slice(0, 20)) fanout.push(p);
  const data = plays.map((p) => p.sink.writes.slice());
  t.true(data[0]!.length > 0);
  t.is(data[1]!.length, data[0]!.length);
  data[0]!.forEach((b, i) => {
    if (data[1]![i] !== b || data[2]![i] !== b) t.fail(`write ${i} is not the same Buffer for every player`);
  });
  // the header changes: each player's own EndOfStream(1) + StreamChange, then the same header pieces
  fanout.setHeader(header, layout);
  fanout.push(packets[20]!);
  for (const p of plays) {
    const tail = p.sink.writes.slice(data[0]!.length);
    const reader = new MmsStreamReader({ acceptData: true });
    const items = tail.flatMap((b) => reader.push(b));
    const kinds = items.map((i) => (i.kind === 'control' ? decodeMac(i.packet.messages[0]!).type : `data:${(i as { data: { incarnation: number } }).data.incarnation}`));
    t.deepEqual(kinds.slice(0, 2), ['ReportEndOfStream', 'ReportStreamChange']);
    t.true(kinds.slice(2).every((k) => k === 'data:255'), kinds.join(','));
    t.deepEqual(p.sent.map((m) => m.type), ['ReportEndOfStream', 'ReportStreamChange']);
  }
  // the header pieces after the change are shared Buffers too
  const pieces = plays.map((p) => p.sink.writes.slice(data[0]!.length + 2, data[0]!.length + 3)[0]);
  t.is(pieces[0], pieces[1]);
});

test('UDP plays of a group get the same datagram Buffers, numbered 0, 1, 2 … by the group; a header change calls each session', async (t) => {
  const { packets, layout, header } = await source();
  const scheduler = new PacingScheduler();
  t.teardown(() => scheduler.stop());
  const fanout = new LiveFanout({ scheduler, log: createLogger('test'), playerQueueBytes: 1 << 20, slowPlayerTimeoutMs: 1000 });
  fanout.setHeader(header, layout);
  const cache = new DataFramerCache();
  const plays = [1, 2].map((id) => session(cache, 'udp', id, 'mmsp:udp:live:4:1:n'));
  for (const p of plays) fanout.join({ sink: p.sink, framer: p.framer, sendHeader: false, liveEdge: true, streams: new Set([2]) });
  for (const p of packets.slice(0, 40)) fanout.push(p);
  const [a, b] = plays.map((p) => p.sink.writes);
  t.true(a!.length > 3);
  a!.forEach((buf, i) => {
    if (b![i] !== buf) t.fail(`datagram ${i} is not shared`);
    if (parseMmsDataPacket(buf).afFlags !== (i & 0xff)) t.fail(`datagram ${i} has AFFlags ${buf[5]}: thinned packets leave no gaps`);
  });
  fanout.setHeader(header, layout);
  t.deepEqual(plays.flatMap((p) => p.changes), [1, 2]);
  t.true(plays.every((p) => p.sent.length === 0), 'no control message goes into a datagram');
});

test('the resend ring keeps the last packets by sequence number and answers within its rate', (t) => {
  const inner = new MemorySink();
  const ring = new ResendingSink(inner, 4, 3, () => 4);
  const dgrams = Array.from({ length: 6 }, (_, i) => {
    const b = Buffer.alloc(20);
    b[4] = 4;
    b[5] = i;
    b.writeUInt16LE(20, 6);
    return b;
  });
  for (const d of dgrams) ring.write(d);
  inner.writes = [];
  t.is(ring.resend([0x100 + 5, 4, 1]), 2, 'the oldest were dropped (capacity 4)');
  t.deepEqual(inner.writes, [dgrams[5], dgrams[4]]);
  t.is(ring.resend([2, 3, 4, 5]), 1, 'three per second at most');
  t.is(ring.stats.refused, 3);
});

test('UDP order: 8-bit sequence numbers extend across wraps; gaps ask once, wait, then count as lost', (t) => {
  const ext = new SequenceExtender();
  t.deepEqual([250, 255, 0, 3, 2, 130].map((s) => ext.extend(s)), [250, 255, 256, 259, 258, 386]);
  let now = 0;
  const out: number[] = [];
  const asked: number[][] = [];
  let lost = 0;
  const r = new ReorderBuffer<number>({ waitMs: 100, maxHeld: 8, now: () => now, deliver: (x) => out.push(x), request: (s) => asked.push(s), lost: (n) => (lost += n) });
  for (const s of [10, 11, 14, 13]) r.push(s, s);
  t.deepEqual(out, [10, 11]);
  t.deepEqual(asked, [[12, 13]]);
  r.push(12, 12); // the resend arrives in time
  t.deepEqual(out, [10, 11, 12, 13, 14]);
  t.is(r.recovered, 2);
  r.push(17, 17);
  t.deepEqual(asked[1], [15, 16]);
  now = 150;
  r.flush(now);
  t.deepEqual(out.slice(-1), [17]);
  t.is(lost, 2);
  r.push(16, 16);
  t.is(r.duplicates, 1, 'too late: dropped');
});
