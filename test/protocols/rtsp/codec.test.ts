import test from '../../helpers/test.js';
import { isMssError, type MssError } from '../../../src/core/errors.js';
import {
  RtspHeaders,
  RtspStreamParser,
  frameInterleaved,
  parseRtspMessage,
  serializeRequest,
  serializeResponse,
  statusOfParseError,
  type RtspRequest,
} from '../../../src/protocols/rtsp/codec.js';
import {
  formatRange,
  formatRtpInfo,
  formatSession,
  formatTransport,
  parseAccelerate,
  parseBurst,
  parseContentType,
  parseCSeq,
  parseNotice,
  parseRange,
  parseRtpInfo,
  parseSession,
  parseSupported,
  parseTransport,
} from '../../../src/protocols/rtsp/headers.js';
import { NO_STREAM, buildEndOfStreamBody, buildSelectStreamBody, parseEndOfStreamBody, parseSelectStreamBody, parseUdpPacketPairBody } from '../../../src/protocols/rtsp/bodies.js';

const FFMPEG_OPTIONS = 'OPTIONS rtsp://127.0.0.1:18122/test.wmv RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf59.27.100\r\n\r\n';
const FFMPEG_DESCRIBE = 'DESCRIBE rtsp://127.0.0.1:18122/test.wmv RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\nUser-Agent: Lavf59.27.100\r\n\r\n';

function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (!isMssError(err)) throw err;
    return statusOfParseError(err);
  }
  return 0;
}

test('parses what ffmpeg 5.1 sends (the captured OPTIONS and DESCRIBE), one byte at a time too', (t) => {
  const bytes = Buffer.from(FFMPEG_OPTIONS + FFMPEG_DESCRIBE, 'latin1');
  for (const step of [bytes.length, 1, 7]) {
    const p = new RtspStreamParser();
    const items = [];
    for (let i = 0; i < bytes.length; i += step) items.push(...p.push(bytes.subarray(i, i + step)));
    t.is(items.length, 2);
    const [opt, desc] = items as RtspRequest[];
    t.is(opt.method, 'OPTIONS');
    t.is(opt.uri, 'rtsp://127.0.0.1:18122/test.wmv');
    t.is(opt.headers.get('cseq'), '1');
    t.is(opt.headers.get('USER-AGENT'), 'Lavf59.27.100');
    t.is(desc.method, 'DESCRIBE');
    t.is(desc.headers.get('Accept'), 'application/sdp');
    t.is(p.buffered, 0);
  }
});

test('a body is read by Content-Length; interleaved frames and messages mix on one connection', (t) => {
  const rtp = Buffer.alloc(300, 7);
  const req = serializeRequest('SET_PARAMETER', 'rtsp://h/a.wmv', { CSeq: 9, Session: '12', 'Content-Type': 'text/plain' }, Buffer.from('hello body'));
  const stream = Buffer.concat([frameInterleaved(0, rtp), req, frameInterleaved(1, Buffer.alloc(0)), Buffer.from('\r\n'), serializeResponse(200, { CSeq: 4 })]);
  const items = new RtspStreamParser().push(stream);
  t.deepEqual(items.map((i) => i.kind), ['interleaved', 'request', 'interleaved', 'response']);
  t.true(items[0]!.kind === 'interleaved' && items[0]!.channel === 0 && items[0]!.data.equals(rtp));
  const r = items[1] as RtspRequest;
  t.is(r.body.toString(), 'hello body');
  t.is(r.headers.get('content-length'), '10');
  t.true(items[3]!.kind === 'response' && items[3]!.status === 200 && items[3]!.reason === 'OK');
});

test('continuation lines fold; bare LF line ends are accepted', (t) => {
  const m = parseRtspMessage(Buffer.from('PLAY rtsp://h/x RTSP/1.0\nCSeq: 3\nSupported: a.b,\n  c.d\n\n'));
  t.is(m.headers.get('supported'), 'a.b, c.d');
});

test('bad input gets a precise error and the status to answer', (t) => {
  const s = (text: string, limits = {}) => statusOf(() => new RtspStreamParser(limits).push(Buffer.from(text, 'latin1')));
  t.is(s('GET / HTTP/1.1\r\n\r\n'), 400);
  t.is(s('PLAY rtsp://h/x RTSP/2.0\r\nCSeq: 1\r\n\r\n'), 505);
  t.is(s('PL@Y rtsp://h/x RTSP/1.0\r\n\r\n'), 400);
  t.is(s('PLAY rtsp://h/x RTSP/1.0\r\nCSeq 1\r\n\r\n'), 400);
  t.is(s('PLAY rtsp://h/x RTSP/1.0\r\nContent-Length: -1\r\n\r\n'), 400);
  t.is(s('PLAY rtsp://h/x RTSP/1.0\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n'), 400);
  t.is(s('PLAY rtsp://h/x RTSP/1.0\r\nContent-Length: 70000\r\n\r\n'), 413);
  t.is(s(`PLAY rtsp://h/${'x'.repeat(5000)} RTSP/1.0\r\n\r\n`), 414);
  t.is(s(`PLAY rtsp://h/x RTSP/1.0\r\n${'A: b\r\n'.repeat(100)}\r\n`), 413);
  t.is(s(`PLAY rtsp://h/x RTSP/1.0\r\nX: ${'y'.repeat(20000)}`), 413);
  t.is(s('\u0001\u0002garbage'), 400);
  t.is(s('PLAY rtsp://h/x RTSP/1.0\r\nX: a\u0001b\r\n\r\n'), 400);
  // after an error the parser stays failed
  const p = new RtspStreamParser();
  t.throws(() => p.push(Buffer.from('\u0000')));
  t.throws(() => p.push(Buffer.from(FFMPEG_OPTIONS)), { message: /where a request/ });
});

test('a trickling peer costs linear work: 16 KB of header one byte at a time is refused at the bound', (t) => {
  const p = new RtspStreamParser({ maxHeaderBytes: 16384 });
  const head = Buffer.from('PLAY rtsp://h/x RTSP/1.0\r\nX: ');
  p.push(head);
  let err: unknown;
  const started = process.hrtime.bigint();
  try {
    for (let i = 0; i < 20000; i++) p.push(Buffer.from('y'));
  } catch (e) {
    err = e;
  }
  t.true(isMssError(err) && statusOfParseError(err as MssError) === 413);
  t.true(Number(process.hrtime.bigint() - started) / 1e6 < 5000);
});

test('serializes requests and responses with Content-Length; refuses header injection', (t) => {
  const res = serializeResponse(454, new RtspHeaders([['CSeq', '2'], ['Server', 'WMServer/9.6.0.8431']]));
  t.is(res.toString(), 'RTSP/1.0 454 Session Not Found\r\nCSeq: 2\r\nServer: WMServer/9.6.0.8431\r\n\r\n');
  const withBody = parseRtspMessage(serializeResponse(200, { CSeq: 1, 'Content-Type': 'application/sdp' }, Buffer.from('v=0\r\n')));
  t.is(withBody.headers.get('content-length'), '5');
  t.throws(() => serializeResponse(200, { X: 'a\r\nInjected: 1' }), { message: /line break/ });
  t.throws(() => serializeRequest('BAD METHOD', 'rtsp://h/', {}));
});

test('CSeq and Session', (t) => {
  t.is(parseCSeq(' 42 '), 42);
  t.throws(() => parseCSeq('4x'));
  t.throws(() => parseCSeq('99999999999'));
  t.deepEqual(parseSession('13856065358275910855;timeout=60'), { id: '13856065358275910855', timeout: 60 });
  t.deepEqual(parseSession('abc'), { id: 'abc' });
  t.is(formatSession({ id: '5', timeout: 55 }), '5;timeout=55');
  t.is(statusOf(() => parseSession('a b')), 454);
  t.throws(() => parseSession('abc;foo=1'));
});

test('Transport: ffmpeg, WMP and server forms round-trip', (t) => {
  const [tcp] = parseTransport('RTP/AVP/TCP;unicast;interleaved=0-1;mode=play');
  t.like(tcp, { protocol: 'RTP', profile: 'AVP', lower: 'TCP', unicast: true, interleaved: [0, 1], mode: 'PLAY' });
  const [udp] = parseTransport('RTP/AVP/UDP;unicast;client_port=5000-5001;mode=PLAY');
  t.like(udp, { lower: 'UDP', clientPort: [5000, 5001] });
  const [plain] = parseTransport('RTP/AVP;unicast;client_port=7000');
  t.is(plain!.lower, 'UDP');
  t.deepEqual(plain!.clientPort, [7000, 7000]);
  const list = parseTransport('RTP/AVP/TCP;interleaved=2-3, RTP/AVP;unicast;client_port=1-2;mode="PLAY"');
  t.is(list.length, 2);
  const server = formatTransport({ protocol: 'RTP', profile: 'AVP', lower: 'TCP', unicast: true, interleaved: [0, 1], ssrc: 0x6095d7d7, mode: 'PLAY' });
  t.is(server, 'RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=6095d7d7;mode=PLAY');
  t.like(parseTransport(server)[0], { ssrc: 0x6095d7d7 });
  t.like(parseTransport('RTP/AVP/UDP;unicast;client_port=1-2;FecSpan=0A;FecPerSpan=1')[0], { fec: { span: 10, perSpan: 1 } });
  t.throws(() => parseTransport(''));
  t.throws(() => parseTransport('RTP;unicast'));
  t.throws(() => parseTransport('RTP/AVP;client_port=70000'));
  t.throws(() => parseTransport('RTP/AVP/TCP;interleaved=300'));
  t.throws(() => parseTransport('RTP/AVP;ssrc=xyz'));
});

test('Range: npt (seconds, hh:mm:ss, now), smpte, x-asf-byte, x-asf-packet; lists and ;time= refused with 457', (t) => {
  t.deepEqual(parseRange('npt=30.000-'), { unit: 'npt', start: 30000, end: undefined });
  t.deepEqual(parseRange('npt=0-115.5'), { unit: 'npt', start: 0, end: 115500 });
  t.deepEqual(parseRange('npt=1:02:03.5-'), { unit: 'npt', start: 3723500, end: undefined });
  t.deepEqual(parseRange('npt=now-'), { unit: 'npt', start: 'now', end: undefined });
  t.deepEqual(parseRange('npt=-20'), { unit: 'npt', start: 0, end: 20000 });
  t.deepEqual(parseRange('smpte=00:00:10:15-'), { unit: 'smpte', start: 10500, end: undefined });
  t.deepEqual(parseRange('x-asf-packet=100-'), { unit: 'x-asf-packet', start: 100, end: undefined });
  t.deepEqual(parseRange('x-asf-byte=809-9000'), { unit: 'x-asf-byte', start: 809, end: 9000 });
  t.is(formatRange({ unit: 'npt', start: 0, end: 115000 }), 'npt=0.000-115.000');
  t.is(formatRange({ unit: 'npt', start: 12345 }), 'npt=12.345-');
  for (const v of ['npt=1-2,3-4', 'npt=1-;time=19970123T153600Z', 'clock=19961108T142300Z-', 'npt=abc-', 'npt=5-2', 'x-asf-packet=-1', 'npt=99999999999-']) {
    t.is(statusOf(() => parseRange(v)), 457, v);
  }
});

test('RTP-Info, Supported, Content-Type, acceleration, notice', (t) => {
  const info = parseRtpInfo('url=rtsp://h/f.wmv/audio;seq=27301;rtptime=0, url="rtsp://h/f.wmv/video";seq=27301');
  t.deepEqual(info, [
    { url: 'rtsp://h/f.wmv/audio', seq: 27301, rtptime: 0 },
    { url: 'rtsp://h/f.wmv/video', seq: 27301 },
  ]);
  t.is(formatRtpInfo(info), 'url=rtsp://h/f.wmv/audio;seq=27301;rtptime=0,url=rtsp://h/f.wmv/video;seq=27301');
  t.throws(() => parseRtpInfo('seq=1'));
  t.deepEqual(parseSupported('com.microsoft.wm.srvppair, com.microsoft.wm.EOSMSG'), ['com.microsoft.wm.srvppair', 'com.microsoft.wm.eosmsg']);
  t.throws(() => parseSupported('a b'));
  const ct = parseContentType('application/x-wms-Logplaystats;charset=UTF-8');
  t.is(ct.mediaType, 'application/x-wms-logplaystats');
  t.is(ct.params.get('charset'), 'UTF-8');
  t.deepEqual(parseAccelerate('AccelDuration=18000;AccelBandwidth=4000000'), { durationMs: 18000, bandwidth: 4000000 });
  t.deepEqual(parseBurst('BurstDuration=5000;BurstBandwidth=100'), { durationMs: 5000, bandwidth: 100 });
  t.throws(() => parseAccelerate('AccelDuration=1'));
  t.throws(() => parseBurst('BurstDuration=1;BurstBandwidth=4294967295'));
  t.deepEqual(parseNotice('2101 "End-of-Stream Reached"'), { code: 2101, text: 'End-of-Stream Reached' });
});

test('EndOfStream, SelectStream and UdpPacketPair bodies', (t) => {
  const eos = buildEndOfStreamBody({ sessionId: '13856065358275910855', kind: 'finished' });
  t.is(eos.toString(), 'Session: 13856065358275910855\r\nEOF: true\r\n');
  t.is(eos.length, 42);
  t.deepEqual(parseEndOfStreamBody(buildEndOfStreamBody({ sessionId: '5', kind: 'playlist-entry' })), { sessionId: '5', kind: 'playlist-entry' });
  t.throws(() => parseEndOfStreamBody('Session: 1\r\n'));
  const entries = parseSelectStreamBody('SSEntry: 4294967295 2 1 rtsp://h/f.wmv/video\r\n');
  t.deepEqual(entries, [{ oldStream: NO_STREAM, newStream: 2, thinLevel: 1, newUri: 'rtsp://h/f.wmv/video' }]);
  t.deepEqual(parseSelectStreamBody(buildSelectStreamBody([{ oldStream: 1, newStream: 3, thinLevel: 0, oldUri: 'u1', newUri: 'u3' }])), [{ oldStream: 1, newStream: 3, thinLevel: 0, oldUri: 'u1', newUri: 'u3' }]);
  t.throws(() => parseSelectStreamBody('SSEntry: 1 2 0 onlyone'));
  t.throws(() => parseSelectStreamBody('SSEntry: 1 2 5 a b'));
  t.deepEqual(parseUdpPacketPairBody('type: high-entropy-packetpair variable-size'), { variableSize: true });
  t.deepEqual(parseUdpPacketPairBody('type: high-entropy-packetpair\r\n'), { variableSize: false });
  t.throws(() => parseUdpPacketPairBody('type: other'));
});
