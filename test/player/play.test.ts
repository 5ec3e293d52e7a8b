/**
 * `mss play` as a process against a WMSP peer on loopback (built from the real codec and a real fixture),
 * checked with ffprobe/ffmpeg: file output, stdout piping, seeking, --duration, reconnect with resume,
 * .asx fallbacks + LOGURL, .nsc unicast fallback (multicast itself: test/e2e/msb.test.ts), mms:// rollover, Digest, the renderer sink and the log POST.
 * End-to-end runs against `mss serve` live in test/e2e/play.test.ts.
 */
import test from '../helpers/test.js';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAsfFile } from '../../src/asf/file.js';
import { parsePlayerLog } from '../../src/protocols/wmlog/codec.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startPeer } from './wmsp-peer.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');

interface PlayRun {
  code: number | null;
  events: Array<Record<string, unknown>>;
  stderr: string;
}

function play(args: string[], opts: { stdout?: NodeJS.WritableStream } = {}): Promise<PlayRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', ...args], { cwd: root, stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (stderr += c));
    if (opts.stdout) child.stdout!.pipe(opts.stdout);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    // 'close', not 'exit': the last lines (the done event) may still be in the pipe when the process exits
    child.on('close', (code) => {
      clearTimeout(timer);
      const events = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, events, stderr });
    });
  });
}

async function ffprobe(file: string): Promise<{ duration: number; startTime: number; codecs: string[] }> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,start_time:stream=codec_name', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { format: { duration: string; start_time: string }; streams: Array<{ codec_name: string }> };
  return { duration: Number(j.format.duration), startTime: Number(j.format.start_time), codecs: j.streams.map((s) => s.codec_name).sort() };
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-play-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('-o file.asf writes a file ffprobe accepts with the source streams and duration, then logs to the server', async (t) => {
  const source = await fixture(FIXTURES.av20);
  const peer = await startPeer(t, source);
  const out = path.join(await tempDir(t), 'out.asf');
  const run = await play([peer.url, '-o', out]);
  t.is(run.code, 0, run.stderr);
  const [got, want] = await Promise.all([ffprobe(out), ffprobe(source)]);
  t.deepEqual(got.codecs, want.codecs);
  t.true(Math.abs(got.duration - want.duration) < 0.5, `duration ${got.duration} vs ${want.duration}`);
  const logs = peer.requests.filter((r) => r.kind === 'Log');
  t.is(logs.length, 1);
  const log = parsePlayerLog({ contentType: String(logs[0]!.headers['content-type']), body: logs[0]!.body, maxBytes: 65536 });
  t.is(log.record['c-status'], '200');
  t.is(log.record['cs-uri-stem'], peer.url.replace('mmsh://', 'http://'));
  t.is(Number(log.record['c-pkts-received']), parseAsfFile(await readFile(source)).packetCount);
  t.is(logs[0]!.pragmas.get('client-id'), '4242');
});

test('-o - streams live ASF that ffmpeg decodes from a pipe', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20));
  const script = `"${process.execPath}" --import tsx "${MAIN}" play "${peer.url}" -o - --quiet 2>/dev/null | ffmpeg -hide_banner -loglevel error -i - -frames:v 25 -f null -; echo "rc=\${PIPESTATUS[0]},\${PIPESTATUS[1]}"`;
  const { stdout, stderr } = await execFileAsync('bash', ['-c', script], { cwd: root, timeout: 120_000 });
  t.regex(stdout, /rc=0,0/, stderr);
});

test('--start 30 lands near 30 s of a 120 s file', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av120));
  const out = path.join(await tempDir(t), 's30.asf');
  const run = await play([peer.url, '--start', '30', '-o', out, '--quiet']);
  t.is(run.code, 0, run.stderr);
  // the first packet received sits at the key frame at or before 30 s; the file (rebased to 0) holds the rest
  const done = run.events.find((e) => e.event === 'done');
  const start = Number(done?.startPositionMs);
  t.true(start > 27_000 && start <= 30_500, `start ${start}; done ${JSON.stringify(done)}; stderr ${run.stderr.slice(-2000)}`);
  const p = await ffprobe(out);
  t.true(p.duration > 88 && p.duration < 93.5, `duration ${p.duration}`);
  t.is(Number(peer.requests.find((r) => r.kind === 'Play')!.pragmas.get('stream-time')), 30_000);
});

test('--duration stops after that much media', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av120));
  const out = path.join(await tempDir(t), 'd5.asf');
  const run = await play([peer.url, '--duration', '5', '-o', out, '--quiet']);
  t.is(run.code, 0, run.stderr);
  t.is(run.events.find((e) => e.event === 'done')?.stoppedBy, 'duration');
  const p = await ffprobe(out);
  t.true(p.duration >= 4.5 && p.duration < 9, `duration ${p.duration}`);
});

test('a connection cut mid-play reconnects and resumes at the next packet: nothing lost, nothing twice', async (t) => {
  const source = await fixture(FIXTURES.av120);
  const peer = await startPeer(t, source, { cutAfter: 200 });
  const out = path.join(await tempDir(t), 'resumed.asf');
  const run = await play([peer.url, '-o', out]);
  t.is(run.code, 0, run.stderr);
  t.truthy(run.events.find((e) => e.event === 'reconnected'));
  const plays = peer.requests.filter((r) => r.kind === 'Play');
  t.true(plays.length >= 2, run.stderr);
  const resumedAt = Number(plays[1]!.pragmas.get('packet-num'));
  t.true(resumedAt > 150 && resumedAt <= 200, `resumed at ${resumedAt}`);
  const [a, b] = await Promise.all([readFile(source), readFile(out)]);
  const src = parseAsfFile(a);
  const got = parseAsfFile(b);
  t.is(got.packetCount, src.packetCount);
  t.true(got.packet(resumedAt).equals(src.packet(resumedAt)));
  const log = parsePlayerLog({ contentType: 'application/x-wms-LogStats', body: peer.requests.find((r) => r.kind === 'Log')!.body, maxBytes: 65536 });
  t.is(log.record['c-status'], '210'); // reconnected
});

test('.asx: a dead first reference falls back to the next, and the LOGURL gets the web-server log', async (t) => {
  const asx = `<ASX version="3.0"><LOGURL href="http://127.0.0.1:{port}/logs"/><Entry><Title>Clip</Title>
    <Ref href="mmsh://127.0.0.1:{port}/gone.wmv"/><Ref href="mmsh://127.0.0.1:{port}/vod/x.wmv"/></Entry></ASX>`;
  const peer = await startPeer(t, await fixture(FIXTURES.av20), { files: { '/list.asx': asx }, missing: ['/gone.wmv'] });
  const run = await play([peer.url.replace('mmsh://', 'http://').replace('/vod/x.wmv', '/list.asx'), '--quiet']);
  t.is(run.code, 0, run.stderr);
  t.truthy(run.events.find((e) => e.event === 'fallback'));
  const web = peer.requests.filter((r) => r.kind === 'WebLog');
  t.is(web.length, 1);
  const log = parsePlayerLog({ contentType: 'text/plain', body: web[0]!.body, maxBytes: 65536 });
  t.is(log.encoding, 'web');
  t.is(log.record['cs-media-name'], 'Clip');
});

test('.nsc without a stream format: its group cannot be joined, so the Unicast URL is played (and said so)', async (t) => {
  const nsc = '[Address]\r\nName=test\r\nIP Address=239.1.2.3\r\nIP Port=0x00004A41\r\nUnicast URL=mmsh://127.0.0.1:{port}/vod/x.wmv\r\n[Formats]\r\n';
  const peer = await startPeer(t, await fixture(FIXTURES.av20), { files: { '/ch1.nsc': nsc } });
  const run = await play([peer.url.replace('mmsh://', 'http://').replace('/vod/x.wmv', '/ch1.nsc'), '--quiet', '--no-log']);
  t.is(run.code, 0, run.stderr);
  const notice = run.events.find((e) => e.event === 'notice' && /multicast/.test(String(e.message)));
  t.regex(String(notice?.message), /cannot receive its multicast \(it lists no stream format\); playing its Unicast URL mmsh:/);
  t.is(peer.requests.filter((r) => r.kind === 'Play').length, 1);
});

test('mms:// rolls over to the protocols this build has; an unknown scheme says what is supported', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20));
  const run = await play([peer.url.replace('mmsh://', 'mms://'), '--quiet', '--no-log']);
  t.is(run.code, 0, run.stderr);
  t.is(run.events.find((e) => e.event === 'playing')?.protocol, 'wmsp');
  const bad = await play(['ftp://127.0.0.1:1/x', '--quiet']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /no protocol client plays ftp:\/\/ URLs \(this build plays mms:, rtsp:, rtspt:, rtspu:, mmsh:, http:, mmsu:, mmst:\)/);
  const dead = await play(['mms://127.0.0.1:1/x', '--quiet', '--reconnect', '0']);
  t.is(dead.code, 1);
  // RTSP first (on its own port), then WMSP on the URL's
  t.regex(dead.stderr, /cannot play mms:\/\/127\.0\.0\.1:1\/x: tried rtsp rtsp:\/\/127\.0\.0\.1\/x .*; wmsp mmsh:\/\/127\.0\.0\.1:1\/x/);
});

test('--user/--password answer a Digest challenge; a wrong password is a clear error', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20), { digestUser: { name: 'ann', password: 's3cret' } });
  const ok = await play([peer.url, '--user', 'ann', '--password', 's3cret', '--quiet']);
  t.is(ok.code, 0, ok.stderr);
  const bad = await play([peer.url, '--user', 'ann', '--password', 'nope', '--quiet']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /HTTP 401, credentials missing or refused/);
});

test('--render feeds a renderer process the ASF stream on its stdin', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20));
  const out = path.join(await tempDir(t), 'rendered.asf');
  const run = await play([peer.url, '--render', `cat > '${out}'`, '--quiet', '--no-log']);
  t.is(run.code, 0, run.stderr);
  const p = await ffprobe(out);
  t.deepEqual(p.codecs, ['wmav2', 'wmv2']);
});

test('a renderer that does not keep up gets packets dropped (and the user told), never a stalled download', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av120));
  const run = await play([peer.url, '--render', 'sleep 2; cat > /dev/null', '--render-queue', '64', '--no-log']);
  t.is(run.code, 0, run.stderr);
  t.truthy(run.events.find((e) => e.event === 'renderer-slow'));
  const done = run.events.find((e) => e.event === 'done')!;
  t.true(Number(done.droppedPackets) > 0);
  t.is(done.packets, 740);
});
