import test from '../helpers/test.js';
import { EventEmitter } from 'node:events';
import { MssError } from '../../src/core/errors.js';
import { decodeNscString, parseNsc } from '../../src/protocols/msb/nsc.js';
import { ProtocolRegistry, openWithRollover, type PlaySession, type ProtocolClient } from '../../src/player/protocol-client.js';
import { anonymousPlayerId, buildPlayRecord, playLogXml } from '../../src/player/report.js';
import { entryFileName } from '../../src/player/sinks.js';
import { parsePlayerLog } from '../../src/protocols/wmlog/codec.js';

/** the .nsc block encoding, written here from the format description to make test values */
function nscEncode(text: string, declaredLength?: number): string {
  const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz{}';
  const data = Buffer.from(text + '\0', 'utf16le');
  const b = Buffer.alloc(9 + data.length);
  b.writeUInt32BE(0, 1);
  b.writeUInt32BE(declaredLength ?? data.length, 5);
  data.copy(b, 9);
  let crc = 0;
  for (let i = 1; i < b.length; i++) crc ^= b[i]!;
  b[0] = crc;
  let out = '02';
  let acc = 0;
  let n = 0;
  for (const byte of b) {
    acc = ((acc << 8) | byte) & 0xffff;
    n += 8;
    while (n >= 6) {
      n -= 6;
      out += A[(acc >> n) & 63];
    }
  }
  if (n > 0) out += A[(acc << (6 - n)) & 63];
  return out;
}

test('.nsc: plain and block-encoded strings, the port in hex, unknown keys skipped', (t) => {
  const text = ['[Address]', `Name=${nscEncode('BOX, ch1')}`, 'NSC Format Version=3.0', `IP Address=${nscEncode('239.192.48.179')}`, 'IP Port=0x00004A41',
    'Time To Live=0x00000001', `Log URL=${nscEncode('')}`, 'Unicast URL=http://stb.example/live/ch1', 'Player URL=whatever', '[Formats]'].join('\r\n');
  const s = parseNsc(text);
  t.like(s, { name: 'BOX, ch1', ipAddress: '239.192.48.179', ipPort: 19009, unicastUrl: 'http://stb.example/live/ch1', logUrl: undefined });
  t.is(decodeNscString(nscEncode('mms://x/y'), 'k'), 'mms://x/y');
});

test('.nsc: broken input is an MssError naming the key', (t) => {
  t.regex(t.throws(() => parseNsc('[Formats]\r\n'))!.message, /no \[Address\] section/);
  t.regex(t.throws(() => parseNsc('[Address]\r\nIP Port=19009\r\n'))!.message, /ip port "19009" is not 0x/);
  t.regex(t.throws(() => decodeNscString('02!!!!!!!!!!!!!!', 'log url'))!.message, /log url: character "!" at 2/);
  t.regex(t.throws(() => decodeNscString(nscEncode('abc', 5000), 'name'))!.message, /name: encoded length 5000 does not fit the 8 bytes present/);
  t.true(t.throws(() => decodeNscString('0201', 'name')) instanceof MssError);
});

test('the player log is a 47-field legacy log the server codec reads back, c-status 210 after a reconnect', (t) => {
  const record = buildPlayRecord({
    streamUrl: 'http://h:8080/vod/a.wmv', requestedUrl: 'mms://h:8080/vod/a.wmv', playerId: anonymousPlayerId(() => 0.5), userAgent: 'NSPlayer/9.0 mss',
    startedAtMs: 0, endedAtMs: 20_500, startSeconds: 30, header: undefined, broadcast: false, bytesReceived: 1000, packetsReceived: 98,
    packetsLost: 2, longestLossRun: 2, reconnects: 1, protocol: 'wmsp', mediaName: 'My clip',
  });
  const log = parsePlayerLog({ contentType: 'application/x-wms-LogStats', body: Buffer.from(playLogXml(record)), maxBytes: 65536 });
  t.is(log.form, 47);
  t.is(log.record['c-status'], '210');
  t.is(log.record['x-duration'], '21');
  t.is(log.record['c-starttime'], '30');
  t.is(log.record['c-quality'], '98');
  t.is(log.record['cs-media-name'], 'My_clip');
  t.is(log.record['c-playerid'], '{3300AD50-2C39-46c0-AE0A-888888888888}');
  t.is(log.record.protocol, 'http');
});

class FakeSession extends EventEmitter {}

function fakeClient(name: string, schemes: string[], outcome: 'ok' | MssError): ProtocolClient {
  return {
    name,
    schemes,
    rolloverUrl: (u) => new URL(u.href.replace('mms:', `${name}:`)),
    open() {
      const s = new FakeSession();
      setImmediate(() => (outcome === 'ok' ? s.emit('describe', {}) : s.emit('error', outcome)));
      return Object.assign(s, { close() {} }) as unknown as PlaySession;
    },
  };
}

test('mms:// rolls over in order (RTSP, MMS over UDP, MMS over TCP, then WMSP; the older players\' order on request) and names every protocol tried', async (t) => {
  const reg = new ProtocolRegistry(['mmsu', 'mmst', 'rtsp', 'wmsp'])
    .register(fakeClient('mmst', ['mmst:'], new MssError('unavailable', 'refused')))
    .register(fakeClient('wmsp', ['mmsh:'], new MssError('not-found', 'HTTP 404')))
    .register(fakeClient('mmsu', ['mmsu:'], new MssError('timeout', 'no UDP')))
    .register(fakeClient('rtsp', ['rtsp:'], new MssError('unavailable', 'no RTSP here')));
  t.deepEqual(reg.candidates(new URL('mms://h/x')).map((c) => c.client.name), ['mmsu', 'mmst', 'rtsp', 'wmsp']);
  const err = await t.throwsAsync(openWithRollover(reg, new URL('mms://h/x'), {}));
  t.regex(err!.message, /tried mmsu mmsu:\/\/h\/x \(no UDP\); mmst mmst:\/\/h\/x \(refused\); rtsp rtsp:\/\/h\/x \(no RTSP here\); wmsp wmsp:\/\/h\/x \(HTTP 404\)/);
  // the default: Windows Media Player 9 and later try RTSP first
  const modern = new ProtocolRegistry().register(fakeClient('wmsp', ['mmsh:'], 'ok')).register(fakeClient('mmst', ['mmst:'], 'ok')).register(fakeClient('mmsu', ['mmsu:'], 'ok')).register(fakeClient('rtsp', ['rtsp:'], 'ok'));
  t.deepEqual(modern.candidates(new URL('mms://h/x')).map((c) => c.client.name), ['rtsp', 'mmsu', 'mmst', 'wmsp']);
  const ok = new ProtocolRegistry().register(fakeClient('rtsp', ['rtsp:'], new MssError('unavailable', 'x'))).register(fakeClient('wmsp', ['mmsh:'], 'ok'));
  t.truthy(await openWithRollover(ok, new URL('mms://h/x'), {}));
  const denied = new ProtocolRegistry().register(fakeClient('rtsp', ['rtsp:'], new MssError('unauthorized', '401'))).register(fakeClient('wmsp', ['mmsh:'], 'ok'));
  t.is(((await t.throwsAsync(openWithRollover(denied, new URL('mms://h/x'), {}))) as MssError).code, 'unauthorized', 'a credentials refusal is final');
});

test('playlist entries after the first get numbered file names', (t) => {
  t.is(entryFileName('/tmp/out.asf', 1), '/tmp/out.asf');
  t.is(entryFileName('/tmp/out.asf', 3), '/tmp/out.3.asf');
  t.is(entryFileName('/tmp/out', 2), '/tmp/out.2.asf');
});
