import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { run, type ProbeReport } from '../../src/cli/probe.js';
import { ALL_FIXTURES, FIXTURES, fixture } from '../helpers/fixtures.js';

const exec = promisify(execFile);

/** Runs `mss probe` in-process, capturing stdout and stderr. */
async function probe(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += chunk.toString()), true)) as typeof process.stderr.write;
  try {
    const code = await run(args);
    return { code, out, err };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
}

interface FfprobeOut {
  format: { duration: string };
  streams: { codec_type: string; codec_name: string; bit_rate?: string; width?: number; height?: number; sample_rate?: string; channels?: number }[];
}

test.serial('mss probe --json agrees with ffprobe on every fixture', async (t) => {
  for (const name of ALL_FIXTURES) {
    const file = await fixture(name);
    // ffprobe cannot read the $H/$D framed asf_stream file; it carries the same media as av20
    const reference = name === FIXTURES.stream20 ? await fixture(FIXTURES.av20) : file;
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-of', 'json', '-show_streams', '-show_format', reference], { timeout: 60_000 });
    const ff = JSON.parse(stdout) as FfprobeOut;
    const res = await probe([file, '--json']);
    t.is(res.code, 0, `${name}: ${res.err}`);
    const r = JSON.parse(res.out) as ProbeReport;
    t.is(r.streams.length, ff.streams.length, name);
    r.streams.forEach((s, i) => {
      const f = ff.streams[i]!;
      t.is(s.type, f.codec_type, name);
      t.is(s.codecName, f.codec_name, name);
      t.is(s.bitrate, f.bit_rate ? Number(f.bit_rate) : 0, `${name} stream ${s.number} bitrate`);
      // where the header has no bitrate, a measured one is given instead
      if (!f.bit_rate) t.true((s.measuredBitrate ?? 0) > 10_000, `${name} stream ${s.number} measured bitrate`);
      if (f.codec_type === 'video') t.deepEqual([s.width, s.height], [f.width, f.height], name);
      else t.deepEqual([s.sampleRate, s.channels], [Number(f.sample_rate), f.channels], name);
    });
    if (name === FIXTURES.stream20) {
      t.true(r.broadcast);
      t.is(r.format, 'asf_stream');
      t.is(r.packetCount, 227);
      t.true(Math.abs(r.measuredDurationMs! / 1000 - Number(ff.format.duration)) < 0.5, `measured ${r.measuredDurationMs}`);
    } else {
      t.true(Math.abs(r.durationMs / 1000 - Number(ff.format.duration)) < 0.1, `${name}: ${r.durationMs} ms vs ffprobe ${ff.format.duration} s`);
      t.false(r.broadcast);
      t.true(r.seekable);
    }
    t.is(r.packetSize, 3200);
    t.is(r.prerollMs, 3100);
    t.is(r.indexPresent, name !== FIXTURES.audio20 && name !== FIXTURES.stream20, name);
  }
});

test.serial('the human table lists streams, duration, packets and flags', async (t) => {
  const res = await probe([await fixture(FIXTURES.mbr20)]);
  t.is(res.code, 0);
  t.regex(res.out, /duration:\s+20\.046 s\s+preroll: 3100 ms/);
  t.regex(res.out, /packets:\s+305 x 3200 bytes/);
  t.regex(res.out, /broadcast: no\s+seekable: yes\s+index: yes/);
  t.regex(res.out, /1\s+video\s+WMV2\s+~\d+ kbps\s+320x240/);
  t.regex(res.out, /2\s+video\s+WMV2\s+~\d+ kbps\s+160x120/);
  t.regex(res.out, /3\s+audio\s+wmav2\s+48 kbps\s+44100 Hz, 2 ch/);
});

test.serial('errors: missing argument is exit 2, bad files exit 1 with the MssError message', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-probe-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const none = await probe([]);
  t.is(none.code, 2);
  t.regex(none.err, /usage: mss probe/);
  t.is((await probe(['--bogus', 'x'])).code, 2);
  const missing = await probe([path.join(dir, 'nope.wmv')]);
  t.is(missing.code, 1);
  t.regex(missing.err, /cannot read/);
  const junk = path.join(dir, 'junk.wmv');
  await writeFile(junk, Buffer.alloc(5000, 7));
  const bad = await probe([junk]);
  t.is(bad.code, 1);
  t.regex(bad.err, /Header Object at byte 0/);
  const url = await probe(['mmsh://127.0.0.1/x']);
  t.is(url.code, 1);
  t.regex(url.err, /mmsh:\/\/ URLs/);
});

test('mss probe runs through the CLI entry point', async (t) => {
  const { stdout } = await exec('npx', ['tsx', 'src/cli/main.ts', 'probe', await fixture(FIXTURES.audio20), '--json'], { timeout: 120_000 });
  const r = JSON.parse(stdout) as ProbeReport;
  t.deepEqual(r.streams.map((s) => s.codec), ['wmav2']);
  t.false(r.indexPresent);
});
