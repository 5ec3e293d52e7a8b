import test from '../../helpers/test.js';
import { isMssError } from '../../../src/core/errors.js';
import {
  AF_FIRST,
  AF_LAST,
  AF_MIDDLE,
  AF_WHOLE,
  MAX_MMS_PAYLOAD,
  WmspFrameParser,
  assembleHeader,
  classifyRequest,
  frameData,
  frameEnd,
  frameHeader,
  frameMetadata,
  framePacketPair,
  frameStreamChange,
  frameTest,
  parseAcceleration,
  parseFeatures,
  parsePragmas,
  parseStreamOffset,
  parseStreamSwitchEntries,
  pragmaNumber,
  pragmaUint,
} from '../../../src/protocols/wmsp/codec.js';
import { seededRandom as prng } from '../../helpers/prng.js';

const hex = (b: Buffer) => b.toString('hex');

test('$E, $C and $T frames have the byte layout of the spec examples', (t) => {
  t.is(hex(frameEnd()), '2445040000000000');
  t.is(hex(frameEnd(1)), '2445040001000000');
  t.is(hex(frameStreamChange()), '2443040000000000');
  t.is(hex(frameTest()), '24540000');
});

test('a 1234-byte header is one $H frame with AFFlags 0C and PacketSize == PacketLength', (t) => {
  const header = Buffer.alloc(1234, 7);
  const frames = frameHeader(header);
  t.is(frames.length, 1);
  t.is(hex(frames[0].subarray(0, 12)), '2448da0400000000000cda04');
  t.deepEqual(frames[0].subarray(12), header);
});

test('$D for packet 7, 8th data frame, packet size 3200', (t) => {
  const frame = frameData(Buffer.alloc(3200, 1), 7, 7);
  t.is(hex(frame.subarray(0, 12)), '2444880c07000000000788 0c'.replace(/ /g, ''));
  t.is(frame.length, 3212);
});

test('a header over 65,527 bytes is split with AFFlags 04, 00, 08 and reassembles', (t) => {
  const header = Buffer.alloc(MAX_MMS_PAYLOAD * 2 + 10);
  for (let i = 0; i < header.length; i++) header[i] = i & 0xff;
  const frames = frameHeader(header);
  t.is(frames.length, 3);
  const parsed = new WmspFrameParser().push(Buffer.concat(frames));
  t.deepEqual(parsed.map((f) => f.afFlags), [AF_FIRST, AF_MIDDLE, AF_LAST]);
  t.deepEqual(parsed.map((f) => f.locationId), [0, 1, 2]);
  t.deepEqual(assembleHeader(parsed), header);
  const exact = frameHeader(Buffer.alloc(MAX_MMS_PAYLOAD, 1));
  t.is(exact.length, 1);
  t.is(exact[0][9], AF_WHOLE);
});

test('the parser handles frames split at every byte boundary', (t) => {
  const stream = Buffer.concat([...frameHeader(Buffer.alloc(100, 3)), frameData(Buffer.alloc(50, 9), 0, 0), frameData(Buffer.alloc(50, 8), 1, 1), frameEnd()]);
  for (let cut = 1; cut < stream.length; cut++) {
    const p = new WmspFrameParser();
    const frames = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
    t.deepEqual(frames.map((f) => f.type), ['H', 'D', 'D', 'E'], `cut at ${cut}`);
    t.is(p.buffered, 0);
  }
});

test('the parser reads the B bit, $M and $P and rejects broken framing with the offset', (t) => {
  const meta = frameMetadata({ playlistGenId: 3, broadcastId: 0, features: ['seekable', 'stridable'] });
  const pairs = framePacketPair(120, (n) => Buffer.alloc(n, 0xaa));
  t.deepEqual(pairs.map((p) => p.length - 4), [504, 504, 1048]);
  const burst = frameData(Buffer.alloc(10), 5, 0);
  burst[0] = 0xa4;
  const frames = new WmspFrameParser().push(Buffer.concat([meta, ...pairs, burst]));
  t.is(frames[0].type, 'M');
  t.true(frames[0].payload.toString('latin1').startsWith('playlist-gen-id=3, broadcast-id=0, features="seekable,stridable"\0'));
  t.deepEqual(frames.slice(1, 4).map((f) => [f.type, f.reason]), [['P', 120], ['P', 120], ['P', 120]]);
  t.true(frames[4].burst);
  t.is(frames[4].locationId, 5);

  const bad = new WmspFrameParser();
  bad.push(frameEnd());
  const err = t.throws(() => bad.push(Buffer.from('2558000000', 'hex')));
  t.true(isMssError(err) && err.code === 'malformed' && /offset 8/.test(err.message));
  t.throws(() => new WmspFrameParser().push(Buffer.from('2499000000', 'hex')), { message: /unknown packet id 0x99/ });
  t.throws(() => new WmspFrameParser().push(Buffer.from('2444040000000000', 'hex')), { message: /shorter than the 8-byte/ });
  const mismatch = frameData(Buffer.alloc(4), 0, 0);
  mismatch.writeUInt16LE(99, 10);
  t.throws(() => new WmspFrameParser().push(mismatch), { message: /PacketSize 99 differs/ });
});

test("parsePragmas reads ffmpeg's play request including the glued stream-time line", (t) => {
  const tokens = parsePragmas([
    'no-cache,rate=1.000000,request-context=2',
    'xPlayStrm=1',
    'xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}',
    'stream-switch-count=2',
    'stream-switch-entry=ffff:1:0 ffff:2:0 ',
    'no-cache,rate=1.000000,stream-time=0Connection: Close',
  ]);
  t.is(pragmaUint(tokens, 'stream-time'), 0);
  t.is(pragmaUint(tokens, 'xPlayStrm'), 1);
  t.is(pragmaNumber(tokens, 'rate'), 1);
  t.is(tokens.get('xclientguid'), '{c77e7400-738a-11d2-9add-0020af0a3278}');
  const entries = parseStreamSwitchEntries(tokens.get('stream-switch-entry')!);
  t.deepEqual(entries.map((e) => [e.source, e.stream, e.thinning]), [[null, 1, 0], [null, 2, 0]]);
});

test('parsePragmas keeps commas inside quotes, log-line whole, and matches names case-insensitively', (t) => {
  const tokens = parsePragmas(['no-cache, client-id=1234, features="seekable,stridable", timeout=60000', 'log-line=0.0.0.0 2026-11-25 12:00:00 a,b c', 'AccelBW=2000000, AccelDuration=10000']);
  t.deepEqual(parseFeatures(tokens), ['seekable', 'stridable']);
  t.is(pragmaUint(tokens, 'client-id'), 1234);
  t.is(tokens.get('log-line'), '0.0.0.0 2026-11-25 12:00:00 a,b c');
  t.deepEqual(parseAcceleration(tokens), { bandwidth: 2000000, durationMs: 10000 });
  t.is(parseAcceleration(parsePragmas(['AccelBW=0'])), undefined);
});

test('stream-offset: hi:lo, the not-set value, and garbage', (t) => {
  t.is(parseStreamOffset(parsePragmas(['stream-offset=0:6400'])), 6400);
  t.is(parseStreamOffset(parsePragmas(['stream-offset=1:0'])), 2 ** 32);
  t.is(parseStreamOffset(parsePragmas(['stream-offset=4294967295:4294967295'])), undefined);
  t.throws(() => parseStreamOffset(parsePragmas(['stream-offset=abc'])), { message: /not <hi>:<lo>/ });
});

test('malformed Pragma values are MssErrors with a precise message', (t) => {
  t.throws(() => parsePragmas(['features="broadcast']), { message: /not terminated/ });
  t.throws(() => parsePragmas(['=5']), { message: /no token name/ });
  t.throws(() => parsePragmas(['bad name=1']), { message: /characters a token name/ });
  t.throws(() => pragmaUint(parsePragmas(['stream-time=abc']), 'stream-time'), { message: /not a number/ });
  t.throws(() => pragmaUint(parsePragmas(['stream-time=99999999999']), 'stream-time'), { message: /beyond 4294967295/ });
  t.throws(() => parsePragmas([Array.from({ length: 300 }, (_, i) => `t${i}=1`).join(',')]), { message: /more than 256 tokens/ });
  t.throws(() => parseStreamSwitchEntries('ffff:1'), { message: /not src:dst:thinning/ });
  t.is(parseStreamSwitchEntries('ffff:a:2')[0].stream, 10);
  t.true(Number.isNaN(parseStreamSwitchEntries('ffff:a:2')[0].streamDecimal));
});

test('classifyRequest tells every request type apart', (t) => {
  const k = (method: string, pragma: string[], extra: Record<string, string> = {}, target = '/p') => classifyRequest(method, { pragma, ...extra }, target).kind;
  t.is(k('GET', ['no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0']), 'Describe');
  t.is(k('GET', []), 'Describe');
  t.is(k('GET', ['xPlayStrm=1', 'stream-switch-count=1', 'stream-switch-entry=ffff:1:0']), 'Play');
  t.is(k('GET', ['pipeline-request=1']), 'Pipeline');
  t.is(k('GET', ['xPlayNextEntry=1']), 'PlayNextEntry');
  t.is(k('GET', ['client-id=5', 'stream-switch-entry=ffff:1:0']), 'SelectStream');
  t.is(k('OPTIONS', ['client-id=5'], {}, '*'), 'KeepAlive');
  t.is(k('POST', ['xKeepAliveInPause=1', 'client-id=5'], { 'content-length': '0' }), 'KeepAlive');
  t.is(k('POST', ['xStopStrm=1', 'client-id=5'], { 'content-length': '0' }), 'Stop');
  t.is(k('POST', ['client-id=5', 'stream-switch-entry=ffff:1:0']), 'SelectStream');
  t.is(k('POST', ['client-id=5'], { 'content-type': 'application/x-wms-LogStats;charset=UTF-8', 'content-length': '100' }), 'Log');
  t.is(k('POST', ['log-line=a b c']), 'Log');
  t.is(k('POST', [], { 'content-type': 'application/x-wms-sendevent' }), 'SendEvent');
  t.is(k('POST', [], { 'content-type': 'application/x-wms-getcontentinfo', 'content-length': '1' }), 'GetContentInfo');
  const err = t.throws(() => k('POST', ['no-cache']));
  t.true(isMssError(err) && err.code === 'unsupported');
  t.throws(() => k('DELETE', []), { message: /not a WMSP request/ });
  t.throws(() => k('GET', ['stream-time="x']), { message: /not terminated/ });
});

// -- seeded fuzzing ------------------------------------------------------------------------------------------------

test('fuzz: the frame parser returns frames or throws MssError, never anything else, on 100k inputs', (t) => {
  const rand = prng(0x5eed);
  const valid = Buffer.concat([...frameHeader(Buffer.alloc(300, 1)), frameData(Buffer.alloc(200, 2), 1, 1), frameStreamChange(), frameEnd()]);
  let frames = 0;
  let errors = 0;
  for (let i = 0; i < 100_000; i++) {
    let input: Buffer;
    if (i % 2 === 0) {
      // mutate a valid stream
      input = Buffer.from(valid);
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
      input = input.subarray(0, Math.floor(rand() * (input.length + 1)));
    } else {
      input = Buffer.alloc(Math.floor(rand() * 64));
      for (let j = 0; j < input.length; j++) input[j] = rand() < 0.3 ? 0x24 : Math.floor(rand() * 256);
    }
    const parser = new WmspFrameParser();
    try {
      let pos = 0;
      while (pos < input.length) {
        const n = 1 + Math.floor(rand() * 40);
        frames += parser.push(input.subarray(pos, pos + n)).length;
        pos += n;
      }
      t.true(parser.buffered <= 65539);
    } catch (err) {
      if (!isMssError(err)) t.fail(`non-MssError on input ${input.toString('hex')}: ${String(err)}`);
      errors++;
    }
  }
  t.true(frames > 0 && errors > 0);
});

test('fuzz: parsePragmas and classifyRequest return a value or throw MssError on 100k inputs', (t) => {
  const rand = prng(42);
  const alphabet = 'abcxyz-=,"{}: 019\t;xPlayStrm=1stream-switch-entry=ffff:1:0 client-id=log-line=features="Connection: Close\u0000\u00ff';
  const pieces = ['no-cache', 'rate=1.000000', 'stream-time=0', 'stream-offset=0:0', 'xPlayStrm=1', 'stream-switch-entry=ffff:1:0 ffff:2:0', 'features="a,b"', 'client-id=12', 'pipeline-request=1', 'log-line=a b', 'AccelBW=100', 'AccelDuration=5'];
  let ok = 0;
  for (let i = 0; i < 100_000; i++) {
    const lines: string[] = [];
    const n = Math.floor(rand() * 4);
    for (let l = 0; l < n; l++) {
      let s = '';
      const len = Math.floor(rand() * 60);
      for (let c = 0; c < len; c++) s += rand() < 0.15 ? pieces[Math.floor(rand() * pieces.length)] + ',' : alphabet[Math.floor(rand() * alphabet.length)];
      lines.push(s);
    }
    const method = ['GET', 'POST', 'OPTIONS', 'PUT'][Math.floor(rand() * 4)];
    try {
      const c = classifyRequest(method, { pragma: lines, 'content-length': rand() < 0.5 ? '0' : '12' }, rand() < 0.1 ? '*' : '/x');
      for (const name of ['stream-time', 'packet-num', 'client-id', 'max-duration']) {
        try {
          pragmaUint(c.pragmas, name);
        } catch (err) {
          if (!isMssError(err)) throw err;
        }
      }
      const sse = c.pragmas.get('stream-switch-entry');
      if (sse !== undefined) {
        try {
          parseStreamSwitchEntries(sse);
        } catch (err) {
          if (!isMssError(err)) throw err;
        }
      }
      try {
        parseStreamOffset(c.pragmas);
      } catch (err) {
        if (!isMssError(err)) throw err;
      }
      ok++;
    } catch (err) {
      if (!isMssError(err)) t.fail(`non-MssError for ${method} ${JSON.stringify(lines)}: ${String(err)}`);
    }
  }
  t.true(ok > 1000);
});
