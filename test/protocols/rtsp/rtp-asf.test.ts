import test from '../../helpers/test.js';
import { compactPacket, openAsfFile, packetFacts, parseDataPacket, readSendTime, restorePadding, type AsfFileHandle } from '../../../src/asf/index.js';
import { parseRtpPacket, sequenceDelta } from '../../../src/protocols/rtsp/rtp.js';
import {
  AsfRtpDepacketizer,
  AsfRtpPacketizer,
  FLAG_KEY,
  FLAG_LENGTH,
  FLAG_LOCATION,
  buildPacketPair,
  readPayloadHeader,
  writePayloadHeader,
} from '../../../src/protocols/rtsp/rtp-asf.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';

let file: AsfFileHandle;
let packets: Buffer[];
let size: number;

test.before(async () => {
  file = await openAsfFile(await fixture(FIXTURES.av20));
  size = file.layout.packetSize;
  packets = await file.readPackets(0, file.layout.packetCount);
});

test.after.always(async () => {
  await file?.close();
});

function roundTrip(p: AsfRtpPacketizer, list: Buffer[], perCall: 'one' | 'many' = 'one') {
  const rtp = perCall === 'one' ? list.flatMap((pkt, i) => p.packetize(pkt, i)) : p.packetizeMany(list.map((packet, locationId) => ({ packet, locationId })));
  const d = new AsfRtpDepacketizer(size + 2);
  const got = rtp.flatMap((b) => d.push(parseRtpPacket(b)));
  return { rtp, got, d };
}

test('payload header: flags, 24-bit big-endian length/offset and the optional words in order', (t) => {
  const b = Buffer.alloc(16);
  const end = writePayloadHeader(b, 0, { keyFrame: true, isLength: true, value: 0x057c, relativeTimestamp: -5, locationId: 7 });
  t.is(end, 12);
  t.deepEqual([...b.subarray(0, 12)], [FLAG_KEY | FLAG_LENGTH | 0x20 | FLAG_LOCATION, 0x00, 0x05, 0x7c, 0xff, 0xff, 0xff, 0xfb, 0, 0, 0, 7]);
  t.deepEqual(readPayloadHeader(b, 0), { header: { keyFrame: true, isLength: true, value: 0x57c, relativeTimestamp: -5, locationId: 7 }, size: 12 });
  t.throws(() => writePayloadHeader(b, 0, { keyFrame: false, isLength: true, value: 1 << 24 }));
  t.throws(() => readPayloadHeader(Buffer.from([0x30, 0, 0, 1, 0]), 0), { message: /runs past/ });
});

test('over TCP a whole packet goes in one RTP packet: M=1, ts = send time, S from the key frame, Length counts the header', (t) => {
  const p = new AsfRtpPacketizer({ payloadType: 96, ssrc: 0x6095d7d7, initialSequence: 65534, maxPacketSize: 65535, interleavedChannel: 0 });
  const out = packets.slice(0, 4).map((pkt, i) => p.packetize(pkt, i));
  for (const [i, frames] of out.entries()) {
    t.is(frames.length, 1);
    const f = frames[0]!;
    t.is(f[0], 0x24);
    t.is(f[1], 0);
    t.is(f.readUInt16BE(2), f.length - 4);
    const rtp = parseRtpPacket(f.subarray(4));
    t.true(rtp.marker);
    t.is(rtp.payloadType, 96);
    t.is(rtp.ssrc, 0x6095d7d7);
    t.is(rtp.sequence, (65534 + i) & 0xffff);
    t.is(rtp.timestamp, readSendTime(packets[i]!));
    const { header, size: hs } = readPayloadHeader(rtp.payload, 0);
    t.true(header.isLength);
    t.is(header.value, hs + size, 'with-header: Length = payload header + ASF packet');
    t.is(header.keyFrame, packetFacts(packets[i]!, size).keyFrame);
    t.true(rtp.payload.subarray(hs).equals(packets[i]!));
  }
  t.is(p.nextSequence, 2);
  t.is(p.packetCount, 4);
  t.true(packetFacts(packets[0]!, size).keyFrame);
});

test('spec-literal Length (asf-only) carries the ASF packet size; the depacketizer reads both meanings', (t) => {
  for (const lengthMode of ['asf-only', 'with-header'] as const) {
    const p = new AsfRtpPacketizer({ payloadType: 96, ssrc: 1, maxPacketSize: 65535, lengthMode, locationId: true, duration: true });
    const { rtp, got, d } = roundTrip(p, packets);
    const first = readPayloadHeader(parseRtpPacket(rtp[0]!).payload, 0);
    t.is(first.header.value, lengthMode === 'asf-only' ? size : size + 12);
    t.is(got.length, packets.length);
    got.forEach((g, i) => {
      if (!g.packet.equals(packets[i]!) || g.locationId !== i || g.sendTime !== readSendTime(packets[i]!)) t.fail(`packet ${i} (${lengthMode})`);
    });
    t.is(d.dropped, 0);
  }
});

test('over a 1500-byte path a 3200-byte packet is split: offsets, M only on the last, LocationId only there', (t) => {
  const p = new AsfRtpPacketizer({ payloadType: 96, ssrc: 5, maxPacketSize: 1472, locationId: true });
  const frames = p.packetize(packets[3]!, 3);
  t.is(frames.length, 3);
  let offset = 0;
  frames.forEach((f, i) => {
    t.true(f.length <= 1472);
    const rtp = parseRtpPacket(f);
    const { header, size: hs } = readPayloadHeader(rtp.payload, 0);
    t.false(header.isLength);
    t.is(header.value, offset);
    t.is(rtp.marker, i === 2);
    t.is(header.locationId, i === 2 ? 3 : undefined);
    t.is(rtp.timestamp, readSendTime(packets[3]!));
    offset += rtp.payload.length - hs;
  });
  t.is(offset, size);
  const { got, d } = roundTrip(new AsfRtpPacketizer({ payloadType: 96, ssrc: 5, maxPacketSize: 1472, locationId: true }), packets);
  t.is(got.length, packets.length);
  t.true(got.every((g, i) => g.packet.equals(packets[i]!) && g.locationId === i));
  t.is(d.dropped, 0);
});

test('padding left out: fewer bytes, an explicit Packet Length and Padding Length 0, and restorePadding gives the packet back byte for byte', (t) => {
  const p = new AsfRtpPacketizer({ payloadType: 96, ssrc: 5, maxPacketSize: 1472, stripPadding: true });
  const { rtp, got } = roundTrip(p, packets);
  const full = roundTrip(new AsfRtpPacketizer({ payloadType: 96, ssrc: 5, maxPacketSize: 1472 }), packets);
  const bytes = (l: Buffer[]) => l.reduce((a, b) => a + b.length, 0);
  t.true(bytes(rtp) < bytes(full.rtp), `${bytes(rtp)} < ${bytes(full.rtp)}`);
  t.is(got.length, packets.length);
  let compacted = 0;
  got.forEach((g, i) => {
    if (g.packet.length < size) {
      compacted++;
      // what a demuxer reads (FFmpeg skips padding twice when packets come one buffer at a time): no padding, the length
      const parsed = parseDataPacket(Buffer.concat([g.packet, Buffer.alloc(size - g.packet.length)]), size);
      t.is(parsed.paddingLength, 0);
      t.is(parsed.packetLength, g.packet.length);
      t.deepEqual(parsed.payloads.map((pl) => pl.data), parseDataPacket(packets[i]!, size).payloads.map((pl) => pl.data));
    }
    if (!restorePadding(g.packet, size).equals(packets[i]!)) t.fail(`packet ${i} differs after restorePadding`);
  });
  t.true(compacted > 0);
  t.is(compactPacket(packets[1]!, size), packets[1]!, 'a packet without padding goes as it is');
});

test('packetizeMany combines small packets with relative timestamps; a combined RTP packet parses back', (t) => {
  const p = new AsfRtpPacketizer({ payloadType: 96, ssrc: 9, maxPacketSize: 65535, lengthMode: 'asf-only' });
  const list = packets.slice(0, 10);
  const { rtp, got } = roundTrip(p, list, 'many');
  t.true(rtp.length < list.length);
  t.is(got.length, list.length);
  got.forEach((g, i) => {
    t.true(g.packet.equals(list[i]!));
    t.is(g.sendTime, readSendTime(list[i]!));
  });
  const second = readPayloadHeader(parseRtpPacket(rtp[0]!).payload, 4 + size);
  const delta = readSendTime(list[1]!) - readSendTime(list[0]!);
  t.is(second.header.relativeTimestamp, delta === 0 ? undefined : delta);
});

test('lost and reordered fragments drop just their packet, once', (t) => {
  const p = new AsfRtpPacketizer({ payloadType: 96, ssrc: 5, maxPacketSize: 1472 });
  const rtp = packets.slice(0, 6).flatMap((pkt, i) => p.packetize(pkt, i));
  const d = new AsfRtpDepacketizer(size + 2);
  // lose the middle fragment of packet 1 (RTP packets 3..5 belong to it)
  const got = rtp.filter((_, i) => i !== 4).flatMap((b) => d.push(parseRtpPacket(b)));
  t.is(got.length, 5);
  t.is(d.dropped, 1);
  // lose the first fragment of packet 2
  const d2 = new AsfRtpDepacketizer(size + 2);
  t.is(rtp.filter((_, i) => i !== 6).flatMap((b) => d2.push(parseRtpPacket(b))).length, 5);
  t.is(d2.dropped, 1);
  t.is(sequenceDelta(65535, 0), 1);
  t.is(sequenceDelta(0, 65535), -1);
});

test('packet-pair RTP packets: timestamp 0, S on the first, L=1 with the payload size, distinct random bytes', (t) => {
  let n = 0;
  const pp = buildPacketPair({ count: 3, variableSize: false, payloadType: 97, ssrc: 77, firstSequence: 10, random: (len) => Buffer.alloc(len, ++n) });
  t.deepEqual(pp.map((b) => b.length - 16), [1454, 1455, 1456]);
  pp.forEach((b, i) => {
    const rtp = parseRtpPacket(b);
    t.is(rtp.timestamp, 0);
    t.is(rtp.sequence, 10 + i);
    const { header } = readPayloadHeader(rtp.payload, 0);
    t.is(header.keyFrame, i === 0);
    t.true(header.isLength);
    t.is(header.value, rtp.payload.length - 4);
  });
  const v = buildPacketPair({ count: 3, variableSize: true, payloadType: 97, ssrc: 77, firstSequence: 0, random: (len) => Buffer.alloc(len) });
  t.deepEqual(v.map((b) => (b.length - 16) % 3), [2, 0, 1]);
});

test('the packetizer refuses an MTU too small to carry a header', (t) => {
  t.throws(() => new AsfRtpPacketizer({ payloadType: 96, ssrc: 1, maxPacketSize: 20 }), { message: /outside 64/ });
});
