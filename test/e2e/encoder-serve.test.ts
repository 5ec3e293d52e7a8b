/**
 * One process as encoder and server: `mss serve` with an `encoder` section feeding a local broadcast point.
 * Also the encoder's commands through the module interface are covered in test/encoder/module.test.ts.
 */
import test from '../helpers/test.js';
import { startServe } from '../helpers/serve.js';
import { frames, probe } from '../encoder/helpers.js';

test('mss serve with an encoder section encodes testsrc into its own broadcast point', async (t) => {
  const srv = await startServe({
    config: {
      server: { publishingPoints: [{ name: 'studio', type: 'broadcast', source: { type: 'push' } }] },
      encoder: { enabled: true, source: 'testsrc', profile: 'wmv2-300k', point: 'studio' },
    },
  });
  t.teardown(srv.stop);
  await srv.waitForLog((l) => l.event === 'encoder.encoder-started');
  const r = await probe(srv.mmsh('/studio'));
  t.true(frames(r, 'video') > 10);
  t.true(frames(r, 'audio') > 10);
  const status = (await fetch(srv.http('/api/status')).then((x) => x.json())) as Record<string, unknown>;
  t.regex(JSON.stringify(status), /studio/);
});

test('mss serve honours encoder.servePort: the encoded stream is served for pull on its own port', async (t) => {
  const { freePort } = await import('../helpers/mosquitto.js');
  const servePort = await freePort();
  const srv = await startServe({
    config: {
      server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: '/nonexistent' }] },
      encoder: { enabled: true, source: 'testsrc', profile: 'wmv2-300k', servePort },
    },
  });
  t.teardown(srv.stop);
  const pull = await srv.waitForLog((l) => l.event === 'http.listening' && l.component === 'mss.encoder-serve.http');
  t.is(pull.port, servePort);
  await srv.waitForLog((l) => l.event === 'encoder.encoder-started');
  const r = await probe(`mmsh://127.0.0.1:${servePort}/live`);
  t.true(frames(r, 'video') > 10);
  t.true(frames(r, 'audio') > 10);
  t.is((await fetch(srv.http('/live'))).status, 404, 'the main listener does not carry the encoder stream');
});

test('ffmpeg does not outlive an mss encode that is killed outright', async (t) => {
  const { ffmpegChildren, startEncode } = await import('../encoder/helpers.js');
  const enc = startEncode(['--source', 'testsrc', '--profile', 'wmv2-300k', '--serve', '0', '--host', '127.0.0.1']);
  t.teardown(enc.stop);
  await enc.waitForLog((l) => l.event === 'encoder.encoder-started');
  await new Promise((r) => setTimeout(r, 1000));
  const [ff] = ffmpegChildren(enc.child.pid!);
  t.truthy(ff);
  enc.child.kill('SIGKILL');
  const alive = () => {
    try {
      process.kill(ff!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const end = Date.now() + 15_000;
  while (alive() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(ff!, 'SIGKILL');
  t.false(alive(), 'ffmpeg exits on its own once its stdout pipe is gone');
});

test('the H.264 + AAC profile (libx264 on this board) plays over mmsh', async (t) => {
  const { ffmpegEncoders } = await import('../../board/detect.js');
  if (!(await ffmpegEncoders()).has('libx264')) return t.pass('ffmpeg has no libx264 here');
  const { frames, probe, startEncode } = await import('../encoder/helpers.js');
  const enc = startEncode(['--source', 'testsrc', '--profile', 'h264-500k', '--serve', '0', '--host', '127.0.0.1']);
  t.teardown(enc.stop);
  const listening = await enc.waitForLog((l) => l.event === 'http.listening');
  await enc.waitForLog((l) => l.event === 'encoder.encoder-started');
  const r = await probe(`mmsh://127.0.0.1:${listening.port}/live`);
  t.deepEqual(r.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  t.true(frames(r, 'video') > 10);
  t.true(frames(r, 'audio') > 10);
});

for (const mode of ['re-encoded', 'passed through'] as const) {
  test(`a file source (${mode}) is served live and plays over mmsh`, async (t) => {
    const { fixture, FIXTURES } = await import('../helpers/fixtures.js');
    const { frames, probe, startEncode } = await import('../encoder/helpers.js');
    const file = await fixture(FIXTURES.av20);
    const enc = startEncode(['--source', `file:${file}${mode === 'passed through' ? '?copy' : ''}`, '--profile', 'wmv2-300k', '--serve', '0', '--host', '127.0.0.1']);
    t.teardown(enc.stop);
    const listening = await enc.waitForLog((l) => l.event === 'http.listening');
    await enc.waitForLog((l) => l.event === 'encoder.encoder-started');
    const r = await probe(`mmsh://127.0.0.1:${listening.port}/live`);
    t.deepEqual(r.streams.map((s) => s.codec_name).sort(), ['wmav2', 'wmv2']);
    t.true(frames(r, 'video') > 10);
    t.true(frames(r, 'audio') > 10);
  });
}
