import test from '../../helpers/test.js';
import { readFileSync } from 'node:fs';
import { MssError } from '../../../src/core/errors.js';
import {
  buildPushSetupBody,
  classifyPushRequest,
  framePushData,
  framePushEnd,
  framePushFiller,
  framePushHeader,
  framePushStreamChange,
  newPushId,
  parsePushIdCookie,
  parsePushSetupBody,
  pointNameFromPath,
  PushBodyParser,
} from '../../../src/protocols/wmhttp/codec.js';
import { fixture, FIXTURES } from '../../helpers/fixtures.js';
import { parseAsfStream } from '../../../src/asf/index.js';

async function sample(): Promise<{ header: Buffer; packets: Buffer[] }> {
  const events = parseAsfStream(readFileSync(await fixture(FIXTURES.stream20)));
  const header = (events.find((e) => e.type === 'header') as { headerBytes: Buffer }).headerBytes;
  const packets = events.filter((e) => e.type === 'packet').map((e) => (e as { packet: Buffer }).packet);
  return { header, packets };
}

test('classifies push requests by method and Content-Type', (t) => {
  t.is(classifyPushRequest('POST', 'application/x-wms-pushsetup'), 'push-setup');
  t.is(classifyPushRequest('POST', 'application/x-wms-pushstart;charset=UTF-8'), 'push-start');
  t.is(classifyPushRequest('GET', 'application/x-wms-pushstart'), null);
  t.is(classifyPushRequest('POST', 'application/x-wms-LogStats'), null);
  t.is(classifyPushRequest('POST', undefined), null);
});

test('PushSetup directives round-trip and reject bad values', (t) => {
  const body = buildPushSetupBody({ templateUrl: '/tpl', autoDestroy: true });
  t.is(body, 'Template-URL: "/tpl"\r\nAutoDestroy: 1\r\n');
  t.deepEqual(parsePushSetupBody(body), { templateUrl: '/tpl', autoDestroy: true });
  t.deepEqual(parsePushSetupBody(''), { autoDestroy: false });
  t.deepEqual(parsePushSetupBody('X-Unknown: 5\r\nAutoDestroy: 0\r\n'), { autoDestroy: false });
  t.throws(() => parsePushSetupBody('AutoDestroy: yes'), { message: /AutoDestroy must be 0 or 1/ });
  t.throws(() => parsePushSetupBody('garbage line'), { message: /line 1/ });
  t.throws(() => parsePushSetupBody('A: ' + 'x'.repeat(5000)), { message: /limit/ });
});

test('push-id cookies: parse, refuse junk, generate', (t) => {
  t.is(parsePushIdCookie('push-id=0'), '0');
  t.is(parsePushIdCookie('a=b; push-id=Abc123'), 'Abc123');
  t.is(parsePushIdCookie(undefined), undefined);
  t.throws(() => parsePushIdCookie('push-id=../etc'), { message: /letters or digits/ });
  const id = newPushId();
  t.regex(id, /^[A-Za-z0-9]{24}$/);
  t.not(newPushId(), id);
  t.is(pointNameFromPath('/live2'), 'live2');
  t.is(pointNameFromPath('http://h:1/tpl/x'), 'tpl');
  t.throws(() => pointNameFromPath('/'));
});

test('a framed body parses back into the same header and packets, in any chunking', async (t) => {
  const { header, packets } = await sample();
  const body = Buffer.concat([framePushHeader(header), ...packets.slice(0, 20).map(framePushData), framePushEnd(1), framePushStreamChange(header), framePushData(packets[20]!), framePushFiller(10), framePushEnd(0)]);
  for (const step of [1, 7, 333, body.length]) {
    const p = new PushBodyParser();
    const events = [];
    for (let i = 0; i < body.length; i += step) events.push(...p.push(body.subarray(i, i + step)));
    t.is(events.length, 1 + 20 + 1 + 1 + 1 + 1 + 1);
    t.true((events[0] as { header: Buffer }).header.equals(header));
    t.true((events[5] as { packet: Buffer }).packet.equals(packets[4]!));
    t.deepEqual(events[21], { type: 'end', reason: 1 });
    t.is(events[22]!.type, 'stream-change');
    t.deepEqual(events[25], { type: 'end', reason: 0 });
    t.is(p.consumed, body.length);
    t.is(p.payloadForm, 'spec');
  }
});

test('the WMSP-style form with an 8-byte MMS data header is detected and stripped', async (t) => {
  const { header, packets } = await sample();
  const mms = (id: number, payload: Buffer, loc: number, flags: number) => {
    const out = Buffer.alloc(12 + payload.length);
    out[0] = 0x24;
    out[1] = id;
    out.writeUInt16LE(8 + payload.length, 2);
    out.writeUInt32LE(loc, 4);
    out[9] = flags;
    out.writeUInt16LE(8 + payload.length, 10);
    payload.copy(out, 12);
    return out;
  };
  const p = new PushBodyParser();
  const ev = p.push(Buffer.concat([mms(0x48, header, 0, 0x0c), mms(0x44, packets[0]!, 0, 0), mms(0x44, packets[1]!, 1, 1)]));
  t.is(p.payloadForm, 'mms');
  t.true((ev[0] as { header: Buffer }).header.equals(header));
  t.true((ev[2] as { packet: Buffer }).packet.equals(packets[1]!));
});

test('bad bodies give precise MssErrors', async (t) => {
  const { header } = await sample();
  const bad = (b: Buffer, re: RegExp, code: MssError['code'] = 'malformed') => {
    const err = t.throws(() => new PushBodyParser().push(b));
    t.true(err instanceof MssError);
    t.is((err as MssError).code, code);
    t.regex(err!.message, re);
  };
  bad(Buffer.from('GET / HTTP/1.0\r\n\r\n'), /frame start 0x24, found 0x47/);
  bad(Buffer.from([0x24, 0x58, 0, 0]), /unknown packet id 0x58/);
  bad(Buffer.from([0x24, 0x45, 2, 0, 0, 0]), /\$E frame length must be 4/);
  bad(framePushHeader(Buffer.alloc(100, 0x11)), /not an ASF header/);
  const lying = Buffer.from(header);
  lying.writeBigUInt64LE(200000n, 16);
  bad(framePushHeader(lying), /exceeds the 65531-byte limit/, 'too-large');
  const short = Buffer.from(header);
  short.writeBigUInt64LE(BigInt(header.length + 10), 16);
  bad(framePushHeader(short), /larger than the .* bytes the frame carries/, 'too-large');
  const small = new PushBodyParser({ maxHeaderBytes: 100 });
  t.throws(() => small.push(framePushHeader(header)), { message: /100-byte limit/ });
});

test('fuzz: mutated bodies only ever give events or MssErrors, never hang or over-buffer', async (t) => {
  const { header, packets } = await sample();
  const good = Buffer.concat([framePushHeader(header), ...packets.slice(0, 10).map(framePushData), framePushEnd(0)]);
  let seed = 20261125;
  const rnd = () => (seed = (seed * 1664525 + 1013904223) >>> 0);
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(good);
    const flips = 1 + (rnd() % 8);
    for (let j = 0; j < flips; j++) b[rnd() % b.length] = rnd() & 0xff;
    const cut = b.subarray(0, rnd() % b.length);
    const p = new PushBodyParser();
    try {
      p.push(cut);
      t.true(p.bufferedBytes <= 65539);
    } catch (err) {
      if (!(err instanceof MssError)) t.fail(`non-MssError: ${String(err)}`);
    }
  }
  t.pass();
});
