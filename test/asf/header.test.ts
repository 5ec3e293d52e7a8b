import test from '../helpers/test.js';
import { readFile } from 'node:fs/promises';
import { ASF_GUID, guidToBytes } from '../../src/asf/guid.js';
import {
  makeBroadcastHeader,
  parseDataObjectHead,
  parseHeaderObject,
  serializeDataObjectHead,
  serializeHeaderObject,
  type AsfObject,
} from '../../src/asf/header.js';
import { parseAsfFile } from '../../src/asf/file.js';
import { MssError } from '../../src/core/errors.js';
import { ALL_FIXTURES, FIXTURES, fixture } from '../helpers/fixtures.js';

async function headerOf(name: string): Promise<Buffer> {
  const buf = await readFile(await fixture(name));
  return parseAsfFile(buf).header.raw;
}

function obj(guid: string, body: Buffer): Buffer {
  const head = Buffer.alloc(24);
  guidToBytes(guid).copy(head, 0);
  head.writeBigUInt64LE(BigInt(24 + body.length), 16);
  return Buffer.concat([head, body]);
}
const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
const wstr = (s: string) => Buffer.from(s + '\0', 'utf16le');
function asObject(raw: Buffer): AsfObject {
  return { guid: '', name: 'synthetic', offset: 0, size: raw.length, raw };
}

test('every fixture header parses and re-serializes byte for byte', async (t) => {
  for (const name of ALL_FIXTURES) {
    if (name === FIXTURES.stream20) continue; // framed; covered by the stream parser tests
    const raw = await headerOf(name);
    const h = parseHeaderObject(raw);
    t.true(serializeHeaderObject(h).equals(raw), name);
    t.is(h.fileProperties.packetSize, 3200, name);
    t.is(h.fileProperties.prerollMs, 3100, name);
    t.false(h.fileProperties.broadcast, name);
    t.true(h.streams.length >= 1, name);
    t.is(h.extendedContent?.['WM/EncodingSettings'], 'Lavf59.27.100', name);
  }
});

test('streams, codecs and sizes of the A/V fixture', async (t) => {
  const h = parseHeaderObject(await headerOf(FIXTURES.av20));
  t.is(h.durationMs, 20046);
  t.deepEqual(
    h.streams.map((s) => [s.number, s.type, s.codec, s.codecName, s.width ?? s.sampleRate]),
    [
      [1, 'video', 'WMV2', 'wmv2', 320],
      [2, 'audio', 'wmav2', 'wmav2', 44100],
    ],
  );
  t.is(h.streams[1]!.bitrate, 64000);
  t.is(h.streams[1]!.channels, 2);
  t.deepEqual(h.codecList?.map((c) => c.type), ['video', 'audio']);
  t.deepEqual(h.metadata?.map((m) => m.name), ['AspectRatioX', 'AspectRatioY']);
  t.is(h.objects.find((o) => o.name === 'HeaderExtension')!.children![0]!.name, 'Metadata');
});

test('typed objects are parsed and everything stays byte-identical', async (t) => {
  const base = parseHeaderObject(await headerOf(FIXTURES.av20));
  // Extended Stream Properties for stream 1 with one name and one payload extension system
  const espBody = Buffer.concat([
    u64(0n), u64(0n), u32(300000), u32(3000), u32(3000), u32(300000), u32(3000), u32(3000), u32(65536), u32(2),
    u16(1), u16(0), u64(400000n), u16(1), u16(1),
    u16(0), u16(wstr('Hi').length), wstr('Hi'),
    guidToBytes(ASF_GUID.PayloadExtSampleDuration), u16(2), u32(0),
  ]);
  const esp = obj(ASF_GUID.ExtendedStreamProperties, espBody);
  const lang = obj(ASF_GUID.LanguageList, Buffer.concat([u16(1), Buffer.from([wstr('en-us').length]), wstr('en-us')]));
  const prio = obj(ASF_GUID.StreamPrioritization, Buffer.concat([u16(2), u16(2), u16(1), u16(1), u16(0)]));
  const ext = base.objects.find((o) => o.name === 'HeaderExtension')!;
  ext.children!.push(asObject(esp), asObject(lang), asObject(prio), asObject(obj(ASF_GUID.Padding, Buffer.alloc(10))));
  const bitrates = obj(ASF_GUID.StreamBitrateProperties, Buffer.concat([u16(2), u16(1), u32(290000), u16(2), u32(64000)]));
  const cd = obj(
    ASF_GUID.ContentDescription,
    Buffer.concat([u16(wstr('T').length), u16(wstr('A').length), u16(wstr('C').length), u16(wstr('D').length), u16(0), wstr('T'), wstr('A'), wstr('C'), wstr('D')]),
  );
  const mutex = obj(ASF_GUID.BitrateMutualExclusion, Buffer.concat([guidToBytes(ASF_GUID.MutexBitrate), u16(2), u16(1), u16(3)]));
  const encryption = obj(ASF_GUID.ContentEncryption, Buffer.from('opaque drm blob'));
  const unknown = obj('01234567-89AB-CDEF-0123-456789ABCDEF', Buffer.from([1, 2, 3]));
  base.objects.push(...[bitrates, cd, mutex, encryption, unknown].map(asObject));
  const bytes = serializeHeaderObject(base);

  const h = parseHeaderObject(bytes);
  t.true(serializeHeaderObject(h).equals(bytes));
  t.is(h.streams[0]!.bitrate, 290000);
  t.is(h.streams[0]!.name, 'Hi');
  t.is(h.extendedStreams![0]!.payloadExtensionSystems[0]!.name, 'PayloadExtSampleDuration');
  t.is(h.extendedStreams![0]!.dataBitrate, 300000);
  t.deepEqual(h.languages, ['en-us']);
  t.deepEqual(h.streamPriorities, [{ streamNumber: 2, mandatory: true }, { streamNumber: 1, mandatory: false }]);
  t.deepEqual(h.contentDescription, { title: 'T', author: 'A', copyright: 'C', description: 'D', rating: '' });
  t.deepEqual(h.mutualExclusion, [{ kind: 'bitrate', exclusionType: ASF_GUID.MutexBitrate, streams: [1, 3] }]);
  t.is(h.totalBitrate, 354000);
  const names = h.objects.map((o) => o.name);
  t.true(names.includes('ContentEncryption') && names.includes('unknown'));
  t.true(h.objects.find((o) => o.name === 'ContentEncryption')!.raw.equals(encryption));
});

test('a stream described only inside Extended Stream Properties is found', async (t) => {
  const base = parseHeaderObject(await headerOf(FIXTURES.av20));
  const sp = base.objects.find((o) => o.name === 'StreamProperties')!.raw;
  const embedded = Buffer.from(sp);
  embedded.writeUInt16LE((embedded.readUInt16LE(72) & ~0x7f) | 5, 72); // stream 5
  const espBody = Buffer.concat([Buffer.alloc(48), u16(5), u16(0), u64(0n), u16(0), u16(0), embedded]);
  base.objects.find((o) => o.name === 'HeaderExtension')!.children!.push(asObject(obj(ASF_GUID.ExtendedStreamProperties, espBody)));
  const h = parseHeaderObject(serializeHeaderObject(base));
  const s5 = h.streams.find((s) => s.number === 5)!;
  t.truthy(s5);
  t.true(s5.embedded);
  t.is(s5.codec, 'WMV2');
});

test('makeBroadcastHeader sets Broadcast, zeroes sizes and appends a 50-byte Data Object head of size 0', async (t) => {
  const raw = await headerOf(FIXTURES.av20);
  const live = makeBroadcastHeader(raw);
  t.is(live.length, raw.length + 50);
  const h = parseHeaderObject(live);
  const fp = h.fileProperties;
  t.true(fp.broadcast);
  t.false(fp.seekable);
  t.is(fp.fileSize, 0n);
  t.is(fp.dataPacketsCount, 0n);
  t.is(fp.playDuration, 0n);
  t.is(fp.sendDuration, 0n);
  t.is(fp.packetSize, 3200);
  t.is(fp.prerollMs, 3100);
  t.is(h.durationMs, 0);
  const d = parseDataObjectHead(live, h.raw.length);
  // size 0: VLC 3's ASF demuxer takes any other size as the end of the data and stops a live stream there
  t.is(d.size, 0n);
  t.is(d.totalPackets, 0n);
  t.is(d.reserved, 0x0101);
  t.true(serializeDataObjectHead(d).equals(live.subarray(h.raw.length)));
  // idempotent, and the original is untouched
  t.true(makeBroadcastHeader(live).equals(live));
  t.false(parseHeaderObject(raw).fileProperties.broadcast);
});

function expectError(t: import('ava').ExecutionContext, fn: () => unknown, pattern: RegExp): void {
  const err = t.throws(fn, { instanceOf: MssError });
  t.regex(err!.message, pattern);
}

test('bad headers answer with an MssError naming the object and byte offset', async (t) => {
  const raw = await headerOf(FIXTURES.av20);
  const h = parseHeaderObject(raw);
  const fpAt = h.objects.find((o) => o.name === 'FileProperties')!.offset;
  const spAt = h.objects.find((o) => o.name === 'StreamProperties')!.offset;
  const patched = (fn: (b: Buffer) => void) => { const b = Buffer.from(raw); fn(b); return b; };

  expectError(t, () => parseHeaderObject(raw.subarray(0, 20)), /Header Object at byte 0/);
  expectError(t, () => parseHeaderObject(raw.subarray(0, 400)), /Header Object at byte 0: size \d+ but only 400/);
  expectError(t, () => parseHeaderObject(patched((b) => (b[3] = 0x11))), /not the ASF Header GUID/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeBigUInt64LE(0x100000000n, 16))), /size 4294967296 exceeds/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeBigUInt64LE(10n, 16))), /smaller than its 30-byte/);
  expectError(t, () => parseHeaderObject(patched((b) => (b[29] = 7))), /Reserved2/);
  expectError(t, () => parseHeaderObject(patched((b) => { b.writeUInt32LE(0, fpAt + 92); b.writeUInt32LE(0, fpAt + 96); })), new RegExp(`FileProperties at byte ${fpAt}: packet size 0`));
  expectError(t, () => parseHeaderObject(patched((b) => { b.writeUInt32LE(1 << 20, fpAt + 92); b.writeUInt32LE(1 << 20, fpAt + 96); })), /packet size 1048576/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeUInt32LE(1000, fpAt + 92))), /variable packet size/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeBigUInt64LE(0n, spAt + 16))), new RegExp(`StreamProperties object .* at byte ${spAt}: size 0 is smaller`));
  expectError(t, () => parseHeaderObject(patched((b) => b.writeBigUInt64LE(23n, spAt + 16))), /size 23 is smaller/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeBigUInt64LE(1n << 40n, spAt + 16))), /runs past the end/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeUInt32LE(0xffffff, spAt + 64))), /StreamProperties: Type-Specific Data at byte/);
  expectError(t, () => parseHeaderObject(patched((b) => b.writeUInt16LE(0, spAt + 72))), /stream number 0/);
  // no File Properties at all: turn it into an unknown object
  expectError(t, () => parseHeaderObject(patched((b) => (b[fpAt] ^= 0xff))), /no File Properties/);
});

test('bad Data Object heads are rejected', async (t) => {
  const buf = await readFile(await fixture(FIXTURES.av20));
  const at = parseHeaderObject(buf).raw.length;
  t.is(parseDataObjectHead(buf, at).totalPackets, 227n);
  expectError(t, () => parseDataObjectHead(buf.subarray(0, at + 30), at), new RegExp(`Data Object at byte ${at}: needs 50 bytes`));
  expectError(t, () => parseDataObjectHead(buf, 0), /not the ASF Data GUID/);
  const b = Buffer.from(buf.subarray(at, at + 50));
  b.writeBigUInt64LE(30n, 16);
  expectError(t, () => parseDataObjectHead(b), /size 30 is smaller/);
});

test('a Number of Header Objects that disagrees with the objects found is kept on re-serialization', async (t) => {
  const raw = Buffer.from(await headerOf(FIXTURES.av20));
  raw.writeUInt32LE(99, 24);
  const h = parseHeaderObject(raw);
  t.true(serializeHeaderObject(h).equals(raw));
  h.objects.push(asObject(obj(ASF_GUID.Padding, Buffer.alloc(4))));
  t.is(serializeHeaderObject(h).readUInt32LE(24), 100);
});

test('builders: Content Description and Script Command objects go into a header and parse back', async (t) => {
  const { buildContentDescriptionObject, buildScriptCommandObject, upsertHeaderObject, removeHeaderObjects } = await import('../../src/asf/header-builders.js');
  const raw = await headerOf(FIXTURES.av20);
  const live = makeBroadcastHeader(raw);
  let out = upsertHeaderObject(live, buildContentDescriptionObject({ title: 'Évening news', author: 'mss' }));
  out = upsertHeaderObject(out, buildScriptCommandObject([{ presentationTime: 3100, type: 'FILENAME', name: 'http://host/new.asx' }]));
  // the Data Object head after the Header Object is kept
  const h = parseHeaderObject(out);
  t.is(out.length, h.raw.length + 50);
  t.is(parseDataObjectHead(out, h.raw.length).size, 0n);
  t.is(h.contentDescription?.title, 'Évening news');
  t.is(h.contentDescription?.author, 'mss');
  t.is(h.contentDescription?.rating, '');
  t.deepEqual(h.scriptCommands, [{ presentationTime: 3100, type: 'FILENAME', name: 'http://host/new.asx' }]);
  t.is(h.raw.readUInt32LE(24), parseHeaderObject(raw).objects.length + 2);
  // replacing keeps one object of the kind
  const again = parseHeaderObject(upsertHeaderObject(out, buildContentDescriptionObject({ title: 'Late news' })));
  t.is(again.contentDescription?.title, 'Late news');
  t.is(again.objects.filter((o) => o.name === 'ContentDescription').length, 1);
  const removed = parseHeaderObject(removeHeaderObjects(out, ASF_GUID.ScriptCommand));
  t.is(removed.scriptCommands, undefined);
  t.throws(() => upsertHeaderObject(raw, Buffer.alloc(10)), { instanceOf: MssError });
});

test('a Marker object is read', async (t) => {
  const base = parseHeaderObject(await headerOf(FIXTURES.av20));
  const desc = Buffer.from('Chapter 1\0', 'utf16le');
  const marker = obj(
    ASF_GUID.Marker,
    Buffer.concat([Buffer.alloc(16), u32(1), u16(0), u16(0), u64(6400n), u64(50_000_000n), u16(18 + desc.length), u32(2000), u32(0), u32(desc.length / 2), desc]),
  );
  base.objects.push(asObject(marker));
  const h = parseHeaderObject(serializeHeaderObject(base));
  t.deepEqual(h.markers, [{ offset: 6400n, presentationTime: 50_000_000n, sendTime: 2000, flags: 0, description: 'Chapter 1' }]);
  const bad = Buffer.from(marker);
  bad.writeUInt32LE(0x7fffffff, bad.length - desc.length - 4);
  const b2 = parseHeaderObject(serializeHeaderObject(base));
  b2.objects[b2.objects.length - 1] = asObject(bad);
  t.throws(() => parseHeaderObject(serializeHeaderObject(b2)), { instanceOf: MssError, message: /Marker: marker 0 Description Length at byte \d+/ });
});
