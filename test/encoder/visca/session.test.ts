import test from '../../helpers/test.js';
import { createLogger } from '../../../src/core/log.js';
import { MssError } from '../../../src/core/errors.js';
import { ViscaCamera } from '../../../src/encoder/visca/session.js';
import { startCameraSim, type CameraSim } from './camera-sim.js';

async function setup(t: { teardown(fn: () => unknown): void }, timeoutMs = 400): Promise<{ sim: CameraSim; cam: ViscaCamera }> {
  const sim = await startCameraSim(1);
  const cam = new ViscaCamera({ port: sim.controllerPath, baudRate: 9600, address: 1, timeoutMs, completionTimeoutMs: 2000, log: createLogger('test.visca') });
  await cam.open();
  t.teardown(async () => {
    await cam.close();
    await sim.stop();
  });
  return { sim, cam };
}

test('commands get ACK and completion and change the camera state; inquiries return values', async (t) => {
  const { sim, cam } = await setup(t);
  t.is(await cam.inquirePower(), 'off');
  await cam.command({ kind: 'power', on: true });
  t.true(sim.power);
  t.is(await cam.inquirePower(), 'on');
  await cam.command({ kind: 'zoom-direct', position: 0x1234 });
  t.is(await cam.inquireZoomPosition(), 0x1234);
  await cam.command({ kind: 'focus-mode', mode: 'manual' });
  t.is(await cam.inquireFocusMode(), 'manual');
  await cam.command({ kind: 'focus-mode', mode: 'auto' });
  t.is(await cam.inquireFocusMode(), 'auto');
  await cam.command({ kind: 'pan-tilt', direction: 'left', panSpeed: 5, tiltSpeed: 5 });
  await cam.command({ kind: 'pan-tilt', direction: 'stop' });
  await cam.command({ kind: 'preset', action: 'set', preset: 3 });
  await cam.command({ kind: 'zoom', action: 'wide' });
  t.is(await cam.inquireZoomPosition(), 0);
  await cam.command({ kind: 'preset', action: 'recall', preset: 3 });
  t.is(await cam.inquireZoomPosition(), 0x1234);
  t.is(sim.received[1], '8101040002ff');
});

test('queued requests are answered in order', async (t) => {
  const { cam } = await setup(t);
  const results = await Promise.all([cam.command({ kind: 'power', on: true }), cam.inquirePower(), cam.command({ kind: 'zoom-direct', position: 7 }), cam.inquireZoomPosition()]);
  t.deepEqual(results, [undefined, 'on', undefined, 7]);
});

test('a camera error reply becomes an MssError and the session keeps working', async (t) => {
  const { cam } = await setup(t);
  const err = await t.throwsAsync(cam.command({ kind: 'preset', action: 'recall', preset: 9 }));
  t.true(err instanceof MssError);
  t.is((err as MssError).code, 'unavailable');
  t.regex(err!.message, /not executable/);
  t.is(await cam.inquirePower(), 'off');
});

test('a silent camera gives a timeout error, and the next request still goes out', async (t) => {
  const { sim, cam } = await setup(t, 300);
  sim.mode = 'silent';
  const err = await t.throwsAsync(cam.inquirePower());
  t.is((err as MssError).code, 'timeout');
  t.regex(err!.message, /no reply from address 1/);
  const err2 = await t.throwsAsync(cam.command({ kind: 'power', on: true }));
  t.is((err2 as MssError).code, 'timeout');
  t.regex(err2!.message, /no ACK/);
  sim.mode = 'answer';
  t.is(await cam.inquirePower(), 'off');
});

test('a garbage-speaking camera gives a protocol error, never a crash', async (t) => {
  const { sim, cam } = await setup(t, 500);
  sim.mode = 'garbage';
  const err = await t.throwsAsync(cam.command({ kind: 'zoom', action: 'tele' }));
  t.is((err as MssError).code, 'malformed');
  t.regex(err!.message, /protocol error/);
  const err2 = await t.throwsAsync(cam.inquireZoomPosition());
  t.is((err2 as MssError).code, 'malformed');
  sim.mode = 'answer';
  // garbage that arrived after the failure is flushed by the time the next answer comes
  await new Promise((r) => setTimeout(r, 100));
  t.is(await cam.inquirePower(), 'off');
});

test('opening a missing serial port is a clear unavailable error', async (t) => {
  const cam = new ViscaCamera({ port: '/dev/does-not-exist-visca', baudRate: 9600, address: 1, timeoutMs: 200, log: createLogger('test.visca') });
  const err = await t.throwsAsync(cam.open());
  t.is((err as MssError).code, 'unavailable');
  t.regex(err!.message, /does-not-exist-visca/);
  const err2 = await t.throwsAsync(cam.inquirePower());
  t.is((err2 as MssError).code, 'unavailable');
});
