/**
 * `mss play` against `mss serve` (both as processes, ephemeral port, loopback): a file ffprobe accepts with the
 * source's streams and duration, live ASF piped into ffmpeg, --start seeking, and a connection cut by a small
 * TCP proxy mid-play that the player survives by resuming where it stopped. Each play leaves exactly one player
 * log and one server session row, and the W3C file has the WMLOG header.
 */
import test from '../helpers/test.js';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAsfFile } from '../../src/asf/file.js';
import { fieldsDirective } from '../../src/logs/w3c-file.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { cuttingProxy } from '../helpers/cutting-proxy.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let srv: RunningServe;
let tmp: string;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  await fixture(FIXTURES.av120);
  await fixture(FIXTURES.mbr20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-e2e-play-'));
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: path.dirname(av20) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface PlayRun {
  code: number | null;
  events: Array<Record<string, unknown>>;
  stderr: string;
}

function play(args: string[]): Promise<PlayRun> {
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

async function ffprobe(file: string): Promise<{ duration: number; codecs: string[] }> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: Array<{ codec_name: string }> };
  return { duration: Number(j.format.duration), codecs: j.streams.map((s) => s.codec_name).sort() };
}

interface ApiEntry {
  id: number;
  source: string;
  clientId?: string;
  url: string;
  fields: Record<string, string>;
}

async function logEntries(): Promise<ApiEntry[]> {
  const res = await fetch(srv.http('/api/logs?since=0&limit=1000'));
  return ((await res.json()) as { entries: ApiEntry[] }).entries;
}

/** waits until `pred` holds for the stored entries (the server row is written when its session ends) */
async function waitEntries(pred: (e: ApiEntry[]) => boolean, timeoutMs = 20_000): Promise<ApiEntry[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entries = await logEntries();
    if (pred(entries) || Date.now() > until) return entries;
    await sleep(200);
  }
}

test('mss play mmsh://…/vod/x.wmv -o out.asf: ffprobe sees the source streams and duration; one player log, one server row', async (t) => {
  const source = await fixture(FIXTURES.av20);
  const out = path.join(tmp, 'vod.asf');
  const run = await play([srv.mmsh(`/vod/${FIXTURES.av20}`), '-o', out]);
  t.is(run.code, 0, run.stderr);
  const [got, want] = await Promise.all([ffprobe(out), ffprobe(source)]);
  t.deepEqual(got.codecs, want.codecs);
  t.true(Math.abs(got.duration - want.duration) < 0.5, `duration ${got.duration} vs ${want.duration}`);

  const sessionId = String(run.events.find((e) => e.event === 'playing')?.sessionId);
  t.regex(sessionId, /^\d+$/);
  const mine = (e: ApiEntry) => e.clientId === sessionId;
  const entries = await waitEntries((all) => all.filter(mine).length >= 2);
  await sleep(500); // nothing more arrives for this play
  const after = (await logEntries()).filter(mine);
  t.is(after.filter((e) => e.source === 'player').length, 1, JSON.stringify(entries.filter(mine)));
  t.is(after.filter((e) => e.source === 'server').length, 1, JSON.stringify(entries.filter(mine)));
  const player = after.find((e) => e.source === 'player')!;
  t.is(player.fields['c-ip'], '127.0.0.1'); // filled by the server from the socket
  t.is(Number(player.fields['c-pkts-received']), parseAsfFile(await readFile(source)).packetCount);
  const server = after.find((e) => e.source === 'server')!;
  t.is(server.fields['c-status'], '200');
  t.true(Number(server.fields['sc-bytes']) > 0);

  // the W3C file: WMLOG header, then lines of 52 fields
  await sleep(500);
  const w3c = await readFile(path.join(srv.dataDir, 'logs', 'mss_w3c.log'), 'utf8');
  const lines = w3c.split('\r\n');
  t.regex(lines[0]!, /^#Software: mss /);
  t.is(lines[1], '#Version: 1.0');
  t.regex(lines[2]!, /^#Date: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  t.is(lines[3], fieldsDirective());
  t.true(lines[3]!.startsWith('#Fields: c-ip date time c-dns cs-uri-stem c-starttime x-duration c-rate c-status c-playerid c-playerversion c-playerlanguage cs(User-Agent) cs(Referer)'));
  const data = lines.slice(4).filter((l) => l !== '');
  t.true(data.length >= 2);
  for (const l of data) t.is(l.split(' ').length, 52, l);
});

test('mss play …/live -o - | ffmpeg -i - -frames:v 25 -f null - decodes', async (t) => {
  const script = `"${process.execPath}" --import tsx "${MAIN}" play "${srv.mmsh('/live')}" -o - --quiet 2>/dev/null | ffmpeg -hide_banner -loglevel error -i - -frames:v 25 -f null -; echo "rc=\${PIPESTATUS[0]},\${PIPESTATUS[1]}"`;
  const { stdout, stderr } = await execFileAsync('bash', ['-c', script], { cwd: root, timeout: 120_000 });
  t.regex(stdout, /rc=0,0/, stderr);
});

test('--start 30 lands near 30 s of the 120 s fixture', async (t) => {
  const out = path.join(tmp, 'start30.asf');
  const run = await play([srv.mmsh(`/vod/${FIXTURES.av120}`), '--start', '30', '--duration', '4', '-o', out, '--quiet']);
  t.is(run.code, 0, run.stderr);
  const start = Number(run.events.find((e) => e.event === 'done')?.startPositionMs);
  t.true(start >= 27_000 && start <= 31_000, `first packet at ${start} ms`);
  const p = await ffprobe(out);
  t.true(p.duration >= 3.5 && p.duration < 9, `duration ${p.duration}`);
});


test('a connection dropped mid-play is resumed where it left off: the file is complete', async (t) => {
  const source = await fixture(FIXTURES.av20);
  const proxy = await cuttingProxy(t, srv.port, 200_000, (c) => c.toString('latin1').includes('xPlayStrm=1'));
  const out = path.join(tmp, 'resumed.asf');
  const run = await play([`mmsh://127.0.0.1:${proxy.port}/vod/${FIXTURES.av20}`, '-o', out]);
  t.is(run.code, 0, run.stderr);
  t.is(proxy.cuts(), 1);
  t.truthy(run.events.find((e) => e.event === 'reconnected'), run.stderr);
  const [a, b] = await Promise.all([readFile(source), readFile(out)]);
  const src = parseAsfFile(a);
  const got = parseAsfFile(b);
  t.is(got.packetCount, src.packetCount);
  const p = await ffprobe(out);
  t.true(Math.abs(p.duration - (await ffprobe(source)).duration) < 0.5);
});

test('the server\'s own .asx plays: RTSP first, as the .asx lists it before mmsh://', async (t) => {
  const out = path.join(tmp, 'from-asx.asf');
  const asx = await (await fetch(srv.http(`/vod/${FIXTURES.av20}.asx`))).text();
  t.regex(asx, new RegExp(`<Ref href="rtsp://127\\.0\\.0\\.1:${srv.rtspPort}/vod/[^"]+"\\s*/>\\s*<Ref href="mmsh://`, 'i'));
  const run = await play([srv.http(`/vod/${FIXTURES.av20}.asx`), '--duration', '3', '-o', out, '--no-log', '--quiet']);
  t.is(run.code, 0, run.stderr);
  const playing = run.events.find((e) => e.event === 'playing');
  t.is(playing?.protocol, 'rtsp');
  t.deepEqual((await ffprobe(out)).codecs, ['wmav2', 'wmv2']);
});

test('long plays also send interim logs (--log-interval)', async (t) => {
  const run = await play([srv.mmsh('/live'), '--duration', '8', '--log-interval', '1']);
  t.is(run.code, 0, run.stderr);
  t.true(run.events.filter((e) => e.event === 'interim-log-sent').length >= 1, run.stderr);
  t.is(run.events.filter((e) => e.event === 'log-sent').length, 1);
});

test('--bitrate picks the multiple-bit-rate variant that fits; the server sends only those streams', async (t) => {
  const out = path.join(tmp, 'mbr.asf');
  const run = await play([srv.mmsh(`/vod/${FIXTURES.mbr20}`), '--bitrate', '150000', '--duration', '3', '-o', out, '--no-log', '--quiet']);
  t.is(run.code, 0, run.stderr);
  t.is(run.events.find((e) => e.event === 'done')?.lost, 0, 'thinned packets are not counted as lost');
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,width,nb_read_packets', '-of', 'json', out]);
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; width?: number; nb_read_packets?: string }> }).streams;
  const packets = (w: number) => Number(streams.find((s) => s.width === w)?.nb_read_packets ?? 0);
  t.true(packets(160) > 0, stdout);
  t.is(packets(320), 0, stdout);
  t.true(Number(streams.find((s) => s.codec_type === 'audio')?.nb_read_packets ?? 0) > 0);
});

test('SIGINT stops a live recording cleanly: the file is finished and the log sent', async (t) => {
  const out = path.join(tmp, 'interrupted.asf');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', srv.mmsh('/live'), '-o', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  while (!stderr.includes('"event":"playing"')) await sleep(100);
  await sleep(2000);
  child.kill('SIGINT');
  t.is(await exited, 0, stderr);
  t.regex(stderr, /"event":"done","stoppedBy":"signal"/);
  t.regex(stderr, /"event":"log-sent","to":"server","status":204/);
  const p = await ffprobe(out);
  t.true(p.duration > 1, `duration ${p.duration}`);
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('mss serve killed and restarted mid-play: the player reconnects and resumes on-demand content where it stopped', async (t) => {
  const source = await fixture(FIXTURES.av20);
  const port = await freePort();
  const config = { http: { port }, server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: path.dirname(source) }] } };
  let first: RunningServe | undefined = await startServe({ config });
  let second: RunningServe | undefined;
  t.teardown(async () => {
    await first?.stop();
    await second?.stop();
  });
  const out = path.join(tmp, 'restarted.asf');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', `mmsh://127.0.0.1:${port}/vod/${FIXTURES.av20}`, '-o', out, '--reconnect', '8'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  while (!stderr.includes('"event":"playing"')) await sleep(100);
  await sleep(4000);
  first.child.kill('SIGKILL'); // a crash, not a clean stop
  await first.stop();
  first = undefined;
  second = await startServe({ config });
  t.is(await exited, 0, stderr);
  t.regex(stderr, /"event":"reconnected"/);
  const [a, b] = await Promise.all([readFile(source), readFile(out)]);
  t.is(parseAsfFile(b).packetCount, parseAsfFile(a).packetCount);
});
