/**
 * The encoder module as the device agent sees it: camera commands over a socat pty to the VISCA simulator, encoder
 * commands, events, health. A missing camera does not stop the encoder.
 */
import test from '../helpers/test.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/core/log.js';
import { MssError } from '../../src/core/errors.js';
import { EncoderModule } from '../../src/encoder/module.js';
import { startCameraSim } from './visca/camera-sim.js';

function encoderConfig(over: Record<string, unknown>) {
  return validateConfig({ encoder: { enabled: true, source: 'testsrc', profile: 'wmv2-300k', ...over } }).encoder;
}

test('camera commands reach the camera and inquiries answer; encoder commands start and stop; events are offered', async (t) => {
  const sim = await startCameraSim(1);
  t.teardown(() => sim.stop());
  // no push and no point: the encoder runs and simply has no sinks
  const m = new EncoderModule(encoderConfig({ camera: { port: sim.controllerPath, baudRate: 9600, address: 1, timeoutMs: 500 } }), { log: createLogger('test.encoder') });
  const events: string[] = [];
  m.onEvent((type) => events.push(type));
  await m.start();
  t.teardown(() => m.stop());
  const cmd = (name: string) => m.commands().find((c) => c.name === name)!;
  t.deepEqual(
    m.commands().map((c) => c.name).sort(),
    ['camera-focus', 'camera-inquiry', 'camera-pan-tilt', 'camera-power', 'camera-preset', 'camera-zoom', 'encoder-restart', 'encoder-start', 'encoder-status', 'encoder-stop'],
  );
  t.deepEqual(await cmd('camera-power').run({ on: true }), { power: 'on' });
  t.deepEqual(await cmd('camera-inquiry').run({ what: 'power' }), { power: 'on' });
  await cmd('camera-zoom').run({ position: 1000 });
  t.deepEqual(await cmd('camera-inquiry').run({ what: 'zoom-position' }), { zoomPosition: 1000 });
  await cmd('camera-focus').run({ mode: 'manual' });
  t.deepEqual(await cmd('camera-inquiry').run({ what: 'focus-mode' }), { focusMode: 'manual' });
  await cmd('camera-pan-tilt').run({ direction: 'up-left', panSpeed: 3 });
  await cmd('camera-preset').run({ action: 'set', preset: 2 });
  const bad = await t.throwsAsync(cmd('camera-zoom').run({ action: 'sideways' }));
  t.is((bad as MssError).code, 'invalid-argument');

  // a camera that stops answering: the command fails with a timeout, the encoder keeps running
  sim.mode = 'silent';
  const err = await t.throwsAsync(cmd('camera-inquiry').run({ what: 'power' }));
  t.is((err as MssError).code, 'timeout');
  sim.mode = 'answer';

  await new Promise((r) => setTimeout(r, 1500));
  t.true(m.health().ok || m.health().state === 'running', JSON.stringify(m.health()));
  t.true(events.includes('encoder-started'));
  t.deepEqual(await cmd('encoder-stop').run({}), { state: 'stopped' });
  t.false(m.health().ok);
  await cmd('encoder-start').run({});
  const status = (await cmd('encoder-status').run({})) as { state: string };
  t.is(status.state, 'running');
});

test('a configured camera that is not there does not stop the encoder', async (t) => {
  const m = new EncoderModule(encoderConfig({ camera: { port: '/dev/no-such-visca', baudRate: 9600, address: 1, timeoutMs: 200 } }), { log: createLogger('test.encoder') });
  const events: string[] = [];
  m.onEvent((type) => events.push(type));
  await m.start();
  t.teardown(() => m.stop());
  t.true(events.includes('camera-unavailable'));
  const err = await t.throwsAsync(m.commands().find((c) => c.name === 'camera-power')!.run({ on: true }));
  t.is((err as MssError).code, 'unavailable');
  t.is(m.liveEncoder?.status.state, 'running');
});
