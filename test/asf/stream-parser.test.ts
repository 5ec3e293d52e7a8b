import test from '../helpers/test.js';
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { parseAsfFile } from '../../src/asf/file.js';
import { serializeHeaderObject } from '../../src/asf/header.js';
import { parseDataPacket, serializeDataPacket } from '../../src/asf/packet.js';
import { AsfStreamParser, type AsfStreamEvent } from '../../src/asf/stream-parser.js';
import { MssError } from '../../src/core/errors.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';

/** Feeds `buf` in pseudo-random chunk sizes (seeded) and collects events. */
function feed(parser: AsfStreamParser, buf: Buffer, seed = 1, maxChunk = 5000): { events: AsfStreamEvent[]; maxBuffered: number } {
  let s = seed;
  const events: AsfStreamEvent[] = [];
  let maxBuffered = 0;
  for (let pos = 0; pos < buf.length; ) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % maxChunk);
    events.push(...parser.push(buf.subarray(pos, pos + n)));
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    pos += n;
  }
  return { events, maxBuffered };
}

const packetsOf = (events: AsfStreamEvent[]) => events.flatMap((e) => (e.type === 'packet' ? [e.packet] : []));

test('a plain ASF file fed in small chunks yields its header and every packet, buffering at most one unit', async (t) => {
  const buf = await readFile(await fixture(FIXTURES.av20));
  const file = parseAsfFile(buf);
  for (const seed of [1, 2, 3]) {
    const { events, maxBuffered } = feed(new AsfStreamParser(), buf, seed, seed === 1 ? 7 : 9000);
    t.is(events[0]!.type, 'header');
    const first = events[0] as Extract<AsfStreamEvent, { type: 'header' }>;
    t.true(first.headerBytes.equals(file.headerBytes));
    const packets = packetsOf(events);
    t.is(packets.length, file.packetCount);
    packets.forEach((p, i) => t.true(p.equals(file.packet(i))));
    t.is(events.filter((e) => e.type === 'header').length, 1, 'the trailing Simple Index is skipped');
    t.true(maxBuffered <= file.headerBytes.length + 9000);
  }
});

test('the asf_stream ($H/$D/$E) form round-trips header and packets byte for byte', async (t) => {
  const buf = await readFile(await fixture(FIXTURES.stream20));
  const { events, maxBuffered } = feed(new AsfStreamParser(), buf, 5, 4000);
  const headers = events.filter((e): e is Extract<AsfStreamEvent, { type: 'header' }> => e.type === 'header');
  t.is(headers.length, 1);
  const h = headers[0]!;
  t.true(h.header.fileProperties.broadcast);
  t.true(serializeHeaderObject(h.header).equals(h.header.raw));
  t.is(h.headerBytes.length, h.header.raw.length + 50);
  const packets = packetsOf(events);
  t.is(packets.length, 227);
  for (const p of packets) t.true(serializeDataPacket(parseDataPacket(p, 3200), 3200).equals(p));
  t.true(maxBuffered <= 3212 + 4000);
  // the same media as the plain file
  const plain = parseAsfFile(await readFile(await fixture(FIXTURES.av20)));
  t.deepEqual(h.header.streams.map((s) => s.codec), plain.header.streams.map((s) => s.codec));
});

test('a new Header Object after packets (encoder restart) yields a new header event', async (t) => {
  const a = await readFile(await fixture(FIXTURES.audio20));
  const b = await readFile(await fixture(FIXTURES.av20));
  const { events } = feed(new AsfStreamParser(), Buffer.concat([a, b]), 9);
  const kinds = events.map((e) => (e.type === 'header' ? `H${e.header.streams.length}` : 'p'));
  t.is(kinds[0], 'H1');
  t.is(kinds.filter((k) => k.startsWith('H')).join(','), 'H1,H2');
  t.is(kinds.indexOf('H2'), 1 + parseAsfFile(a).packetCount);
  t.is(kinds.length, 2 + parseAsfFile(a).packetCount + parseAsfFile(b).packetCount);
});

test('limits: oversized header, bad packet size, garbage and $D before $H are MssErrors', async (t) => {
  const buf = await readFile(await fixture(FIXTURES.av20));
  const file = parseAsfFile(buf);
  t.throws(() => new AsfStreamParser({ maxHeaderBytes: 500 }).push(buf), { instanceOf: MssError, message: /exceeds the 500-byte limit/ });
  const huge = Buffer.from(buf.subarray(0, 30));
  huge.writeBigUInt64LE(4n << 30n, 16);
  t.throws(() => new AsfStreamParser().push(huge), { instanceOf: MssError, message: /ASF stream at byte 0: Header Object size 4294967296/ });
  t.throws(() => new AsfStreamParser().push(Buffer.from('hello world, no asf here')), { instanceOf: MssError, message: /neither an ASF Header/ });
  t.throws(() => new AsfStreamParser().push(Buffer.from('2444080000000000000008000000', 'hex')), { instanceOf: MssError, message: /\$D frame before any \$H/ });
  const fpAt = file.header.objects.find((o) => o.name === 'FileProperties')!.offset;
  for (const size of [0, 1 << 20]) {
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(size, fpAt + 92);
    bad.writeUInt32LE(size, fpAt + 96);
    t.throws(() => new AsfStreamParser().push(bad), { instanceOf: MssError, message: new RegExp(`packet size ${size}`) });
  }
  // a corrupt packet names its stream offset
  const corrupt = Buffer.from(buf);
  corrupt[file.firstPacketOffset + 3200 * 2 + 3] = 0x09;
  corrupt[file.firstPacketOffset + 3200 * 2 + 5] = 0xff;
  const err = t.throws(() => new AsfStreamParser().push(corrupt), { instanceOf: MssError });
  t.regex(err!.message, new RegExp(`packet at byte ${file.firstPacketOffset + 6400}`));
});

test('ffmpeg writing -f asf to a pipe is parsed live', async (t) => {
  const ff = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=15:duration=3', '-f', 'lavfi', '-i', 'sine=duration=3',
    '-c:v', 'wmv2', '-b:v', '100k', '-c:a', 'wmav2', '-b:a', '32k', '-f', 'asf', 'pipe:1',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => ff.kill('SIGKILL'));
  const parser = new AsfStreamParser();
  const events: AsfStreamEvent[] = [];
  for await (const chunk of ff.stdout) events.push(...parser.push(chunk as Buffer));
  t.is(events[0]!.type, 'header');
  t.true(packetsOf(events).length > 10);
  t.is(events.filter((e) => e.type === 'header').length, 1);
});
