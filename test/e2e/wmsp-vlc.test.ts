/**
 * VLC 3 as a WMSP player (its mmsh access, HTTP/1.0 requests, hex stream-switch-entry) against `mss serve`:
 * on-demand and live both play. Skipped when VLC is not installed (scripts/bench/wmsp-fanout.ts installs it).
 */
import test from '../helpers/test.js';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServe } from '../helpers/serve.js';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const vlcAvailable = has('cvlc') && (process.getuid?.() !== 0 || has('setpriv'));
const maybe = vlcAvailable ? test : test.skip;

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: String(stdout) + String(stderr) }));
  });
}

/** VLC refuses to run as root: drop to nobody when needed */
function vlc(args: string[]): Promise<{ code: number; out: string }> {
  const base = ['-q', '-I', 'dummy', '--no-audio', ...args, 'vlc://quit'];
  if (process.getuid?.() === 0) return run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'cvlc', ...base], 120_000);
  return run('cvlc', base, 120_000);
}

async function durationOf(file: string): Promise<number> {
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], 30_000);
  return Number(probe.out.trim()) || 0;
}

maybe('VLC plays an on-demand file, and the live point for 60 s with its own ASF demuxer (two players at once)', async (t) => {
  const srv = await startServe({ embeddedDefaults: true });
  t.teardown(() => srv.stop());
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-vlc-'));
  await chmod(dir, 0o777);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const vod = path.join(dir, 'vod.asf');
  await vlc([srv.mmsh('/vod/sample.wmv'), '--sout', `#std{access=file,mux=asf,dst=${vod}}`, '--run-time', '5']);
  const probe = await run('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_name,nb_read_packets', '-of', 'csv=p=0', vod], 30_000);
  const video = /wmv2,(\d+)/.exec(probe.out);
  t.true(Number(video?.[1] ?? 0) > 50, `vod: ${probe.out}`);
  // VLC's default configuration (no --demux): its native ASF demuxer reads the live stream across the loop point
  const lives = [path.join(dir, 'live-1.asf'), path.join(dir, 'live-2.asf')];
  await Promise.all(lives.map((out) => vlc([srv.mmsh('/live'), '--sout', `#std{access=file,mux=asf,dst=${out}}`, '--run-time', '60'])));
  for (const out of lives) {
    const seconds = await durationOf(out);
    t.true(seconds >= 50, `${path.basename(out)}: ${seconds} s of 60`);
  }
});
