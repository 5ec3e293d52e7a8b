/**
 * Seeded mutation fuzzing of every ASF entry point: any exception that is not an MssError fails.
 * Reproduce with FUZZ_SEED=<seed> (and FUZZ_ITERATIONS=<n>); the failure message names the iteration.
 */
import test from '../helpers/test.js';
import { readFile } from 'node:fs/promises';
import { packetForTime, parseAsfFile } from '../../src/asf/file.js';
import { parseDataObjectHead, parseHeaderObject, serializeHeaderObject, type AsfObject } from '../../src/asf/header.js';
import { buildContentDescriptionObject, buildScriptCommandObject, upsertHeaderObject } from '../../src/asf/header-builders.js';
import { ASF_GUID, ASF_GUID_BYTES, guidToBytes } from '../../src/asf/guid.js';
import { parseDataPacket } from '../../src/asf/packet.js';
import { AsfStreamParser } from '../../src/asf/stream-parser.js';
import { buildAsfFile } from '../../src/asf/writer.js';
import { MssError } from '../../src/core/errors.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { seededRandom as mulberry32 } from '../helpers/prng.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

const INTERESTING_32 = [0, 1, 2, 7, 8, 23, 24, 29, 30, 49, 50, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One mutated copy of `seed`. `hot` lists offsets worth hitting more often (size and count fields). */
function mutate(rand: () => number, seed: Buffer, hot: number[]): Buffer {
  const pick = (n: number) => Math.floor(rand() * n);
  let buf = Buffer.from(seed);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = hot.length && rand() < 0.4 ? hot[pick(hot.length)]! : pick(Math.max(1, buf.length));
    switch (pick(8)) {
      case 0:
        if (at < buf.length) buf[at]! ^= 1 << pick(8);
        break;
      case 1:
        if (at < buf.length) buf[at] = pick(256);
        break;
      case 2:
        if (at + 4 <= buf.length) buf.writeUInt32LE(INTERESTING_32[pick(INTERESTING_32.length)]!, at);
        break;
      case 3:
        if (at + 8 <= buf.length) buf.writeBigUInt64LE(BigInt(INTERESTING_32[pick(INTERESTING_32.length)]!) * (rand() < 0.2 ? 0x100000000n : 1n), at);
        break;
      case 4:
        if (at + 2 <= buf.length) buf.writeUInt16LE(INTERESTING_32[pick(INTERESTING_32.length)]! & 0xffff, at);
        break;
      case 5:
        buf = buf.subarray(0, pick(buf.length + 1)); // truncate
        break;
      case 6: {
        const len = pick(64);
        const from = pick(Math.max(1, buf.length));
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(from, from + len), buf.subarray(at)]); // insert a slice
        break;
      }
      default: {
        const len = 1 + pick(32);
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + len)]); // delete
        break;
      }
    }
  }
  return buf;
}

function fuzz(t: import('ava').ExecutionContext, name: string, seeds: Buffer[], hot: number[][], target: (b: Buffer) => unknown): void {
  const rand = mulberry32(SEED ^ [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7));
  const failures: string[] = [];
  let accepted = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const k = Math.floor(rand() * seeds.length);
    const input = mutate(rand, seeds[k]!, hot[k]!);
    try {
      target(input);
      accepted++;
    } catch (err) {
      if (!(err instanceof MssError)) {
        failures.push(`${name} iteration ${i} (FUZZ_SEED=${SEED}): ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
        if (failures.length >= 5) break;
      } else if (!/at byte|offset/i.test(err.message) && !/packet size|Data packet/.test(err.message)) {
        failures.push(`${name} iteration ${i}: MssError without a byte offset: ${err.message}`);
        if (failures.length >= 5) break;
      }
    }
  }
  t.deepEqual(failures, []);
  t.log(`${name}: ${ITERATIONS} inputs, ${accepted} accepted`);
}

interface Seeds {
  headers: Buffer[];
  headerHot: number[][];
  packets: Buffer[];
  smallFile: Buffer;
  smallFileWithIndexObject: Buffer;
  smallFileHot: number[];
  framed: Buffer;
  dataHead: Buffer;
}
let seeds: Seeds;

/** A header carrying every typed object: ESP with names, extension systems and an embedded stream, etc. */
function richHeader(base: Buffer): Buffer {
  const o = (guid: string, body: Buffer) => {
    const head = Buffer.alloc(24);
    guidToBytes(guid).copy(head, 0);
    head.writeBigUInt64LE(BigInt(24 + body.length), 16);
    return Buffer.concat([head, body]);
  };
  const le = (bits: 16 | 32, v: number) => { const b = Buffer.alloc(bits / 8); bits === 16 ? b.writeUInt16LE(v) : b.writeUInt32LE(v); return b; };
  const h = parseHeaderObject(base);
  const sp = Buffer.from(h.objects.find((x) => x.name === 'StreamProperties')!.raw);
  sp.writeUInt16LE(9, 72);
  const name = Buffer.from('Low\0', 'utf16le');
  const esp = o(ASF_GUID.ExtendedStreamProperties, Buffer.concat([Buffer.alloc(48), le(16, 9), le(16, 0), Buffer.alloc(8), le(16, 1), le(16, 1),
    le(16, 0), le(16, name.length), name, guidToBytes(ASF_GUID.PayloadExtPixelAspectRatio), le(16, 2), le(32, 0), sp]));
  const meta = Buffer.from('Key\0', 'utf16le');
  const as = (raw: Buffer): AsfObject => ({ guid: '', name: 'x', offset: 0, size: raw.length, raw });
  h.objects.find((x) => x.name === 'HeaderExtension')!.children!.push(
    as(esp),
    as(o(ASF_GUID.LanguageList, Buffer.concat([le(16, 1), Buffer.from([6]), Buffer.from('en\0', 'utf16le')]))),
    as(o(ASF_GUID.Metadata, Buffer.concat([le(16, 1), le(16, 0), le(16, 9), le(16, meta.length), le(16, 3), le(32, 4), meta, le(32, 7)]))),
    as(o(ASF_GUID.StreamPrioritization, Buffer.concat([le(16, 1), le(16, 1), le(16, 1)]))),
  );
  const desc = Buffer.from('M\0', 'utf16le');
  h.objects.push(
    as(o(ASF_GUID.StreamBitrateProperties, Buffer.concat([le(16, 2), le(16, 1), le(32, 300000), le(16, 2), le(32, 64000)]))),
    as(o(ASF_GUID.BitrateMutualExclusion, Buffer.concat([guidToBytes(ASF_GUID.MutexBitrate), le(16, 2), le(16, 1), le(16, 9)]))),
    as(o(ASF_GUID.Marker, Buffer.concat([Buffer.alloc(16), le(32, 1), le(16, 0), le(16, 0), Buffer.alloc(16), le(16, 0), le(32, 0), le(32, 0), le(32, 2), desc]))),
  );
  let out = serializeHeaderObject(h);
  out = upsertHeaderObject(out, buildContentDescriptionObject({ title: 'T', author: 'A' }));
  return upsertHeaderObject(out, buildScriptCommandObject([{ presentationTime: 1, type: 'URL', name: 'x' }, { presentationTime: 2, type: 'TEXT', name: 'y' }]));
}

/** A two-block Index Object with one specifier, pointing at packets 0..3. */
function indexObject(packetSize: number): Buffer {
  const head = Buffer.alloc(38);
  ASF_GUID_BYTES.Index.copy(head, 0);
  head.writeUInt32LE(1000, 24);
  head.writeUInt16LE(1, 28);
  head.writeUInt32LE(2, 30);
  head.writeUInt16LE(1, 34);
  head.writeUInt16LE(1, 36);
  const block = (first: number) => {
    const b = Buffer.alloc(4 + 8 + 8);
    b.writeUInt32LE(2, 0);
    b.writeBigUInt64LE(BigInt(first * packetSize), 4);
    b.writeUInt32LE(0, 12);
    b.writeUInt32LE(packetSize, 16);
    return b;
  };
  const out = Buffer.concat([head, block(0), block(2)]);
  out.writeBigUInt64LE(BigInt(out.length), 16);
  return out;
}

test.before(async () => {
  const av = parseAsfFile(await readFile(await fixture(FIXTURES.av20)));
  const mbr = parseAsfFile(await readFile(await fixture(FIXTURES.mbr20)));
  const audio = parseAsfFile(await readFile(await fixture(FIXTURES.audio20)));
  const hotOf = (h: ReturnType<typeof parseHeaderObject>) => [
    16, 24,
    ...h.objects.flatMap((o) => [o.offset + 16, o.offset + 24, o.offset + 40, o.offset + 64, o.offset + 68, o.offset + 92, o.offset + 96,
      ...(o.children ?? []).flatMap((c) => [c.offset + 16, c.offset + 24, c.offset + 26])]),
  ];
  const rich = richHeader(av.header.raw);
  const richParsed = parseHeaderObject(rich);
  if (!richParsed.markers || !richParsed.scriptCommands || richParsed.streams.length !== 3) throw new Error('rich header seed is incomplete');
  const small = buildAsfFile(av.header.raw, Array.from({ length: 4 }, (_, i) => av.packet(i)), { creationDate: 0n });
  const smallLayout = parseAsfFile(small);
  const framedParts: Buffer[] = [];
  const frame = (type: string, payload: Buffer, flags: number) => {
    const h = Buffer.alloc(12);
    h[0] = 0x24;
    h[1] = type.charCodeAt(0);
    h.writeUInt16LE(payload.length + 8, 2);
    h[9] = flags;
    h.writeUInt16LE(payload.length + 8, 10);
    return Buffer.concat([h, payload]);
  };
  framedParts.push(frame('H', av.headerBytes, 0x0c));
  for (let i = 0; i < 3; i++) framedParts.push(frame('D', av.packet(i), 0));
  seeds = {
    headers: [av.header.raw, mbr.header.raw, audio.header.raw, rich],
    headerHot: [hotOf(av.header), hotOf(mbr.header), hotOf(audio.header), hotOf(parseHeaderObject(rich))],
    packets: [0, 1, 2, 5, 21, 100].map((i) => av.packet(i)).concat([0, 3].map((i) => audio.packet(i)), [mbr.packet(7)]),
    smallFile: small,
    smallFileWithIndexObject: Buffer.concat([small, indexObject(smallLayout.packetSize)]),
    smallFileHot: [...hotOf(smallLayout.header), smallLayout.dataObjectOffset + 16, smallLayout.dataObjectOffset + 40,
      ...smallLayout.trailingObjects.flatMap((o) => [o.offset + 16, o.offset + 48, o.offset + 52])],
    framed: Buffer.concat(framedParts),
    dataHead: av.headerBytes.subarray(av.header.raw.length),
  };
});

test('fuzz parseHeaderObject', (t) => {
  fuzz(t, 'parseHeaderObject', seeds.headers, seeds.headerHot, (b) => parseHeaderObject(b));
});

test('fuzz parseDataObjectHead', (t) => {
  fuzz(t, 'parseDataObjectHead', [seeds.dataHead], [[16, 40, 48]], (b) => parseDataObjectHead(b));
});

test('fuzz parseDataPacket', (t) => {
  const hot = [0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 18, 19, 23, 27, 30];
  fuzz(t, 'parseDataPacket', seeds.packets, seeds.packets.map(() => hot), (b) => {
    // the real packet size, and sometimes a wrong one
    const size = b.length === 3200 || b.length === 0 ? 3200 : b.length;
    return parseDataPacket(b, size);
  });
});

test('fuzz parseAsfFile', (t) => {
  const withIndexHot = [...seeds.smallFileHot, ...[16, 24, 28, 30, 34, 38, 42, 50, 54, 58].map((k) => seeds.smallFile.length + k)];
  fuzz(t, 'parseAsfFile', [seeds.smallFile, seeds.smallFileWithIndexObject], [seeds.smallFileHot, withIndexHot], (b) => {
    const f = parseAsfFile(b);
    if (f.packetCount > 0) f.packet(f.packetCount - 1);
    packetForTime(f, 1500);
  });
});

test('fuzz AsfStreamParser', (t) => {
  const hot = seeds.smallFileHot;
  let flip = 0;
  fuzz(t, 'AsfStreamParser', [seeds.smallFile, seeds.framed], [hot, [0, 1, 2, 3, 9, 10, 11, 28, 36]], (b) => {
    const p = new AsfStreamParser();
    const cut = (flip = (flip * 1103515245 + 12345) & 0x7fffffff) % (b.length + 1);
    p.push(b.subarray(0, cut));
    p.push(b.subarray(cut));
    if (p.bufferedBytes > 1024 * 1024 + 65536) throw new Error(`parser buffers ${p.bufferedBytes} bytes`);
  });
});
