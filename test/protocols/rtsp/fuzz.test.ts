/**
 * Seeded fuzzing of the RTSP-WME codecs: ~100,000 inputs per entry point (mutations of valid input and random
 * bytes); every call returns a value or throws an MssError, never anything else, and parsers stay bounded.
 */
import test from '../../helpers/test.js';
import { isMssError } from '../../../src/core/errors.js';
import { openAsfFile, packetFacts, restorePadding } from '../../../src/asf/index.js';
import { RtspStreamParser, frameInterleaved, serializeRequest, serializeResponse } from '../../../src/protocols/rtsp/codec.js';
import * as H from '../../../src/protocols/rtsp/headers.js';
import { parseEndOfStreamBody, parseSelectStreamBody, parseUdpPacketPairBody } from '../../../src/protocols/rtsp/bodies.js';
import { buildWmsSdp, parseWmsSdp } from '../../../src/protocols/rtsp/sdp.js';
import { parseRtpPacket } from '../../../src/protocols/rtsp/rtp.js';
import { AsfRtpDepacketizer, AsfRtpPacketizer } from '../../../src/protocols/rtsp/rtp-asf.js';
import { buildNack, buildReceiverReport, buildSenderReport, parseRtcp } from '../../../src/protocols/rtsp/rtcp.js';
import { seededRandom } from '../../helpers/prng.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';

const N = 100_000;

function mutate(rand: () => number, valid: Buffer): Buffer {
  const out = Buffer.from(valid);
  const flips = 1 + Math.floor(rand() * 4);
  for (let f = 0; f < flips; f++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
  return out.subarray(0, Math.floor(rand() * (out.length + 1)));
}

function expectMss(t: { fail(m: string): void }, fn: () => unknown, what: string): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (!isMssError(err)) t.fail(`${what}: non-MssError ${String(err)}`);
    return false;
  }
}

test('fuzz: the RTSP stream parser on mutated conversations and random bytes, fed in random chunks', (t) => {
  const rand = seededRandom(0x4751);
  const valid = Buffer.concat([
    serializeRequest('SETUP', 'rtsp://h/a.wmv/audio', { CSeq: 3, Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }),
    frameInterleaved(0, Buffer.alloc(40, 1)),
    serializeRequest('SET_PARAMETER', 'rtsp://h/a.wmv', { CSeq: 4, 'Content-Type': 'application/x-wms-Logplaystats' }, Buffer.from('<XML></XML>')),
    serializeResponse(200, { CSeq: 5, Session: '12;timeout=60' }),
  ]);
  let items = 0;
  let errors = 0;
  for (let i = 0; i < N; i++) {
    const input = i % 2 === 0 ? mutate(rand, valid) : Buffer.from(Array.from({ length: Math.floor(rand() * 80) }, () => (rand() < 0.2 ? 0x24 : rand() < 0.2 ? 0x0a : Math.floor(rand() * 256))));
    const p = new RtspStreamParser({ maxHeaderBytes: 256, maxBodyBytes: 64 });
    const ok = expectMss(t, () => {
      let pos = 0;
      while (pos < input.length) {
        const n = 1 + Math.floor(rand() * 50);
        items += p.push(input.subarray(pos, pos + n)).length;
        pos += n;
      }
      if (p.buffered > 256 + 65539) t.fail(`parser holds ${p.buffered} bytes`);
    }, 'RtspStreamParser');
    if (!ok) errors++;
  }
  t.true(items > 0 && errors > 0);
});

test('fuzz: header value grammars and message bodies', (t) => {
  const rand = seededRandom(7);
  const samples: Array<[string, (v: string) => unknown]> = [
    ['RTP/AVP/TCP;unicast;interleaved=0-1;mode=play, RTP/AVP;unicast;client_port=5000-5001;ssrc=1a2b;FecSpan=0A', H.parseTransport],
    ['npt=30.5-115.000', H.parseRange],
    ['smpte-25=00:01:02:03.5-', H.parseRange],
    ['x-asf-packet=100-200', H.parseRange],
    ['13856065358275910855;timeout=60', H.parseSession],
    ['url=rtsp://h/a;seq=1;rtptime=0, url="rtsp://h/b";seq=2', H.parseRtpInfo],
    ['com.microsoft.wm.eosmsg, com.microsoft.wm.locid', H.parseSupported],
    ['application/x-wms-Logplaystats;charset=UTF-8', H.parseContentType],
    ['AccelDuration=18000;AccelBandwidth=4000000', H.parseAccelerate],
    ['BurstDuration=1;BurstBandwidth=2', H.parseBurst],
    ['2101 "End-of-Stream Reached"', H.parseNotice],
    ['42', H.parseCSeq],
    ['2147483647', H.parseBandwidth],
    ['Session: 1\r\nEOF: true\r\nEnd-Of-Playlist-Entry: true\r\n', parseEndOfStreamBody],
    ['SSEntry: 1 2 0 rtsp://h/a rtsp://h/b\r\n', parseSelectStreamBody],
    ['type: high-entropy-packetpair variable-size', parseUdpPacketPairBody],
  ];
  const alphabet = ';=,-".:/ \t0123456789abcdefxyzRTPAVUDCnowsmpte\u0000\u00ff';
  let ok = 0;
  for (let i = 0; i < N; i++) {
    const [sample, parse] = samples[i % samples.length]!;
    let v = '';
    if (rand() < 0.6) {
      const chars = [...sample];
      const edits = 1 + Math.floor(rand() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (chars.length + 1));
        const r = rand();
        if (r < 0.33) chars.splice(at, 1);
        else if (r < 0.66) chars.splice(at, 0, alphabet[Math.floor(rand() * alphabet.length)]!);
        else chars[at] = alphabet[Math.floor(rand() * alphabet.length)]!;
      }
      v = chars.join('');
    } else {
      const len = Math.floor(rand() * 40);
      for (let c = 0; c < len; c++) v += alphabet[Math.floor(rand() * alphabet.length)];
    }
    if (expectMss(t, () => parse(v), sample)) ok++;
  }
  t.true(ok > 1000);
});

test('fuzz: SDP parser on mutated WMS SDP', (t) => {
  const rand = seededRandom(99);
  const sdp = buildWmsSdp({ baseUrl: 'rtsp://h/a.wmv', title: 't', headerBytes: Buffer.alloc(60, 3), packetSize: 3200, durationMs: 5000, broadcast: false, seekable: true, streams: [{ number: 1, type: 'audio', bitrate: 64000 }, { number: 2, type: 'video', bitrate: 300000 }] });
  const valid = Buffer.from(sdp, 'latin1');
  let ok = 0;
  for (let i = 0; i < N; i++) {
    const input = mutate(rand, valid).toString('latin1');
    if (expectMss(t, () => parseWmsSdp(input), 'parseWmsSdp')) ok++;
  }
  t.true(ok > 0);
});

test('fuzz: RTP + ASF depacketizer and RTCP on mutated packets', async (t) => {
  const file = await openAsfFile(await fixture(FIXTURES.av20));
  t.teardown(() => file.close());
  const size = file.layout.packetSize;
  const packets = await file.readPackets(0, 30);
  const udp = new AsfRtpPacketizer({ payloadType: 96, ssrc: 1, maxPacketSize: 1472, locationId: true, stripPadding: true });
  const tcp = new AsfRtpPacketizer({ payloadType: 96, ssrc: 1, maxPacketSize: 65535, lengthMode: 'asf-only', duration: true });
  const rtp = [...packets.flatMap((p, i) => udp.packetize(p, i)), ...packets.flatMap((p, i) => tcp.packetize(p, i)), ...tcp.packetizeMany(packets.map((packet, locationId) => ({ packet, locationId })))];
  const rtcp = [
    buildSenderReport({ ssrc: 1, unixMs: 0, rtpTimestamp: 2, packetCount: 3, octetCount: 4, cname: 'x' }),
    buildReceiverReport({ ssrc: 2, cname: 'y', reports: [{ ssrc: 1, fractionLost: 0, cumulativeLost: 0, highestSequence: 1, jitter: 0, lastSr: 0, delaySinceLastSr: 0 }] }),
    buildNack({ senderSsrc: 2, mediaSsrc: 1, rtxSsrc: 3, lost: [1, 2, 9] }),
  ];
  const rand = seededRandom(1234);
  let delivered = 0;
  const d = new AsfRtpDepacketizer(size + 2);
  for (let i = 0; i < N; i++) {
    const input = mutate(rand, rtp[i % rtp.length]!);
    expectMss(t, () => {
      for (const got of d.push(parseRtpPacket(input))) {
        delivered++;
        if (got.packet.length > size) t.fail('depacketizer delivered an oversized packet');
        try {
          restorePadding(got.packet, size);
          packetFacts(restorePadding(got.packet, size), size);
        } catch (err) {
          if (!isMssError(err)) throw err;
        }
      }
    }, 'depacketizer');
    expectMss(t, () => parseRtcp(mutate(rand, rtcp[i % rtcp.length]!)), 'parseRtcp');
  }
  t.true(delivered > 0);
});
