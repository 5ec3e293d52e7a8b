import test from '../helpers/test.js';
import { readFile } from 'node:fs/promises';
import { parseAsfFile } from '../../src/asf/file.js';
import {
  filterPacketStreams,
  packetKeyFrameStreams,
  parseDataPacket,
  readSendTime,
  restampPacket,
  serializeDataPacket,
  type AsfDataPacket,
} from '../../src/asf/packet.js';
import { MssError } from '../../src/core/errors.js';
import { ALL_FIXTURES, FIXTURES, fixture } from '../helpers/fixtures.js';

/** The worked example of asf.md §8: 64-byte packet, single payload, BYTE padding length. */
function workedExample(): Buffer {
  const b = Buffer.alloc(64);
  Buffer.from('8200000' + '8' + '5d' + '11' + '1c0c0000' + '0000' + '81' + '00' + '00000000' + '08' + '14000000' + '1c0c0000', 'hex').copy(b, 0);
  for (let i = 0; i < 20; i++) b[0x1b + i] = 0xa0 + i;
  return b;
}

/** Same packet with multiple payloads (asf.md §8 last paragraph). */
function workedExampleMultiple(): Buffer {
  const b = Buffer.alloc(64);
  Buffer.from('820000' + '09' + '5d' + '0e' + '1c0c0000' + '0000' + '81' + '81' + '00' + '00000000' + '08' + '14000000' + '1c0c0000' + '1400', 'hex').copy(b, 0);
  for (let i = 0; i < 20; i++) b[0x1e + i] = 0xa0 + i;
  return b;
}

test('worked example (single payload) parses field by field and round-trips', (t) => {
  const buf = workedExample();
  const p = parseDataPacket(buf, 64);
  t.deepEqual(p.errorCorrection, Buffer.from([0x82, 0, 0]));
  t.false(p.multiplePayloads);
  t.is(p.paddingLength, 17);
  t.is(p.sendTime, 3100);
  t.is(p.duration, 0);
  t.is(p.packetLength, 64);
  t.is(p.payloads.length, 1);
  const pl = p.payloads[0]!;
  t.is(pl.streamNumber, 1);
  t.true(pl.keyFrame);
  t.is(pl.objectNumber, 0);
  t.is(pl.offsetIntoObject, 0);
  t.is(pl.objectSize, 20);
  t.is(pl.presentationTime, 3100);
  t.is(pl.data.length, 20);
  t.is(pl.data[0], 0xa0);
  t.true(serializeDataPacket(p, 64).equals(buf));
  t.is(readSendTime(buf), 3100);
  t.deepEqual([...packetKeyFrameStreams(buf, 64)], [1]);
});

test('worked example (multiple payloads) parses and round-trips', (t) => {
  const buf = workedExampleMultiple();
  const p = parseDataPacket(buf, 64);
  t.true(p.multiplePayloads);
  t.is(p.paddingLength, 14);
  t.is(p.payloadLengthType, 2);
  t.is(p.payloads[0]!.data.length, 20);
  t.true(serializeDataPacket(p, 64).equals(buf));
});

test('every packet of every fixture re-serializes byte for byte', async (t) => {
  let total = 0;
  for (const name of ALL_FIXTURES) {
    if (name === FIXTURES.stream20) continue;
    const file = parseAsfFile(await readFile(await fixture(name)));
    for (let i = 0; i < file.packetCount; i++) {
      const pkt = file.packet(i);
      const p = parseDataPacket(pkt, file.packetSize);
      if (!serializeDataPacket(p, file.packetSize).equals(pkt)) t.fail(`${name} packet ${i} differs`);
      t.is(readSendTime(pkt), p.sendTime);
      total++;
    }
  }
  t.true(total > 1000);
});

test('restampPacket shifts the send time and every presentation time, nothing else', async (t) => {
  const file = parseAsfFile(await readFile(await fixture(FIXTURES.av20)));
  for (const i of [0, 1, 50, file.packetCount - 1]) {
    const pkt = file.packet(i);
    const before = parseDataPacket(pkt, 3200);
    const moved = restampPacket(pkt, 3200, 123456);
    const after = parseDataPacket(moved, 3200);
    t.is(after.sendTime, before.sendTime + 123456);
    t.deepEqual(after.payloads.map((p) => p.presentationTime), before.payloads.map((p) => p.presentationTime + 123456));
    t.deepEqual(after.payloads.map((p) => p.data), before.payloads.map((p) => p.data));
    t.true(restampPacket(moved, 3200, -123456).equals(pkt));
  }
  t.throws(() => restampPacket(file.packet(0), 3200, -1e9), { instanceOf: MssError, message: /32-bit range/ });
});

test('filterPacketStreams keeps only the chosen streams', async (t) => {
  const file = parseAsfFile(await readFile(await fixture(FIXTURES.mbr20)));
  let mixed = 0;
  for (let i = 0; i < file.packetCount; i++) {
    const pkt = file.packet(i);
    const streams = new Set(parseDataPacket(pkt, 3200).payloads.map((p) => p.streamNumber));
    t.is(filterPacketStreams(pkt, 3200, new Set([1, 2, 3])), pkt);
    const kept = filterPacketStreams(pkt, 3200, new Set([2, 3]));
    if (!streams.has(2) && !streams.has(3)) {
      t.is(kept, null);
      continue;
    }
    t.truthy(kept);
    t.is(kept!.length, 3200);
    const p = parseDataPacket(kept!, 3200);
    t.true(p.payloads.every((pl) => pl.streamNumber !== 1));
    if (streams.has(1)) mixed++;
    const original = parseDataPacket(pkt, 3200).payloads.filter((pl) => pl.streamNumber !== 1);
    t.deepEqual(p.payloads.map((pl) => [pl.streamNumber, pl.presentationTime, pl.data.length]), original.map((pl) => [pl.streamNumber, pl.presentationTime, pl.data.length]));
    t.is(p.sendTime, parseDataPacket(pkt, 3200).sendTime);
  }
  t.true(mixed > 0);
});

test('key frames are found at the Simple Index packets', async (t) => {
  const file = parseAsfFile(await readFile(await fixture(FIXTURES.av20)));
  const keyPackets = new Set<number>();
  for (let i = 0; i < file.packetCount; i++) if (packetKeyFrameStreams(file.packet(i), 3200).has(1)) keyPackets.add(i);
  for (const e of file.simpleIndexes[0]!.entries) t.true(keyPackets.has(e.packetNumber), `index packet ${e.packetNumber}`);
});

test('compressed payloads (replicated data length 1) parse into sub-payloads and round-trip', (t) => {
  const p: AsfDataPacket = {
    errorCorrection: Buffer.from([0x82, 0, 0]),
    sendTime: 500,
    duration: 0,
    multiplePayloads: true,
    payloads: [
      {
        streamNumber: 3, keyFrame: true, objectNumber: 7, offsetIntoObject: 0, objectSize: 0, presentationTime: 4000,
        replicatedData: Buffer.from([40]), data: Buffer.from([2, 0xaa, 0xbb, 1, 0xcc]),
        compressed: { presentationTimeDelta: 40, subPayloads: [] },
      },
    ],
    paddingLength: 0,
    packetLength: 0,
    sequence: 0,
    lengthTypeFlags: 0,
    propertyFlags: 0x5d,
    payloadLengthType: 2,
  };
  const buf = serializeDataPacket(p, 100);
  t.is(buf.length, 100);
  const q = parseDataPacket(buf, 100);
  const pl = q.payloads[0]!;
  t.is(pl.presentationTime, 4000);
  t.deepEqual(pl.compressed?.subPayloads.map((s) => [...s]), [[0xaa, 0xbb], [0xcc]]);
  t.true(serializeDataPacket(q, 100).equals(buf));
  const moved = parseDataPacket(restampPacket(buf, 100, 1000), 100);
  t.is(moved.payloads[0]!.presentationTime, 5000);
  t.is(moved.sendTime, 1500);
  t.throws(() => parseDataPacket(Buffer.concat([buf.subarray(0, 23), Buffer.from([9]), buf.subarray(24)]), 100), { instanceOf: MssError });
});

test('a packet with no ECC and an explicit Packet Length shorter than the packet size', (t) => {
  const p: AsfDataPacket = {
    errorCorrection: null, sendTime: 10, duration: 5, multiplePayloads: false,
    payloads: [{ streamNumber: 2, keyFrame: false, objectNumber: 1, offsetIntoObject: 0, objectSize: 4, presentationTime: 20, replicatedData: Buffer.alloc(8), data: Buffer.from([1, 2, 3, 4]) }],
    paddingLength: 0, packetLength: 60, sequence: 3, lengthTypeFlags: (2 << 5) | (1 << 1), propertyFlags: 0x5d, payloadLengthType: 0,
  };
  const buf = serializeDataPacket(p, 80);
  const q = parseDataPacket(buf, 80);
  t.is(q.packetLength, 60);
  t.is(q.sequence, 3);
  t.is(q.duration, 5);
  t.deepEqual([...q.payloads[0]!.data], [1, 2, 3, 4]);
  t.is(q.payloads[0]!.objectSize, 4);
  t.true(serializeDataPacket(q, 80).equals(buf));
});

test('malformed packets answer with an MssError naming the byte offset', (t) => {
  const good = workedExample();
  const bad = (fn: (b: Buffer) => void) => { const b = Buffer.from(good); fn(b); return b; };
  const cases: [Buffer, number, RegExp][] = [
    [good.subarray(0, 40), 64, /packet has 40 bytes/],
    [good, 0, /packet size 0/],
    [good, 1 << 20, /packet size 1048576/],
    [bad((b) => (b[0x12] = 4)), 64, /Replicated Data Length 4 .*at byte 18/],
    [bad((b) => (b[5] = 60)), 64, /Padding Length 60/],
    [bad((b) => (b[0] = 0xa2)), 64, /error correction length type/],
    [bad((b) => (b[0] = 0x92)), 64, /opaque error correction/],
    [bad((b) => { b[3] = 0x09; b[5] = 0; b[0x0c] = 0x80; }), 64, /0 payloads/],
    [bad((b) => { b[3] = 0x09; b[5] = 0; b[0x0c] = 0x01; }), 64, /Payload Length Type 0/],
  ];
  for (const [buf, size, re] of cases) {
    const err = t.throws(() => parseDataPacket(buf, size), { instanceOf: MssError });
    t.regex(err!.message, re);
    t.regex(err!.message, /at byte \d+/);
  }
  t.throws(() => readSendTime(Buffer.from([0x82])), { instanceOf: MssError });
  t.throws(() => serializeDataPacket({ ...parseDataPacket(good, 64), payloads: [] }, 64), { instanceOf: MssError });
  const p = parseDataPacket(good, 64);
  p.payloads[0]!.data = Buffer.alloc(100);
  t.throws(() => serializeDataPacket(p, 64), { instanceOf: MssError, message: /only \d+ fit/ });
});
