/**
 * The sender's framer and the receiver's assembler together, without sockets: what the framer emits, thinned by
 * loss and salted with hostile datagrams, comes out of the assembler as the source packets in order, with one
 * loss per span rebuilt and every other loss counted.
 */
import test from '../../helpers/test.js';
import { buildBeacon, encodeMsbPacket, parseMsbDatagram, readErrorCorrection, STREAM_ID_TOGGLE } from '../../../src/protocols/msb/codec.js';
import { MsbAssembler } from '../../../src/protocols/msb/assembler.js';
import { FormatBook } from '../../../src/protocols/msb/formats.js';
import { MsbFramer } from '../../../src/protocols/msb/framer.js';
import type { Frame } from '../../../src/contracts/media.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';
import { loadAsf, packetContent, quietLogger, type LoadedAsf } from './helpers.js';

const log = quietLogger();
const frames = (f: Frame): Buffer[] => (f === null ? [] : Buffer.isBuffer(f) ? [f] : [...f]);

function frameAll(asf: LoadedAsf, framer: MsbFramer, packets = asf.packets): Buffer[] {
  const out: Buffer[] = [];
  out.push(...framer.header(asf.header));
  packets.forEach((p) => out.push(...frames(framer.data(p))));
  out.push(...frames(framer.end()));
  return out;
}

function receiver(asf: LoadedAsf, book: FormatBook, defaultEcc?: number) {
  const got: Array<{ packet: Buffer; sequence: number; recovered: boolean }> = [];
  const streams: number[] = [];
  const a = new MsbAssembler({
    packetSizeOf: (id) => (book.list().some((f) => f.formatId === id) ? asf.packetSize : undefined),
    defaultEcc,
    onStream: (_f, s) => streams.push(s),
    onPacket: (packet, sequence, recovered) => got.push({ packet, sequence, recovered }),
  });
  return { a, got, streams };
}

let asf: LoadedAsf;
test.before(async () => {
  asf = await loadAsf(await fixture(FIXTURES.av20), 200);
});

test('span 10: every 11th datagram is parity, under the ID of the packet before it; the last short span is closed too', (t) => {
  const book = new FormatBook();
  const framer = new MsbFramer({ name: 'msb:t', span: 10, formats: book, log });
  const out = frameAll(asf, framer, asf.packets.slice(0, 25));
  t.is(out.length, 25 + 3);
  const parsed = out.map((d) => parseMsbDatagram(d));
  const ids = parsed.map((p) => (p.kind === 'packet' ? p.packetId : -1));
  t.deepEqual(ids.slice(0, 12), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10]);
  const ec = parsed.map((p) => (p.kind === 'packet' ? readErrorCorrection(p.asf) : null)!);
  t.deepEqual([ec[10]!.type, ec[10]!.number, ec[10]!.cycle], [2, 11, 0]);
  t.deepEqual([ec[11]!.type, ec[11]!.number, ec[11]!.cycle], [1, 1, 1]);
  t.deepEqual([ec[27]!.type, ec[27]!.number, ec[27]!.cycle], [2, 6, 2]); // 5 packets in the last span
  t.true(parsed.every((p) => p.kind === 'packet' && p.streamId === book.idFor(asf.header)));
  t.is(framer.counters.parity, 3);
});

test('every stream after the first flips bit 15 of wStreamID; a new header gets its own Format ID', (t) => {
  const book = new FormatBook();
  const framer = new MsbFramer({ name: 'msb:t', span: 10, formats: book, log });
  framer.header(asf.header);
  const first = framer.currentStreamId;
  t.is(first & STREAM_ID_TOGGLE, 0);
  t.deepEqual(frames(framer.data(asf.packets[0]!)).length, 1);
  const closing = frames(framer.streamChange());
  t.is(closing.length, 1); // the short span's parity, under the old stream ID
  t.like(parseMsbDatagram(closing[0]!), { streamId: first });
  framer.header(asf.header);
  t.is(framer.currentStreamId, first ^ STREAM_ID_TOGGLE);
  const other = Buffer.from(asf.header);
  other[other.length - 60] ^= 1; // a different header (inside the Header Object)
  framer.header(other);
  t.is(framer.currentStreamId & 0x7ff, book.idFor(other));
  t.not(framer.currentStreamId & 0x7ff, first & 0x7ff);
  t.is(book.size, 2);
});

test('with no loss the receiver gets every packet in order, same payloads, nothing recovered or lost', (t) => {
  const book = new FormatBook();
  const out = frameAll(asf, new MsbFramer({ name: 'msb:t', span: 10, formats: book, log }));
  const r = receiver(asf, book);
  for (const d of out) r.a.feed(d);
  r.a.flush();
  t.is(r.got.length, asf.packets.length);
  t.deepEqual(r.got.map((g) => g.sequence), asf.packets.map((_, i) => i));
  r.got.forEach((g, i) => t.is(packetContent(g.packet, asf.packetSize), packetContent(asf.packets[i]!, asf.packetSize)));
  t.like(r.a.counters, { recovered: 0, lost: 0, malformed: 0, parity: Math.ceil(asf.packets.length / 10) });
});

test('one loss per span is rebuilt from parity, two in a span are lost and counted, lost parity costs nothing else', (t) => {
  const book = new FormatBook();
  const out = frameAll(asf, new MsbFramer({ name: 'msb:t', span: 10, formats: book, log }));
  // datagram indexes: span k occupies 11k .. 11k+10 (the last is parity)
  const drop = new Set([3, 11 + 0, 22 + 9, 33 + 4, 33 + 5, 44 + 10, 55 + 2, 55 + 10]);
  const r = receiver(asf, book);
  out.forEach((d, i) => {
    if (!drop.has(i)) r.a.feed(d);
  });
  r.a.flush();
  // spans 0,1,2 recover one each; span 3 loses 2; span 4 lost only parity; span 5 lost a packet and its parity
  t.is(r.a.counters.recovered, 3);
  t.is(r.a.counters.lost, 3);
  t.is(r.got.length, asf.packets.length - 3);
  const bySeq = new Map(r.got.map((g) => [g.sequence, g]));
  for (const [i, p] of asf.packets.entries()) {
    const g = bySeq.get(i);
    if ([34, 35, 52].includes(i)) t.is(g, undefined);
    else t.is(packetContent(g!.packet, asf.packetSize), packetContent(p, asf.packetSize), `packet ${i}`);
  }
  t.deepEqual(r.got.filter((g) => g.recovered).map((g) => g.sequence), [3, 10, 29]);
});

test('a quiet spell gives out the held packets; the parity that follows still rebuilds the one the cycle lacks', (t) => {
  const book = new FormatBook();
  const out = frameAll(asf, new MsbFramer({ name: 'msb:t', span: 10, formats: book, log }), asf.packets.slice(0, 10));
  const r = receiver(asf, book);
  for (const d of out.slice(0, 5)) r.a.feed(d);
  r.a.flush(); // the group went quiet mid-cycle
  t.deepEqual(r.got.map((g) => g.sequence), [0, 1, 2, 3, 4]);
  out.slice(5).forEach((d, i) => i + 5 !== 7 && r.a.feed(d)); // packet 7 lost, then the parity
  t.deepEqual(r.got.map((g) => g.sequence), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.like(r.a.counters, { recovered: 1, lost: 0, late: 0 });
  t.is(packetContent(r.got[7]!.packet, asf.packetSize), packetContent(asf.packets[7]!, asf.packetSize));
});

test('garbage, unknown formats, duplicates and a spoofed span are counted and skipped, never thrown', (t) => {
  const book = new FormatBook();
  const out = frameAll(asf, new MsbFramer({ name: 'msb:t', span: 10, formats: book, log }), asf.packets.slice(0, 30));
  const fmt = book.idFor(asf.header);
  const r = receiver(asf, book);
  const hostile = [
    Buffer.alloc(0), Buffer.from('MSB'), Buffer.from('hello world'), buildBeacon(),
    encodeMsbPacket(1000, 0x123 === fmt ? 0x124 : 0x123, Buffer.from([0x82, 0x11, 0, 1, 2, 3])), // unknown format
    encodeMsbPacket(5000, fmt, Buffer.from([0x82, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff])), // known format, not ASF
    encodeMsbPacket(5001, fmt, Buffer.concat([Buffer.from([0x82, 0, 0]), Buffer.alloc(asf.packetSize)])), // bigger than the packet size
  ];
  r.a.feed(out[0]!);
  for (const h of hostile) t.notThrows(() => r.a.feed(h));
  for (const d of out.slice(1)) {
    r.a.feed(d);
    if (d === out[5]) r.a.feed(d); // a duplicate
  }
  r.a.flush();
  t.is(r.a.counters.beacons, 1);
  t.is(r.a.counters.unknownFormat, 1);
  t.is(r.a.counters.malformed, 5);
  // the duplicate, and packet 0 rebuilt again from its span's parity (the unprotected packet had flushed it early)
  t.is(r.a.counters.late, 2);
  // every real packet came through, in order
  t.deepEqual(r.got.map((g) => packetContent(g.packet, asf.packetSize)), asf.packets.slice(0, 30).map((p) => packetContent(p, asf.packetSize)));
  t.is(r.a.counters.lost, 0);
});

test('a sender restarting at packet ID 0 starts a new run, not a loss', (t) => {
  const book = new FormatBook();
  const first = frameAll(asf, new MsbFramer({ name: 'msb:a', span: 0, formats: book, log, firstPacketId: 500_000 }), asf.packets.slice(0, 5));
  const second = frameAll(asf, new MsbFramer({ name: 'msb:b', span: 0, formats: book, log }), asf.packets.slice(5, 10));
  const r = receiver(asf, book);
  for (const d of [...first, ...second]) r.a.feed(d);
  t.is(r.got.length, 10);
  t.deepEqual(r.got.map((g) => g.sequence), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.is(r.a.counters.lost, 0);
});

test('a header too large for MSB makes the output send nothing rather than throw into the fan-out', (t) => {
  const framer = new MsbFramer({ name: 'msb:t', span: 10, formats: new FormatBook(), log });
  t.deepEqual(framer.header(Buffer.from('not a header')), []);
  t.is(framer.data(asf.packets[0]!), null);
  t.is(framer.end(), null);
});
