import test from '../../helpers/test.js';
import { parseDataPacket } from '../../../src/asf/index.js';
import { isMssError } from '../../../src/core/errors.js';
import { buildBeacon, encodeMsbPacket, parseMsbDatagram, readErrorCorrection, writeErrorCorrection } from '../../../src/protocols/msb/codec.js';
import { restoreFromMsb, shapeForMsb } from '../../../src/protocols/msb/packet-shape.js';
import { ParityAccumulator, recoverFromParity } from '../../../src/protocols/msb/parity.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';
import { loadAsf, packetContent } from './helpers.js';

const hex = (b: Buffer) => b.toString('hex');

test('a Beacon is the four bytes "MSB " and nothing else of four bytes passes as one', (t) => {
  t.is(hex(buildBeacon()), '4d534220');
  t.deepEqual(parseMsbDatagram(buildBeacon()), { kind: 'beacon' });
  t.regex(t.throws(() => parseMsbDatagram(Buffer.from('MSBX')))!.message, /4-byte datagram 4d534258 is not an MSB Beacon/);
});

test('an MSB packet is dwPacketID, wStreamID, wPacketSize (little-endian, size counting the header) + the ASF packet', (t) => {
  const d = encodeMsbPacket(0x01020304, 0x839e, Buffer.from([0xaa, 0xbb, 0xcc]));
  t.is(hex(d), '040302019e830b00aabbcc');
  const p = parseMsbDatagram(d);
  t.like(p, { kind: 'packet', packetId: 0x01020304, streamId: 0x839e, formatId: 0x39e });
  t.is(p.kind === 'packet' ? hex(p.asf) : '', 'aabbcc');
});

test('malformed MSB datagrams are precise MssErrors', (t) => {
  const msg = (b: Buffer) => {
    const e = t.throws(() => parseMsbDatagram(b));
    t.true(isMssError(e));
    return e!.message;
  };
  t.regex(msg(Buffer.alloc(5)), /5 bytes is shorter than the 8-byte packet header/);
  const d = encodeMsbPacket(1, 5, Buffer.alloc(10));
  t.regex(msg(d.subarray(0, 15)), /wPacketSize 18 does not match the 15-byte datagram/);
  t.regex(msg(Buffer.concat([d, Buffer.alloc(1)])), /wPacketSize 18 does not match the 19-byte datagram/);
  const reserved = Buffer.from(d);
  reserved.writeUInt16LE(0x0805, 4);
  t.regex(msg(reserved), /reserved bits 11-14 set/);
  t.regex(msg(encodeMsbPacket(1, 5, Buffer.alloc(0))), /carries no ASF packet/);
  t.throws(() => encodeMsbPacket(1, 0x0800, Buffer.alloc(1)));
  t.throws(() => encodeMsbPacket(-1, 1, Buffer.alloc(1)));
  t.throws(() => encodeMsbPacket(1, 1, Buffer.alloc(0xfff8)));
});

test('error-correction data: Type in the low nibble, Number in the high one, then Cycle; parity sets Opaque Data Present', (t) => {
  const b = Buffer.alloc(4);
  writeErrorCorrection(b, 1, 3, 7);
  t.is(hex(b.subarray(0, 3)), '823107');
  t.like(readErrorCorrection(b), { present: true, prefixBytes: 3, opaque: false, type: 1, number: 3, cycle: 7 });
  writeErrorCorrection(b, 2, 11, 255);
  t.is(hex(b.subarray(0, 3)), '92b2ff');
  t.like(readErrorCorrection(b), { opaque: true, type: 2, number: 11, cycle: 255 });
  t.like(readErrorCorrection(Buffer.from([0x11, 0x5d])), { present: false, prefixBytes: 0 });
  t.regex(t.throws(() => readErrorCorrection(Buffer.from([0xa2, 0, 0])))!.message, /Length Type 1/);
  t.regex(t.throws(() => readErrorCorrection(Buffer.from([0x8f, 0])))!.message, /15 bytes runs past/);
});

test('every packet of a file leaves without its padding, with the MSB prefix, and comes back carrying the same payloads', async (t) => {
  const asf = await loadAsf(await fixture(FIXTURES.av20));
  let saved = 0;
  let kinds = new Set<string>();
  for (const [i, p] of asf.packets.entries()) {
    const shaped = shapeForMsb(p, asf.packetSize, { number: (i % 10) + 1, cycle: i & 0xff });
    t.true(shaped.protected);
    t.true(shaped.asf.length <= asf.packetSize);
    t.like(readErrorCorrection(shaped.asf), { type: 1, number: (i % 10) + 1, cycle: i & 0xff });
    const wire = parseDataPacket(Buffer.concat([shaped.asf, Buffer.alloc(asf.packetSize - shaped.asf.length)]), asf.packetSize);
    t.is(wire.paddingLength, 0);
    saved += asf.packetSize - shaped.asf.length;
    kinds.add(parseDataPacket(p, asf.packetSize).multiplePayloads ? 'multiple' : 'single');
    const back = restoreFromMsb(shaped.asf, asf.packetSize);
    t.is(back.length, asf.packetSize);
    t.is(hex(back.subarray(0, 3)), '820000');
    t.is(packetContent(back, asf.packetSize), packetContent(p, asf.packetSize));
  }
  t.deepEqual([...kinds].sort(), ['multiple', 'single']);
  t.true(saved > 0);
  // without error correction the packet keeps its own EC bytes
  const plain = shapeForMsb(asf.packets[0]!, asf.packetSize, null);
  t.false(plain.protected);
  t.is(hex(plain.asf.subarray(0, 3)), hex(asf.packets[0]!.subarray(0, 3)));
});

test('a packet with no room for the error-correction prefix goes out unprotected, unchanged', (t) => {
  // no EC block, no padding: a single payload filling the packet
  const size = 64;
  const p = Buffer.alloc(size);
  p[0] = 0x00; // Length Type Flags: no packet length, no padding field, single payload
  p[1] = 0x5d;
  p.writeUInt32LE(1000, 2);
  p[8] = 0x81; // stream 1, key frame
  p[9] = 0; // object number
  p.writeUInt32LE(0, 10); // offset
  p[14] = 8; // replicated data length
  p.writeUInt32LE(size - 23, 15);
  p.writeUInt32LE(1000, 19);
  p.fill(0x33, 23);
  const shaped = shapeForMsb(p, size, { number: 1, cycle: 0 });
  t.false(shaped.protected);
  t.true(shaped.asf.equals(p));
  t.is(packetContent(restoreFromMsb(shaped.asf, size), size), packetContent(p, size));
});

test('restoring refuses parity, oversized and non-ASF packets', (t) => {
  const parity = Buffer.alloc(10);
  writeErrorCorrection(parity, 2, 2, 0);
  t.regex(t.throws(() => restoreFromMsb(parity, 100))!.message, /parity packet is not a data packet/);
  t.regex(t.throws(() => restoreFromMsb(Buffer.alloc(200), 100))!.message, /larger than the header's packet size 100/);
  t.true(isMssError(t.throws(() => restoreFromMsb(Buffer.from([0x82, 0x11, 0x00, 0xff, 0xff]), 100))));
});

test('parity over a span rebuilds any one packet of it, whatever their lengths', async (t) => {
  const asf = await loadAsf(await fixture(FIXTURES.av20), 40);
  const span = asf.packets.slice(20, 30).map((p, i) => shapeForMsb(p, asf.packetSize, { number: i + 1, cycle: 9 }).asf);
  t.true(new Set(span.map((s) => s.length)).size > 1);
  const acc = new ParityAccumulator(asf.packetSize);
  for (const s of span) acc.add(s);
  const parity = acc.take(9);
  t.is(parity.length, Math.max(...span.map((s) => s.length)));
  t.like(readErrorCorrection(parity), { opaque: true, type: 2, number: 11, cycle: 9 });
  t.is(acc.count, 0);
  for (let k = 0; k < span.length; k++) {
    const rebuilt = recoverFromParity(parity, span.filter((_, i) => i !== k), k + 1, 9);
    t.like(readErrorCorrection(rebuilt), { type: 1, number: k + 1, cycle: 9 });
    t.is(packetContent(restoreFromMsb(rebuilt, asf.packetSize), asf.packetSize), packetContent(asf.packets[20 + k]!, asf.packetSize));
  }
  t.throws(() => acc.take(0), { message: /no packets/ });
  t.throws(() => recoverFromParity(parity.subarray(0, 2), [], 1, 0), { message: /no error-correction prefix/ });
});
