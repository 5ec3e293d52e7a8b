/**
 * `mss play` over RTSP against `mss serve` as a process: --start seeks, --bitrate selects the multiple-bit-rate
 * variant that fits (only its streams are set up and sent), a control connection cut mid-play is resumed at the
 * next ASF packet (the file is complete), credentials answer a Digest challenge, and /api/status shows RTSP.
 */
import test from '../helpers/test.js';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAsfFile } from '../../src/asf/file.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { cuttingProxy } from '../helpers/cutting-proxy.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');
let srv: RunningServe;
let tmp: string;
let dir: string;

test.before(async () => {
  const files = await Promise.all([fixture(FIXTURES.av20), fixture(FIXTURES.av120), fixture(FIXTURES.mbr20)]);
  dir = path.dirname(files[0]);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-rtsp-play-'));
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: dir },
          { name: 'digest', type: 'ondemand', path: dir, auth: { scheme: 'digest', realm: 'mss', users: [{ name: 'bob', password: 'pw' }] } },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function play(args: string[]): Promise<{ code: number | null; stderr: string; events: Array<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, events: stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) });
    });
  });
}

test('--start 30 on the 120 s file starts within 2 s of 30 s', async (t) => {
  const run = await play([srv.rtsp(`/vod/${FIXTURES.av120}`), '--start', '30', '--duration', '2', '--no-log', '--quiet']);
  t.is(run.code, 0, run.stderr);
  const done = run.events.find((e) => e.event === 'done')!;
  t.true(Math.abs(Number(done.startPositionMs) - 30_000) <= 2000, `started at ${String(done.startPositionMs)} ms`);
});

test('--bitrate picks the variant that fits: only its streams are set up and sent, and nothing counts as lost', async (t) => {
  const out = path.join(tmp, 'mbr.asf');
  const run = await play([srv.rtsp(`/vod/${FIXTURES.mbr20}`), '--bitrate', '150000', '--duration', '3', '-o', out, '--no-log', '--quiet']);
  t.is(run.code, 0, run.stderr);
  t.is(run.events.find((e) => e.event === 'done')?.lost, 0);
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,width,nb_read_packets', '-of', 'json', out]);
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; width?: number; nb_read_packets?: string }> }).streams;
  const packets = (w: number) => Number(streams.find((s) => s.width === w)?.nb_read_packets ?? 0);
  t.true(packets(160) > 0, stdout);
  t.is(packets(320), 0, stdout);
});


test('a connection cut mid-play is resumed at the next packet (x-asf-packet): the file is complete', async (t) => {
  const proxy = await cuttingProxy(t, srv.rtspPort, 200_000);
  const out = path.join(tmp, 'resumed.asf');
  const run = await play([`rtsp://127.0.0.1:${proxy.port}/vod/${FIXTURES.av20}`, '-o', out]);
  t.is(run.code, 0, run.stderr);
  t.is(proxy.cuts(), 1);
  t.truthy(run.events.find((e) => e.event === 'reconnected'), run.stderr);
  // the LogPlay goes after the session ended, on a connection of its own
  t.deepEqual(run.events.find((e) => e.event === 'done')?.logs, ['server:200']);
  const [src, got] = await Promise.all([readFile(path.join(dir, FIXTURES.av20)), readFile(out)]).then((b) => b.map(parseAsfFile));
  t.is(got!.packetCount, src!.packetCount);
  for (let i = 0; i < src!.packetCount; i++) if (!got!.packet(i).equals(src!.packet(i))) t.fail(`packet ${i} differs`);
});

test('Digest credentials from the command line; a wrong password is a clear error; /api/status lists RTSP', async (t) => {
  const ok = await play([srv.rtsp(`/digest/${FIXTURES.av20}`), '--user', 'bob', '--password', 'pw', '--duration', '1', '--no-log', '--quiet']);
  t.is(ok.code, 0, ok.stderr);
  const bad = await play([srv.rtsp(`/digest/${FIXTURES.av20}`), '--user', 'bob', '--password', 'nope', '--quiet']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /RTSP 401 Unauthorized, credentials missing or refused/);
  const status = (await (await fetch(srv.http('/api/status'))).json()) as { rtsp?: { sessions: number; requests: number; udpPortPairs: { capacity: number } } };
  t.true((status.rtsp?.requests ?? 0) > 0);
  t.true((status.rtsp?.udpPortPairs.capacity ?? 0) > 0);
});
