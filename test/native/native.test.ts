import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from '../helpers/test.js';
import { loadNative } from '../../src/native/index.js';
import { dgramFd } from '../../src/net/udp-direct.js';
import { connectedUdpPair } from '../helpers/udp.js';
import { formatV4l2Report, listVideoNodes, probeVideoDevices, capabilityNames } from '../../src/native/v4l2.js';

const execFileAsync = promisify(execFile);
const mss = ['--import=tsx', path.resolve('src/cli/main.ts')];

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-native-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the addon is built by the install step and loads', (t) => {
  const addon = loadNative();
  t.true(addon.available, `addon not loaded: ${addon.reason}`);
  t.regex(addon.file, /mss_native\.node$|\.napi(\.armv7)?\.node$/);
});

test('without the addon every probe answers "not available" with the reason', async (t) => {
  const empty = await tmp(t);
  await writeFile(path.join(empty, 'package.json'), '{"name":"nothing-built"}');
  const addon = loadNative(empty);
  t.false(addon.available);
  t.regex(addon.reason, /No native build was found/);
  const report = probeVideoDevices(addon, empty);
  t.deepEqual(report, { available: false, reason: addon.reason, devices: [] });
  t.regex(formatV4l2Report(report), /^V4L2 probing not available: /);
  t.throws(() => addon.sdNotify('/run/x', 'READY=1'), { message: /not available/ });
  t.false(loadNative(undefined, { MSS_NATIVE: 'off' }).available);
});

test('a /dev without video nodes reports no V4L2 devices; a node that is no V4L2 device says so', async (t) => {
  const addon = loadNative();
  const dev = await tmp(t);
  t.is(formatV4l2Report(probeVideoDevices(addon, dev)), 'no V4L2 devices\n');
  await writeFile(path.join(dev, 'video10'), '');
  await writeFile(path.join(dev, 'video2'), '');
  await writeFile(path.join(dev, 'videox'), '');
  t.deepEqual(listVideoNodes(dev), [path.join(dev, 'video2'), path.join(dev, 'video10')]);
  const report = probeVideoDevices(addon, dev);
  t.true(report.available);
  t.deepEqual(report.devices.map((d) => (d.ok ? 'ok' : d.code)), ['ENOTTY', 'ENOTTY']);
  t.regex(formatV4l2Report(report), /video2: not a V4L2 device \(ENOTTY\)/);
  t.deepEqual(capabilityNames(0x04000001), ['video-capture', 'streaming']);
});

test('mss probe --devices prints both paths cleanly and exits 0', async (t) => {
  const dev = await tmp(t);
  const real = await execFileAsync(process.execPath, [...mss, 'probe', '--devices', '--dev-dir', dev]);
  t.is(real.stdout, 'no V4L2 devices\n');
  const off = await execFileAsync(process.execPath, [...mss, 'probe', '--devices', '--json'], { env: { ...process.env, MSS_NATIVE: 'off' } });
  t.deepEqual(JSON.parse(off.stdout), { available: false, reason: 'disabled by MSS_NATIVE=off', devices: [] });
});

test('sdNotify sends one datagram to a unix socket (socat stands in for systemd)', async (t) => {
  const dir = await tmp(t);
  const sock = path.join(dir, 'notify.sock');
  const socat = spawn('socat', ['-u', `UNIX-RECV:${sock}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => void socat.kill('SIGKILL'));
  let got = '';
  socat.stdout.on('data', (d: Buffer) => (got += d.toString()));
  const addon = loadNative();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      addon.sdNotify(sock, 'READY=1\nSTATUS=test');
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50)); // socat not bound yet
    }
  }
  while (!got.includes('STATUS=test') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.is(got, 'READY=1\nSTATUS=test');
  t.throws(() => addon.sdNotify('relative', 'x'), { message: /absolute path/ });
});

test('sendDatagrams sends a list as datagrams on a connected UDP socket, at most 64 a call, and -errno when none went', async (t) => {
  const addon = loadNative();
  const { rx, tx } = await connectedUdpPair(t);
  const got: string[] = [];
  rx.on('message', (m) => got.push(m.toString()));
  const fd = dgramFd(tx);
  t.true(fd >= 0);
  const list = Array.from({ length: 100 }, (_, i) => Buffer.from(`datagram ${i}`));
  let sent = 0;
  while (sent < list.length) {
    const n = addon.sendDatagrams(fd, list, sent, list.length);
    t.true(n > 0 && n <= 64, `one call takes at most 64: ${n}`);
    sent += n;
  }
  t.is(addon.sendDatagrams(fd, list, list.length, list.length), 0, 'nothing to send');
  t.is(addon.sendDatagrams(fd, list, 0, 3), 3, 'up to end only');
  t.is(addon.sendDatagrams(fd, list, 97, 1000), 3, 'end past the list is the list');
  while (got.length < 106) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(got, [...list, ...list.slice(0, 3), ...list.slice(97)].map(String));
  t.throws(() => addon.sendDatagrams(fd, ['not a buffer'] as unknown as Buffer[], 0, 1), { message: /every element must be a Buffer/ });
  t.throws(() => addon.sendDatagrams(-1, list, 0, 1), { message: /fd a socket descriptor/ });
  t.is(addon.sendDatagrams(9999, list, 0, 1), -constants.errno.EBADF);
});
