import test from '../helpers/test.js';
import { copyFile, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureFileBitrates, openAsfFile, packetForTime, parseAsfFile, seekPacketByTime } from '../../src/asf/file.js';
import { ASF_GUID_BYTES } from '../../src/asf/guid.js';
import { AsfLayoutCache } from '../../src/asf/layout-cache.js';
import { packetKeyFrameStreams, parseDataPacket, readSendTime } from '../../src/asf/packet.js';
import { MssError } from '../../src/core/errors.js';
import { ALL_FIXTURES, FIXTURES, fixture } from '../helpers/fixtures.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mss-asf-file-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('openAsfFile and parseAsfFile agree on layout and packets', async (t) => {
  for (const name of ALL_FIXTURES) {
    if (name === FIXTURES.stream20) continue;
    const file = await fixture(name);
    const mem = parseAsfFile(await readFile(file));
    const h = await openAsfFile(file);
    try {
      t.is(h.layout.packetCount, mem.packetCount, name);
      t.is(h.layout.packetCount, Number(mem.header.fileProperties.dataPacketsCount), name);
      t.true(h.layout.headerBytes.equals(mem.headerBytes), name);
      t.is(h.layout.headerBytes.length, mem.header.raw.length + 50);
      t.deepEqual(h.layout.simpleIndexes, mem.simpleIndexes, name);
      t.is(h.layout.firstPacketOffset, mem.dataObjectOffset + 50);
      const last = mem.packetCount - 1;
      t.true((await h.readPacket(last)).equals(mem.packet(last)), name);
      const some = await h.readPackets(3, 4);
      some.forEach((p, k) => t.true(p.equals(mem.packet(3 + k))));
      await t.throwsAsync(h.readPacket(mem.packetCount), { instanceOf: MssError });
      await t.throwsAsync(h.readPackets(-1, 2), { instanceOf: MssError });
    } finally {
      await h.close();
    }
  }
});

test('packetForTime uses the Simple Index and lands on a key frame at or before the time', async (t) => {
  const file = await openAsfFile(await fixture(FIXTURES.av120));
  try {
    const preroll = file.layout.header.fileProperties.prerollMs;
    for (let sec = 0; sec <= 115; sec += 7) {
      const pkt = packetForTime(file.layout, sec * 1000)!;
      t.true(packetKeyFrameStreams(await file.readPacket(pkt), 3200).has(1), `t=${sec}`);
      const p = parseDataPacket(await file.readPacket(pkt), 3200);
      const key = p.payloads.find((pl) => pl.keyFrame && pl.streamNumber === 1 && pl.offsetIntoObject === 0)!;
      const media = key.presentationTime - preroll;
      t.true((media <= sec * 1000 || pkt === 0) && media > sec * 1000 - 2000, `t=${sec}: key frame at ${media} ms`);
      t.is(await seekPacketByTime(file, sec * 1000), pkt);
    }
    t.is(packetForTime(file.layout, 1e9), packetForTime(file.layout, 200_000));
  } finally {
    await file.close();
  }
});

test('without an index seekPacketByTime binary-searches the send times', async (t) => {
  const file = await openAsfFile(await fixture(FIXTURES.audio20));
  try {
    t.is(packetForTime(file.layout, 5000), null);
    const n = file.layout.packetCount;
    for (const target of [0, 1, 4321, 10_000, 19_999, 50_000]) {
      const i = await seekPacketByTime(file, target);
      const st = readSendTime(await file.readPacket(i));
      t.true(i === 0 || st <= target, `target ${target}: packet ${i} sent at ${st}`);
      if (i + 1 < n) t.true(readSendTime(await file.readPacket(i + 1)) > target || i === 0);
    }
  } finally {
    await file.close();
  }
});

test('truncated and absurd files answer with an MssError, not a crash or a huge allocation', async (t) => {
  const whole = await readFile(await fixture(FIXTURES.av20));
  const headerLen = parseAsfFile(whole).header.raw.length;
  const write = async (name: string, buf: Buffer) => {
    const p = path.join(dir, name);
    await writeFile(p, buf);
    return p;
  };
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /Header Object at byte 0/],
    ['half-header', whole.subarray(0, 300), /Header Object at byte 0/],
    ['no-data-object', whole.subarray(0, headerLen + 20), new RegExp(`Data Object at byte ${headerLen}`)],
    ['truncated-packets', whole.subarray(0, 100_000), new RegExp(`Data Object at byte ${headerLen}: size \\d+ runs past the end`)],
    ['not-asf', Buffer.from('RIFF....WAVEfmt and some more bytes to be long enough'), /not the ASF Header GUID/],
    ['header-4gb', Buffer.concat([whole.subarray(0, 16), Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]), whole.subarray(24, 1000)]), /size 4294967296 exceeds/],
    ['garbage-after-data', Buffer.concat([whole, Buffer.from('trailing junk that is no object')]), /(truncated|object .* at byte|smaller than)/],
  ];
  for (const [name, buf, re] of cases) {
    const p = await write(name, buf);
    const e1 = await t.throwsAsync(openAsfFile(p), { instanceOf: MssError }, name);
    t.regex(e1!.message, re, name);
    const e2 = t.throws(() => parseAsfFile(buf), { instanceOf: MssError }, name);
    t.regex(e2!.message, /at byte \d+/, name);
  }
  await t.throwsAsync(openAsfFile(path.join(dir, 'missing.wmv')), { instanceOf: MssError, message: /cannot open/ });
});

test('a live-style Data Object (size 50, no count) runs to the end of the buffer', async (t) => {
  const whole = await readFile(await fixture(FIXTURES.av20));
  const mem = parseAsfFile(whole);
  const live = Buffer.concat([mem.headerBytes, ...Array.from({ length: 10 }, (_, i) => mem.packet(i))]);
  live.writeBigUInt64LE(50n, mem.dataObjectOffset + 16);
  live.writeBigUInt64LE(0n, mem.dataObjectOffset + 40);
  const l = parseAsfFile(live);
  t.is(l.packetCount, 10);
  t.true(l.packet(9).equals(mem.packet(9)));
});

/** An Index Object with one specifier (stream 1) built from a Simple Index, in one or two blocks. */
function indexObjectFrom(entries: number[], packetSize: number, blocks: number): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24 + 4 + 2 + 4 + 4);
  ASF_GUID_BYTES.Index.copy(head, 0);
  head.writeUInt32LE(1000, 24);
  head.writeUInt16LE(1, 28);
  head.writeUInt32LE(blocks, 30);
  head.writeUInt16LE(1, 34); // stream 1
  head.writeUInt16LE(3, 36); // nearest past cleanpoint
  parts.push(head);
  const per = Math.ceil(entries.length / blocks);
  for (let b = 0; b < blocks; b++) {
    const slice = entries.slice(b * per, (b + 1) * per);
    const base = (slice[0] ?? 0) * packetSize; // a block position, to check it is added
    const blk = Buffer.alloc(4 + 8 + slice.length * 4);
    blk.writeUInt32LE(slice.length, 0);
    blk.writeBigUInt64LE(BigInt(base), 4);
    slice.forEach((pkt, i) => blk.writeUInt32LE(pkt * packetSize - base, 12 + i * 4));
    parts.push(blk);
  }
  const out = Buffer.concat(parts);
  out.writeBigUInt64LE(BigInt(out.length), 16);
  return out;
}

test('an Index Object is used for seeking when there is no Simple Index', async (t) => {
  const mem = parseAsfFile(await readFile(await fixture(FIXTURES.av120)));
  const simple = mem.simpleIndexes[0]!.entries.map((e) => e.packetNumber);
  const at = mem.trailingObjects.find((o) => o.name === 'SimpleIndex')!;
  const whole = await readFile(await fixture(FIXTURES.av120));
  for (const blocks of [1, 2]) {
    const withIndex = Buffer.concat([whole.subarray(0, at.offset), indexObjectFrom(simple, mem.packetSize, blocks)]);
    const l = parseAsfFile(withIndex);
    t.is(l.simpleIndexes.length, 0);
    t.is(l.indexObjects.length, 1);
    t.is(l.indexObjects[0]!.offsets[0]!.length, simple.length);
    for (const sec of [0, 3, 17, 60, 99, 500]) t.is(packetForTime(l, sec * 1000), packetForTime(mem, sec * 1000), `t=${sec}`);
    const p = path.join(dir, `index-object-${blocks}.wmv`);
    await writeFile(p, withIndex);
    const h = await openAsfFile(p);
    t.is(await seekPacketByTime(h, 42_000), packetForTime(mem, 42_000)!);
    await h.close();
    // an entry count larger than the object is an error naming the block
    const bad = Buffer.from(withIndex);
    bad.writeUInt32LE(0x40000000, at.offset + 38);
    t.throws(() => parseAsfFile(bad), { instanceOf: MssError, message: /Index at byte \d+: block 0 claims/ });
  }
});

test('measured bitrates add up to the media data rate', async (t) => {
  const h = await openAsfFile(await fixture(FIXTURES.av20));
  try {
    const rates = await measureFileBitrates(h);
    t.deepEqual([...rates.keys()].sort(), [1, 2]);
    t.true(Math.abs(rates.get(2)! - 64_000) < 8_000, `audio measured ${rates.get(2)}`);
    t.true(rates.get(1)! > 100_000 && rates.get(1)! < 400_000, `video measured ${rates.get(1)}`);
  } finally {
    await h.close();
  }
});

test('a capture of ffmpeg -f asf written to a pipe (open-ended Data Object, index, $E) opens', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { AsfStreamParser } = await import('../../src/asf/stream-parser.js');
  const { stdout } = await promisify(execFile)('bash', ['-c',
    'ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i testsrc=size=160x120:rate=15:duration=4 -f lavfi -i sine=duration=4 ' +
    '-c:v wmv2 -b:v 100k -g 15 -c:a wmav2 -b:a 32k -f asf pipe:1 | base64 -w0'], { timeout: 60_000, maxBuffer: 64 << 20 });
  const capture = Buffer.from(stdout, 'base64');
  const expected = new AsfStreamParser().push(capture).filter((e) => e.type === 'packet').length;
  const p = path.join(dir, 'pipe-capture.asf');
  await writeFile(p, capture);
  const mem = parseAsfFile(capture);
  t.true(mem.header.fileProperties.broadcast);
  t.is(mem.packetCount, expected);
  t.is(mem.simpleIndexes.length, 1);
  const h = await openAsfFile(p);
  t.is(h.layout.packetCount, expected);
  t.deepEqual(h.layout.simpleIndexes, mem.simpleIndexes);
  t.not(packetForTime(h.layout, 2000), null);
  await h.close();
  // cut in the middle of a packet, as an interrupted capture is: the whole packets remain readable
  const cut = capture.subarray(0, mem.firstPacketOffset + 5 * 3200 + 1000);
  await writeFile(p, cut);
  t.is(parseAsfFile(cut).packetCount, 5);
  const h2 = await openAsfFile(p);
  t.is(h2.layout.packetCount, 5);
  t.true((await h2.readPacket(4)).equals(mem.packet(4)));
  await h2.close();
});

test('a layout cache serves a file opened again and reads it afresh once the file changed', async (t) => {
  const file = path.join(dir, 'cached.wmv');
  await copyFile(await fixture(FIXTURES.av20), file);
  const layouts = new AsfLayoutCache();
  const a = await openAsfFile(file, { layouts });
  const first = await a.readPackets(3, 2);
  await a.close();
  const b = await openAsfFile(file, { layouts });
  t.is(b.layout, a.layout, 'the second open shares the first one’s layout');
  t.deepEqual(await b.readPackets(3, 2), first);
  await b.close();
  t.deepEqual(layouts.stats, { hits: 1, misses: 1 });
  // rewritten in place (a new modification time): read again, and a broken file is refused as before
  await writeFile(file, Buffer.from('not an ASF file at all, but long enough to have a header'));
  await utimes(file, new Date(), new Date(Date.now() + 5000));
  await t.throwsAsync(openAsfFile(file, { layouts }), { message: /not the ASF Header GUID/ });
  t.is(layouts.stats.misses, 2);
});

test('a layout cache stays within its entry and byte bounds, least recently used out', async (t) => {
  const h = await openAsfFile(await fixture(FIXTURES.av20));
  await h.close();
  const layouts = new AsfLayoutCache({ maxEntries: 3, maxBytes: 1 << 20 });
  const st = (i: number) => ({ dev: 1, ino: i, size: 100, mtimeMs: 1 });
  for (let i = 0; i < 5; i++) layouts.set(`/f${i}`, st(i), h.layout);
  t.is(layouts.size, 3);
  t.is(layouts.get('/f0', st(0)), undefined);
  t.is(layouts.get('/f4', st(4)), h.layout);
  t.is(layouts.get('/f4', { ...st(4), size: 101 }), undefined, 'another size is another file');
  const tiny = new AsfLayoutCache({ maxEntries: 10, maxBytes: 1000 });
  tiny.set('/big', st(9), h.layout);
  t.is(tiny.size, 0, 'a layout bigger than a quarter of the bound is not kept');
});
