import test from '../../helpers/test.js';
import { isMssError } from '../../../src/core/errors.js';
import {
  encodeConnectRequest,
  encodeConnectResponse,
  encodeEmptyStreamInfo,
  encodePacket,
  encodeSimple,
  encodeStreamInfo,
  HR,
  MsbdMessageReader,
  parseMessage,
  streamInfoText,
  streamInfoTextOf,
  type StreamInfo,
} from '../../../src/protocols/msbd/codec.js';
import { seededRandom } from '../../helpers/prng.js';

const hex = (b: Buffer) => b.toString('hex');
const INFO: StreamInfo = {
  streamId: 1, packetSize: 3200, totalPackets: 0, bitRate: 364000, durationMs: 0xffffffff,
  title: streamInfoText('Live'), description: streamInfoText(''), link: Buffer.alloc(0), header: Buffer.alloc(120, 0x42),
};

test('REQ_CONNECT and RES_CONNECT have the bytes of the MS-MSBD example exchange', (t) => {
  t.is(hex(encodeConnectRequest()), '4d534220' + '0601' + '0700' + '22000000' + '00000000' + '01000000' + '4e0065007400530068006f007700');
  t.is(hex(encodeConnectResponse(HR.OK)), `4d534220060108002400000000000000${'00'.repeat(20)}`);
  t.deepEqual(parseMessage(encodeConnectRequest()), { type: 'REQ_CONNECT', hr: 0, flags: 1, channel: 'NetShow' });
  t.deepEqual(parseMessage(encodeConnectRequest('live', 2)), { type: 'REQ_CONNECT', hr: 0, flags: 2, channel: 'live' });
});

test('RES_CONNECT of a multicast carries sin_family 2 and the port and address in network order', (t) => {
  const b = encodeConnectResponse(HR.OK, { flags: 2, multicast: { address: '239.192.48.179', port: 0x4a41 } });
  t.is(hex(b.subarray(16, 28)), '02000000' + '0200' + '4a41' + 'efc030b3');
  t.deepEqual(parseMessage(b), { type: 'RES_CONNECT', hr: 0, flags: 2, family: 2, port: 0x4a41, address: '239.192.48.179' });
  t.like(parseMessage(encodeConnectResponse(HR.MULTICAST_REFUSED)), { hr: 0xc00d001a });
});

test('STREAMINFO: the four lengths then title, description, link and header, and back', (t) => {
  const b = encodeStreamInfo(INFO);
  t.is(b.length, 48 + 10 + 120);
  t.is(b.readUInt32LE(8), b.length);
  t.is(hex(b.subarray(16, 48)), '0100' + '800c' + '00000000' + 'e08d0500' + 'ffffffff' + '0a000000' + '00000000' + '00000000' + '78000000');
  const m = parseMessage(b);
  t.is(m.type, 'IND_STREAMINFO');
  const info = m.type === 'IND_STREAMINFO' ? m.info! : null!;
  t.like(info, { streamId: 1, packetSize: 3200, totalPackets: 0, bitRate: 364000, durationMs: 0xffffffff });
  t.is(streamInfoTextOf(info.title), 'Live');
  t.true(info.header.equals(INFO.header));
  t.is(parseMessage(encodeStreamInfo(INFO, 'RES_STREAMINFO')).type, 'RES_STREAMINFO');
});

test('the empty STREAMINFO after IND_EOS: hr 0xC00D0033, zeros; a failure hr makes any body ignored', (t) => {
  const e = encodeEmptyStreamInfo();
  t.is(hex(e), `4d534220060105003000000033000dc0${'00'.repeat(32)}`);
  t.deepEqual(parseMessage(e), { type: 'IND_STREAMINFO', hr: HR.END_OF_STREAM, info: null });
  const garbage = Buffer.concat([encodeEmptyStreamInfo().subarray(0, 16), Buffer.alloc(40, 0xff)]);
  garbage.writeUInt32LE(56, 8);
  t.deepEqual(parseMessage(garbage), { type: 'IND_STREAMINFO', hr: HR.END_OF_STREAM, info: null });
  t.deepEqual(parseMessage(encodeSimple('IND_EOS')), { type: 'IND_EOS', hr: 0 });
});

test('IND_PACKET: dwPacketId, wStreamId, wPacketSize (the ASF packet + 8), the packet', (t) => {
  const asf = Buffer.alloc(3200, 7);
  const b = encodePacket(5, 0x8001, asf);
  t.is(b.length, 16 + 8 + 3200);
  t.is(hex(b.subarray(16, 24)), '05000000' + '0180' + '880c');
  const m = parseMessage(b);
  t.like(m, { type: 'IND_PACKET', packetId: 5, streamId: 0x8001 });
  t.true(m.type === 'IND_PACKET' && m.payload.equals(asf));
});

test('nested lengths and every range are checked, with precise MssErrors', (t) => {
  const msg = (b: Buffer) => {
    const e = t.throws(() => parseMessage(b));
    t.true(isMssError(e));
    return e!.message;
  };
  const si = encodeStreamInfo(INFO);
  const sumWrong = Buffer.from(si);
  sumWrong.writeUInt32LE(121, 44); // cbHeader one too many
  t.regex(msg(sumWrong), /lengths add up to 131 bytes but 130 follow/);
  const tooBig = Buffer.from(si);
  tooBig.writeUInt32LE(0x10000, 32);
  t.regex(msg(tooBig), /cbTitle 65536 over 0xFFCF/);
  const badId = Buffer.from(si);
  badId.writeUInt16LE(0x0800, 16);
  t.regex(msg(badId), /wStreamId 0x800 outside/);
  const badSig = Buffer.from(si);
  badSig[0] = 0x4e;
  t.regex(msg(badSig), /signature 0x2042534e is not "MSB "/);
  const badVer = Buffer.from(si);
  badVer.writeUInt16LE(0x0200, 4);
  t.regex(msg(badVer), /version 0x0200/);
  const badId2 = Buffer.from(si);
  badId2.writeUInt16LE(6, 6);
  t.regex(msg(badId2), /unknown wMessageId 0x6/);
  t.regex(msg(si.subarray(0, 100)), /cbMessage 178 does not match the 100 bytes/);
  const pkt = encodePacket(1, 1, Buffer.alloc(10));
  const badSize = Buffer.from(pkt);
  badSize.writeUInt16LE(19, 22);
  t.regex(msg(badSize), /wPacketSize 19 does not match cbMessage 34 - 16/);
  const ping = Buffer.concat([encodeSimple('REQ_PING'), Buffer.alloc(4)]);
  ping.writeUInt32LE(20, 8);
  t.regex(msg(ping), /REQ_PING of 20 bytes carries a body/);
  const odd = encodeConnectRequest('ab');
  t.regex(msg(Buffer.concat([odd, Buffer.alloc(1)]).fill(0, 8, 12).fill(25, 8, 9)), /szChannel of 5 bytes is not UTF-16/);
  t.throws(() => encodeStreamInfo({ ...INFO, header: Buffer.alloc(0xffd0) }), { message: /header of 65488 bytes/ });
  t.throws(() => encodeStreamInfo({ ...INFO, title: Buffer.alloc(0xffcf), header: Buffer.alloc(100) }), { message: /binary data of 65587 bytes \(at most 65487\)/ });
  t.throws(() => encodePacket(1, 1, Buffer.alloc(0xfff0)), { message: /at most 65511/ });
});

test('the reader cuts any chunking of a message stream into the same messages, holding one message at most', (t) => {
  const stream = Buffer.concat([encodeConnectResponse(HR.OK), encodeStreamInfo(INFO), ...Array.from({ length: 20 }, (_, i) => encodePacket(i, 1, Buffer.alloc(100 + i, i))), encodeSimple('REQ_PING'), encodeSimple('IND_EOS'), encodeEmptyStreamInfo()]);
  const whole = new MsbdMessageReader().push(stream);
  t.is(whole.length, 25);
  const rnd = seededRandom(0x5eed);
  for (let round = 0; round < 50; round++) {
    const r = new MsbdMessageReader();
    const got = [];
    let at = 0;
    while (at < stream.length) {
      const n = 1 + Math.floor(rnd() * 700);
      got.push(...r.push(stream.subarray(at, at + n)));
      at += n;
      t.true(r.buffered < 0x10000);
    }
    t.deepEqual(got.map((m) => m.type), whole.map((m) => m.type));
  }
  const r = new MsbdMessageReader();
  t.regex(t.throws(() => r.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')))!.message, /signature 0x20544547/);
  const huge = encodeSimple('REQ_PING');
  huge.writeUInt32LE(0x10000, 8);
  t.regex(t.throws(() => new MsbdMessageReader().push(huge))!.message, /cbMessage 65536 outside/);
});
