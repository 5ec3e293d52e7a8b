import test from '../../helpers/test.js';
import { openAsfFile, parseHeaderObject } from '../../../src/asf/index.js';
import { buildWmsSdp, contentDescriptionList, parseWmsSdp, resolveControl, streamControl, RTX_STREAM } from '../../../src/protocols/rtsp/sdp.js';
import { buildBye, buildNack, buildReceiverReport, buildSenderReport, ntpMiddle, ntpTime, parseRtcp, wmsNackCname } from '../../../src/protocols/rtsp/rtcp.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';

test('the SDP of a file: ASF header in pgmpu, maxps, one m= per stream with x-asf-pf and a=stream, then rtx', async (t) => {
  const file = await openAsfFile(await fixture(FIXTURES.av20));
  t.teardown(() => file.close());
  const header = file.layout.header;
  const streams = header.streams.map((s) => ({ number: s.number, type: s.type, bitrate: s.bitrate || 300_000 }));
  const text = buildWmsSdp({ baseUrl: 'rtsp://127.0.0.1:8554/vod/a.wmv', title: 'a.wmv', headerBytes: file.layout.headerBytes, packetSize: 3200, durationMs: 20_000, broadcast: false, seekable: true, streams, sessionId: '42' });
  t.regex(text, /^v=0\r\no=- 42 42 IN IP4 0.0.0.0\r\ns=a.wmv\r\n/);
  t.regex(text, /\r\nb=RS:0\r\nb=RR:0\r\n/);
  t.regex(text, /\r\na=range:npt=0.000-20.000\r\n/);
  t.regex(text, /\r\na=type:notstridable\r\n/);
  t.regex(text, /a=pgmpu:data:application\/x-wms-contentdesc,8,language,31,0,,5,title,31,5,a.wmv\r\n/);
  const sdp = parseWmsSdp(text);
  t.true(sdp.asfHeader!.equals(file.layout.headerBytes));
  t.is(sdp.maxPacketSize, 3200);
  t.is(sdp.control, 'rtsp://127.0.0.1:8554/vod/a.wmv');
  t.deepEqual(sdp.features, ['notstridable']);
  t.is(sdp.media.length, streams.length + 1);
  for (const [i, s] of streams.entries()) {
    const m = sdp.media[i]!;
    t.is(m.media, s.type);
    t.is(m.stream, s.number);
    t.is(m.control, s.type);
    t.deepEqual(m.rtpmap.get(96), { encoding: 'x-asf-pf', clockRate: 1000 });
  }
  const rtx = sdp.media[streams.length]!;
  t.is(rtx.stream, RTX_STREAM);
  t.is(resolveControl(sdp.control!, rtx.control), 'rtsp://127.0.0.1:8554/vod/a.wmv/rtx');
  t.is(parseHeaderObject(sdp.asfHeader!, 0).streams.length, streams.length);
  const live = parseWmsSdp(buildWmsSdp({ baseUrl: 'rtsp://h/live', title: '', headerBytes: Buffer.alloc(10), packetSize: 1000, durationMs: 0, broadcast: true, seekable: false, streams }));
  t.deepEqual(live.features, ['broadcast', 'notseekable', 'notstridable']);
  t.is(live.range, 'npt=0.000-');
});

test('stream controls are unique with several streams of a kind; content descriptions are URI-encoded UTF-8', (t) => {
  const all = [{ number: 1, type: 'audio' }, { number: 2, type: 'video' }, { number: 3, type: 'video' }, { number: 4, type: 'command' }];
  t.deepEqual(all.map((s) => streamControl(s, all)), ['audio', 'video2', 'video3', 'application']);
  t.is(contentDescriptionList([['title', 'Grüße, mon ami']]), '8,language,31,0,,5,title,31,16,Gr%C3%BC%C3%9Fe,%20mon%20ami');
  t.is(resolveControl('rtsp://h/a/', 'video'), 'rtsp://h/a/video');
  t.is(resolveControl('rtsp://h/a', 'rtsp://x/y'), 'rtsp://x/y');
});

test('SDP parsing is bounded and precise', (t) => {
  t.throws(() => parseWmsSdp(''), { message: /empty/ });
  t.throws(() => parseWmsSdp('x=1\r\n'), { message: /v=0/ });
  t.throws(() => parseWmsSdp('v=0\r\nnot a line\r\n'), { message: /letter/ });
  t.throws(() => parseWmsSdp('v=0\r\nm=audio x RTP/AVP 96\r\n'), { message: /media line/ });
  t.throws(() => parseWmsSdp('v=0\r\na=pgmpu:data:application/vnd.ms.wms-hdr.asfv1;base64,@@@\r\n'), { message: /base64/ });
  t.throws(() => parseWmsSdp('v=0\r\n' + 'a=x\r\n'.repeat(5000)), { message: /lines/ });
});

test('RTCP: SR and RR with SDES round-trip; NACK with the WMS CNAME and E bit; BYE', (t) => {
  const sr = buildSenderReport({ ssrc: 0x11223344, unixMs: Date.UTC(2026, 0, 1), rtpTimestamp: 5000, packetCount: 10, octetCount: 32000, cname: 'mss@host' });
  t.is(sr.length % 4, 0);
  const [s, d] = parseRtcp(sr);
  t.like(s, { type: 'sr', ssrc: 0x11223344, rtpTimestamp: 5000, packetCount: 10, octetCount: 32000, reports: [] });
  t.deepEqual(d, { type: 'sdes', chunks: [{ ssrc: 0x11223344, cname: 'mss@host' }] });
  const ntp = ntpTime(Date.UTC(2026, 0, 1));
  t.is(s!.type === 'sr' && s!.ntpSeconds, ntp.seconds);
  const rr = buildReceiverReport({ ssrc: 7, cname: 'p', reports: [{ ssrc: 0x11223344, fractionLost: 3, cumulativeLost: -2, highestSequence: 70000, jitter: 4, lastSr: ntpMiddle(ntp.seconds, ntp.fraction), delaySinceLastSr: 65536 }] });
  const [r] = parseRtcp(rr);
  t.like(r, { type: 'rr', ssrc: 7, reports: [{ ssrc: 0x11223344, fractionLost: 3, cumulativeLost: -2, highestSequence: 70000, jitter: 4, delaySinceLastSr: 65536 }] });
  const nack = buildNack({ senderSsrc: 7, mediaSsrc: 9, rtxSsrc: 0xe740fe80, lost: [100, 101, 103, 200] });
  t.is(nack[8], 0x91, 'V=2, E=1, FMT=1');
  const parsed = parseRtcp(nack);
  t.deepEqual(parsed[1], { type: 'nack', senderSsrc: 7, mediaSsrc: 9, lost: [100, 101, 103, 200] });
  t.like(parsed[2], { type: 'sdes', chunks: [{ ssrc: 7, cname: wmsNackCname(0xe740fe80) }] });
  t.is(wmsNackCname(0xe740fe80), '3879796352@WMS:7ff42e07-3c7c-4eb5-9c17-6bdd11ad90de');
  t.deepEqual(parseRtcp(buildBye(5)), [{ type: 'bye', ssrcs: [5], reason: undefined }]);
  t.throws(() => parseRtcp(Buffer.from([0x80, 200, 0, 10])), { message: /runs past/ });
  t.throws(() => parseRtcp(Buffer.from([0x40, 200, 0, 0])), { message: /version/ });
  t.throws(() => parseRtcp(Buffer.from([0x81, 201, 0, 1, 0, 0, 0, 1])), { message: /report blocks/ });
});
