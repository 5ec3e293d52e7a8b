import test from '../../helpers/test.js';
import { MssError } from '../../../src/core/errors.js';
import {
  buildCommand,
  buildInquiry,
  decodePowerInquiry,
  decodeZoomPosition,
  parseReply,
  ViscaReplySplitter,
} from '../../../src/encoder/visca/codec.js';

const hex = (b: Buffer) => b.toString('hex');

test('builds the documented command packets', (t) => {
  t.is(hex(buildCommand(1, { kind: 'power', on: true })), '8101040002ff');
  t.is(hex(buildCommand(1, { kind: 'power', on: false })), '8101040003ff');
  t.is(hex(buildCommand(2, { kind: 'zoom', action: 'tele' })), '8201040702ff');
  t.is(hex(buildCommand(1, { kind: 'zoom', action: 'wide', speed: 5 })), '8101040735ff');
  t.is(hex(buildCommand(1, { kind: 'zoom', action: 'stop' })), '8101040700ff');
  t.is(hex(buildCommand(1, { kind: 'zoom-direct', position: 0x4000 })), '8101044704000000ff');
  t.is(hex(buildCommand(1, { kind: 'focus-mode', mode: 'auto' })), '8101043802ff');
  t.is(hex(buildCommand(1, { kind: 'focus-mode', mode: 'manual' })), '8101043803ff');
  t.is(hex(buildCommand(1, { kind: 'pan-tilt', direction: 'up-left', panSpeed: 0x18, tiltSpeed: 0x14 })), '8101060118140101ff');
  t.is(hex(buildCommand(1, { kind: 'pan-tilt', direction: 'stop' })), '8101060108080303ff');
  t.is(hex(buildCommand(1, { kind: 'preset', action: 'recall', preset: 5 })), '8101043f0205ff');
  t.is(hex(buildCommand(1, { kind: 'preset', action: 'set', preset: 5 })), '8101043f0105ff');
  t.is(hex(buildInquiry(1, 'power')), '81090400ff');
  t.is(hex(buildInquiry(1, 'zoom-position')), '81090447ff');
});

test('refuses out-of-range arguments with invalid-argument', (t) => {
  for (const f of [
    () => buildCommand(0, { kind: 'home' }),
    () => buildCommand(8, { kind: 'home' }),
    () => buildCommand(1, { kind: 'zoom-direct', position: 0x10000 }),
    () => buildCommand(1, { kind: 'zoom', action: 'tele', speed: 8 }),
    () => buildCommand(1, { kind: 'pan-tilt', direction: 'left', panSpeed: 0x19 }),
    () => buildCommand(1, { kind: 'preset', action: 'recall', preset: 128 }),
    () => buildCommand(1, { kind: 'pan-tilt', direction: 'sideways' as never }),
  ]) {
    const err = t.throws(f);
    t.is((err as MssError).code, 'invalid-argument');
  }
});

test('parses ACK, completion, error and inquiry values', (t) => {
  t.deepEqual(parseReply(Buffer.from('9041ff', 'hex')), { type: 'ack', from: 1, socket: 1 });
  const c = parseReply(Buffer.from('905002ff', 'hex'));
  t.is(c.type, 'completion');
  t.is(decodePowerInquiry((c as { data: Buffer }).data), 'on');
  const z = parseReply(Buffer.from('905001020304ff', 'hex'));
  t.is(decodeZoomPosition((z as { data: Buffer }).data), 0x1234);
  const e = parseReply(Buffer.from('906141ff', 'hex'));
  t.like(e, { type: 'error', code: 0x41, message: 'command not executable' });
  t.throws(() => parseReply(Buffer.from('9070ff', 'hex')), { message: /not an ACK/ });
  t.throws(() => decodeZoomPosition(Buffer.from('01020310', 'hex')), { message: /nibble/ });
});

test('the splitter reassembles replies split across chunks and reports noise once', (t) => {
  const s = new ViscaReplySplitter();
  t.deepEqual(s.push(Buffer.from('90', 'hex')), []);
  const r = s.push(Buffer.from('41ff9051ff', 'hex'));
  t.is(r.length, 2);
  const noisy = s.push(Buffer.from('0102039041ff', 'hex'));
  t.is(noisy.length, 2);
  t.true('error' in noisy[0]!);
  t.true('reply' in noisy[1]!);
});

test('fuzz: random bytes never throw out of the splitter and stay bounded', (t) => {
  let seed = 0x5eed;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const s = new ViscaReplySplitter();
  for (let i = 0; i < 5000; i++) {
    const len = rnd() % 40;
    const chunk = Buffer.alloc(len);
    for (let j = 0; j < len; j++) chunk[j] = rnd() & 0xff;
    const out = s.push(chunk);
    for (const o of out) if ('error' in o) t.true(o.error instanceof MssError);
  }
  t.pass();
});
