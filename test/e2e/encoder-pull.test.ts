/**
 * End to end: `mss encode --serve` serves its stream over WMSP; a `mss serve` broadcast point with a pull source
 * relays it; ffprobe plays both. Killing the encoder's ffmpeg keeps the relay's players receiving.
 */
import test from '../helpers/test.js';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { startServe } from '../helpers/serve.js';
import { ffmpegChildren, frames, probe, startEncode } from '../encoder/helpers.js';

test('an encoder served for pull plays directly and through a pulling server point', async (t) => {
  const enc = startEncode(['--source', 'testsrc', '--profile', 'wmv2-300k', '--serve', '0', '--host', '127.0.0.1', '--point', 'cam']);
  t.teardown(enc.stop);
  const listening = await enc.waitForLog((l) => l.event === 'http.listening');
  await enc.waitForLog((l) => l.event === 'encoder.encoder-started');
  const encUrl = `http://127.0.0.1:${listening.port}/cam`;

  const direct = await probe(encUrl.replace('http:', 'mmsh:'));
  t.true(frames(direct, 'video') > 10);
  t.true(frames(direct, 'audio') > 10);

  const srv = await startServe({ config: { server: { publishingPoints: [{ name: 'relay', type: 'broadcast', source: { type: 'pull', url: encUrl }, start: 'boot' }] } } });
  t.teardown(srv.stop);
  await srv.waitForLog((l) => l.event === 'point.started' && l.point === 'relay');
  const relayed = await probe(srv.mmsh('/relay'));
  t.deepEqual(relayed.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:wmav2', 'video:wmv2']);
  t.true(frames(relayed, 'video') > 10, `relayed video frames: ${frames(relayed, 'video')}`);
  t.true(frames(relayed, 'audio') > 10);

  // ffmpeg dies in the encoder: the pulling server's player keeps receiving
  const player = openWmspStream(srv.mmsh('/relay'));
  t.teardown(() => player.close());
  let packets = 0;
  player.on('packet', () => packets++);
  player.on('error', () => undefined);
  const waitPackets = async (n: number, ms: number) => {
    const start = packets;
    const end = Date.now() + ms;
    while (packets - start < n) {
      if (Date.now() > end) throw new Error(`only ${packets - start} packets in ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await waitPackets(20, 20_000);
  const [pid] = ffmpegChildren(enc.child.pid!);
  process.kill(pid!, 'SIGKILL');
  await enc.waitForLog((l) => l.event === 'encoder.encoder-started' && l.run === 2, 20_000);
  await waitPackets(30, 30_000);
  t.pass();
});
