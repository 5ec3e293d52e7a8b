/**
 * The capture supervisor with real child processes: ffmpeg itself, and small shell scripts standing in for an
 * ffmpeg that cannot open its device, that hangs, or that does not exist.
 */
import test from '../helpers/test.js';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/core/log.js';
import { CaptureSupervisor, type EncoderEvent } from '../../src/encoder/capture.js';
import { buildFfmpegArgs } from '../../src/encoder/ffmpeg-command.js';
import { chooseEncoders, getProfile } from '../../src/encoder/profiles.js';
import { parseSource } from '../../src/encoder/source.js';
import { ffmpegEncoders } from '../../board/detect.js';
import { parseHeaderObject, readSendTime } from '../../src/asf/index.js';

const log = createLogger('test.capture');

async function script(t: { teardown(f: () => unknown): void }, body: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-fake-ffmpeg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ffmpeg');
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

function nextEvent(c: CaptureSupervisor, type: EncoderEvent['type'], ms = 20_000): Promise<EncoderEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${type} event in ${ms} ms`)), ms);
    const on = (e: EncoderEvent) => {
      if (e.type !== type) return;
      clearTimeout(t);
      c.off('event', on);
      resolve(e);
    };
    c.on('event', on);
  });
}

test('real ffmpeg: multi-bitrate H.264 header and packets with rising send times; restart keeps the timeline going', async (t) => {
  const profile = getProfile('mbr-h264');
  const enc = await ffmpegEncoders();
  if (!enc.has('libx264')) return t.pass('no libx264 here');
  const c = new CaptureSupervisor({ ffmpegPath: 'ffmpeg', args: buildFfmpegArgs({ source: parseSource('testsrc'), profile, encoders: chooseEncoders(profile, enc) }), log, backoffInitialMs: 100 });
  t.teardown(() => c.stop());
  const headers: Buffer[] = [];
  const times: number[] = [];
  c.on('header', (h) => headers.push(h));
  c.on('packet', (p) => times.push(readSendTime(p)));
  c.start();
  while (times.length < 30) await new Promise((r) => setTimeout(r, 100));
  const h = parseHeaderObject(headers[0]!);
  t.deepEqual(h.streams.map((s) => s.type), ['video', 'video', 'video', 'audio']);
  const beforeRestart = times.length;
  const last = times[times.length - 1]!;
  c.restartNow();
  await nextEvent(c, 'encoder-restart');
  while (times.length < beforeRestart + 20) await new Promise((r) => setTimeout(r, 100));
  t.true(times[beforeRestart + 5]! > last, 'send times continue after the restart');
  t.is(headers.length, 1, 'an identical header after the restart is not announced again');
});

test('an ffmpeg that cannot open its capture device gives capture-lost and restarts with growing backoff', async (t) => {
  const fake = await script(t, 'echo "[video4linux2,v4l2 @ 0x1] Cannot open video device /dev/video9: No such device" >&2; exit 1');
  // the node exists (a stand-in file) but ffmpeg cannot use it
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-devices-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'video9'), '');
  const c = new CaptureSupervisor({ ffmpegPath: fake, args: [], log, devices: [path.join(dir, 'video9')], backoffInitialMs: 50, backoffMaxMs: 400 });
  t.teardown(() => c.stop());
  c.start();
  const lost = await nextEvent(c, 'capture-lost');
  t.is(lost.message, 'ffmpeg reported a capture device error');
  t.regex(lost.stderr!.join('\n'), /Cannot open video device/);
  const second = await nextEvent(c, 'capture-lost');
  t.true(second.restartInMs! > lost.restartInMs!);
});

test('a device that goes away while capturing is "gone"; the restarts then wait for it slowly instead of running ffmpeg', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-devices-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const dev = path.join(dir, 'video2');
  await writeFile(dev, '');
  const fake = await script(t, `sleep 0.3; rm -f ${dev}; echo "Cannot open video device: No such device" >&2; exit 1`);
  const c = new CaptureSupervisor({ ffmpegPath: fake, args: [], log, devices: [dev], backoffInitialMs: 50, missingDeviceRetryMs: 200 });
  t.teardown(() => c.stop());
  const events: EncoderEvent[] = [];
  c.on('event', (e) => events.push(e));
  c.start();
  const lost = await nextEvent(c, 'capture-lost');
  t.is(lost.message, `capture device ${dev} is gone`);
  await new Promise((r) => setTimeout(r, 1500));
  t.is(events.filter((e) => e.type === 'encoder-started').length, 1, 'ffmpeg was not run again while the device is missing');
  t.is(events.filter((e) => e.type === 'capture-lost').length, 1, 'and it was said once');
});

test('a capture device missing at start: said not to exist, with the devices found, ffmpeg not run, a slow retry; it starts once the device appears', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-devices-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'video0'), '');
  await writeFile(path.join(dir, 'video1'), '');
  const marker = path.join(dir, 'ffmpeg-ran');
  const fake = await script(t, `touch ${marker}; sleep 30`);
  const missing = path.join(dir, 'video9');
  const c = new CaptureSupervisor({ ffmpegPath: fake, args: [], log, devices: [missing], backoffInitialMs: 50, missingDeviceRetryMs: 300 });
  t.teardown(() => c.stop());
  const events: EncoderEvent[] = [];
  c.on('event', (e) => events.push(e));
  const first = nextEvent(c, 'capture-missing', 5000);
  c.start();
  const e = await first;
  t.regex(e.message!, new RegExp(`capture device ${missing} does not exist`));
  t.regex(e.message!, new RegExp(`found: ${path.join(dir, 'video0')}, ${path.join(dir, 'video1')}`));
  t.is(e.device, missing);
  t.is(e.restartInMs, 300);
  await new Promise((r) => setTimeout(r, 1000));
  t.false(c.running, 'ffmpeg is not started for a device that does not exist');
  t.deepEqual(events.map((x) => x.type), ['capture-missing'], 'said once, not at every retry; never "capture-lost"');
  const { existsSync } = await import('node:fs');
  t.false(existsSync(marker));
  await writeFile(missing, '');
  await nextEvent(c, 'encoder-started', 10_000);
  for (let i = 0; i < 50 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  t.true(existsSync(marker), 'ffmpeg runs once the device is there');
});

test('no device of the kind at all: the message says none were found', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-devices-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const c = new CaptureSupervisor({ ffmpegPath: '/bin/false', args: [], log, devices: [path.join(dir, 'video3')], missingDeviceRetryMs: 60_000 });
  t.teardown(() => c.stop());
  const e = nextEvent(c, 'capture-missing', 5000);
  c.start();
  t.regex((await e).message!, /does not exist \(no other video devices found\)/);
});

test('a hung ffmpeg is killed by the stall watchdog; stop() leaves no process behind', async (t) => {
  const fake = await script(t, 'sleep 60 & wait');
  const c = new CaptureSupervisor({ ffmpegPath: fake, args: [], log, stallTimeoutMs: 300, backoffInitialMs: 50 });
  c.start();
  const pid = c.pid!;
  await nextEvent(c, 'encoder-stalled');
  await nextEvent(c, 'encoder-started');
  const pid2 = c.pid!;
  t.not(pid2, pid);
  await c.stop();
  t.false(c.running);
  // the whole group (the script and its sleep) is gone (give init a moment to reap the orphaned sleep)
  const groupAlive = () => {
    try {
      process.kill(-pid2, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 40 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 50));
  t.false(groupAlive());
});

test('a missing ffmpeg program is an encoder-failed event, not a crash', async (t) => {
  const c = new CaptureSupervisor({ ffmpegPath: '/nonexistent/ffmpeg', args: [], log, backoffInitialMs: 50 });
  t.teardown(() => c.stop());
  c.start();
  const e = await nextEvent(c, 'encoder-failed');
  t.regex(e.message!, /cannot run \/nonexistent\/ffmpeg/);
});

test('multi-bitrate headers get a Bitrate Mutual Exclusion over the video streams and per-stream bit rates', async (t) => {
  const profile = getProfile('mbr-wmv2');
  const c = new CaptureSupervisor({ ffmpegPath: 'ffmpeg', args: buildFfmpegArgs({ source: parseSource('testsrc'), profile, encoders: chooseEncoders(profile, await ffmpegEncoders()) }), log });
  t.teardown(() => c.stop());
  const header = await new Promise<Buffer>((resolve) => {
    c.once('header', (h) => resolve(h));
    c.start();
  });
  const { withMultiBitrateObjects } = await import('../../src/encoder/mbr-header.js');
  const out = withMultiBitrateObjects(header, new Map([[1, 1_000_000], [2, 500_000], [3, 200_000], [4, 64_000]]));
  const h = parseHeaderObject(out);
  t.deepEqual(h.mutualExclusion?.map((m) => [m.kind, [...m.streams]]), [['bitrate', [1, 2, 3]]]);
  t.is(h.streamBitrates?.get(2), 500_000);
  t.is(out.length, h.raw.length + 50);
  t.is(withMultiBitrateObjects(out, new Map()), out, 'idempotent');
});

test('real ffmpeg on a V4L2 device that is not there: "does not exist" with the devices found, ffmpeg not run, no fast retries', async (t) => {
  const profile = getProfile('wmv2-300k');
  const source = parseSource('v4l2:/dev/video97?size=320x240&fps=25');
  const c = new CaptureSupervisor({
    ffmpegPath: 'ffmpeg',
    args: buildFfmpegArgs({ source, profile, encoders: chooseEncoders(profile, await ffmpegEncoders()) }),
    devices: ['/dev/video97'],
    log,
    backoffInitialMs: 100,
  });
  t.teardown(() => c.stop());
  const events: EncoderEvent[] = [];
  c.on('event', (e) => events.push(e));
  const missing = nextEvent(c, 'capture-missing');
  c.start();
  const e = await missing;
  t.is(e.device, '/dev/video97');
  t.regex(e.message!, /capture device \/dev\/video97 does not exist \((found: \/dev\/video\d+|no other video devices found)/);
  t.is(e.restartInMs, 10_000, 'looked for again slowly');
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual(events.map((x) => x.type), ['capture-missing'], 'no ffmpeg run, no restart loop');
});
