/**
 * End to end: `mss encode --source testsrc --push` into `mss serve`, played with ffprobe over mmsh://; a second
 * pusher is refused; killing ffmpeg mid-stream restarts it while a player keeps receiving.
 */
import test from '../helpers/test.js';
import { createLogger } from '../../src/core/log.js';
import { PushClient } from '../../src/protocols/wmhttp/client.js';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { startServe } from '../helpers/serve.js';
import { ffmpegChildren, frames, probe, startEncode } from '../encoder/helpers.js';

const pushPoint = (name: string) => ({ name, type: 'broadcast', source: { type: 'push' } });

test('testsrc pushed to mss serve plays over mmsh with video and audio; a second pusher is refused; an ffmpeg crash is survived', async (t) => {
  const srv = await startServe({ config: { server: { publishingPoints: [pushPoint('live2')] } } });
  t.teardown(srv.stop);
  const enc = startEncode(['--source', 'testsrc', '--profile', 'wmv2-300k', '--push', srv.http('/live2')]);
  t.teardown(enc.stop);
  await enc.waitForLog((l) => l.event === 'push.connected');
  await srv.waitForLog((l) => l.event === 'ingest.opened' && l.point === 'live2');

  const r = await probe(srv.mmsh('/live2'));
  t.deepEqual(r.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:wmav2', 'video:wmv2']);
  t.true(frames(r, 'video') > 10, `video frames decoded: ${frames(r, 'video')}`);
  t.true(frames(r, 'audio') > 10, `audio frames decoded: ${frames(r, 'audio')}`);

  // a second encoder pushing to the same point is refused with 409
  const other = new PushClient({ url: srv.http('/live2'), log: createLogger('test.push2'), backoffInitialMs: 60_000 });
  const refused = new Promise<number>((resolve) => other.once('refused', (status) => resolve(status)));
  other.setHeader(await firstHeader(srv.mmsh('/live2')));
  other.start();
  t.is(await refused, 409);
  await other.stop();

  // a player keeps receiving across an ffmpeg crash
  const player = openWmspStream(srv.mmsh('/live2'));
  t.teardown(() => player.close());
  let packets = 0;
  player.on('packet', () => packets++);
  player.on('error', () => undefined);
  const waitPackets = async (n: number, ms: number) => {
    const end = Date.now() + ms;
    const start = packets;
    while (packets - start < n) {
      if (Date.now() > end) throw new Error(`only ${packets - start} packets in ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await waitPackets(20, 20_000);
  const pids = ffmpegChildren(enc.child.pid!);
  t.is(pids.length, 1);
  process.kill(pids[0]!, 'SIGKILL');
  await enc.waitForLog((l) => l.event === 'encoder.encoder-exit');
  await enc.waitForLog((l) => l.event === 'encoder.encoder-restart', 15_000);
  await enc.waitForLog((l) => l.event === 'encoder.encoder-started' && l.run === 2, 15_000);
  // the same player connection keeps receiving after the restart
  await waitPackets(30, 30_000);
  const after = ffmpegChildren(enc.child.pid!);
  t.is(after.length, 1);
  t.not(after[0], pids[0]);

  // a clean stop leaves no ffmpeg behind
  const encPid = enc.child.pid!;
  await enc.stop();
  t.deepEqual(ffmpegChildren(encPid), []);
  t.false(alive(after[0]!), 'ffmpeg must not outlive mss encode');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The header a point currently serves (for a second pusher to offer). */
function firstHeader(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = openWmspStream(url);
    s.once('header', (h) => {
      s.close();
      resolve(h);
    });
    s.once('error', reject);
  });
}

test('a profile change while pushing reaches players as a new header on the same connection', async (t) => {
  const { LiveEncoder } = await import('../../src/encoder/encoder.js');
  const { parseHeaderObject } = await import('../../src/asf/index.js');
  const srv = await startServe({ config: { server: { publishingPoints: [pushPoint('switch')] } } });
  t.teardown(srv.stop);
  const enc = new LiveEncoder({ source: 'testsrc', profile: 'wmv2-300k', ffmpegPath: 'ffmpeg', push: { url: srv.http('/switch') } }, createLogger('test.switch'));
  await enc.start();
  t.teardown(() => enc.stop());
  await new Promise<void>((r) => enc.push!.once('connected', () => r()));
  await srv.waitForLog((l) => l.event === 'ingest.opened');
  await new Promise((r) => setTimeout(r, 1000));
  const player = openWmspStream(srv.mmsh('/switch'));
  t.teardown(() => player.close());
  const widths: number[] = [];
  let packets = 0;
  player.on('header', (h) => widths.push(parseHeaderObject(h).streams.find((s) => s.type === 'video')?.width ?? 0));
  player.on('packet', () => packets++);
  player.on('error', () => undefined);
  const until = async (pred: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out: ${what} (widths ${widths.join(',')}, packets ${packets})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await until(() => packets > 10, 20_000, 'first packets');
  t.is(widths[widths.length - 1], 320);
  await enc.changeSettings({ profile: 'wmv2-1m' });
  await until(() => widths.includes(640), 20_000, 'the new header');
  const after = packets;
  await until(() => packets > after + 10, 20_000, 'packets after the change');
  t.is(enc.push!.stats.connects, 1, 'the push session stayed up');
});
