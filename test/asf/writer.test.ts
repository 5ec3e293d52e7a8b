import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAsfFile } from '../../src/asf/file.js';
import { makeBroadcastHeader, parseHeaderObject } from '../../src/asf/header.js';
import { readSendTime, restampPacket } from '../../src/asf/packet.js';
import { AsfStreamParser } from '../../src/asf/stream-parser.js';
import { AsfFileWriter, buildAsfFile } from '../../src/asf/writer.js';
import { MssError } from '../../src/core/errors.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';

const run = promisify(execFile);
let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mss-asf-writer-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Probe {
  format: { duration: string; start_time: string };
  streams: { codec_type: string; codec_name: string; bit_rate?: string; width?: number; sample_rate?: string }[];
}
async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', '-show_streams', '-show_format', file], { timeout: 60_000 });
  return JSON.parse(stdout) as Probe;
}
const streamSummary = (p: Probe) => p.streams.map((s) => [s.codec_type, s.codec_name, s.bit_rate, s.width, s.sample_rate]);

/** Presentation time (s, absolute with -copyts) of the first decoded video frame after `-ss`. */
async function firstVideoFrameAfterSeek(file: string, seconds: number): Promise<number> {
  const { stderr } = await run(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-copyts', '-ss', String(seconds), '-i', file, '-map', '0:v:0', '-frames:v', '1', '-vf', 'showinfo', '-f', 'null', '-'],
    { timeout: 60_000 },
  );
  const m = /pts_time:([0-9.]+)/.exec(stderr);
  if (!m) throw new Error(`no frame after seeking: ${stderr.slice(-500)}`);
  return Number(m[1]);
}

async function fixturePackets(name: string) {
  const file = parseAsfFile(await readFile(await fixture(name)));
  return { file, packets: Array.from({ length: file.packetCount }, (_, i) => file.packet(i)) };
}

test('buildAsfFile rebuilds a file ffprobe reads exactly like the original', async (t) => {
  const original = await fixture(FIXTURES.av20);
  const { file, packets } = await fixturePackets(FIXTURES.av20);
  const out = path.join(dir, 'rebuilt.wmv');
  await writeFile(out, buildAsfFile(file.headerBytes, packets));
  const [a, b] = await Promise.all([ffprobe(original), ffprobe(out)]);
  t.deepEqual(streamSummary(b), streamSummary(a));
  t.true(Math.abs(Number(b.format.duration) - Number(a.format.duration)) < 0.1);
  const l = parseAsfFile(await readFile(out));
  t.is(l.packetCount, packets.length);
  t.false(l.header.fileProperties.broadcast);
  t.true(l.header.fileProperties.seekable);
  t.is(l.header.durationMs, file.header.durationMs);
  t.is(l.simpleIndexes.length, 1);
  // our index points at the same key-frame packets as ffmpeg's
  t.deepEqual(
    l.simpleIndexes[0]!.entries.map((e) => e.packetNumber),
    file.simpleIndexes[0]!.entries.slice(0, l.simpleIndexes[0]!.entries.length).map((e) => e.packetNumber),
  );
});

test('a re-stamped packet sequence written by AsfFileWriter plays and seeks in ffmpeg', async (t) => {
  const original = await fixture(FIXTURES.av20);
  const { file, packets } = await fixturePackets(FIXTURES.av20);
  const out = path.join(dir, 'shifted.asf');
  // a live header (as a broadcast point would have) and times shifted by 60 s
  const w = await AsfFileWriter.create(out, makeBroadcastHeader(file.header.raw));
  for (const p of packets) await w.write(restampPacket(p, 3200, 60_000));
  t.deepEqual(await readdir(dir).then((f) => f.includes('shifted.asf')), false, 'not visible before finish');
  const done = await w.finish();
  t.is(done.packets, packets.length);
  t.is(done.durationMs, file.header.durationMs);

  const [a, b] = await Promise.all([ffprobe(original), ffprobe(out)]);
  t.deepEqual(streamSummary(b), streamSummary(a));
  t.true(Math.abs(Number(b.format.duration) - Number(a.format.duration)) < 0.1, `duration ${b.format.duration} vs ${a.format.duration}`);
  const start = Number(b.format.start_time);
  t.true(Math.abs(start) < 0.2, `start ${start}: times are rebased to the start of the file`);
  const pts = await firstVideoFrameAfterSeek(out, 10);
  t.true(pts - start >= 9 && pts - start <= 11, `first frame after -ss 10 at ${pts - start} s`);
  const h = parseHeaderObject(await readFile(out));
  t.false(h.fileProperties.broadcast);
  t.true(h.fileProperties.seekable);
});

test('two copies of a live stream looped into one timeline make a file twice as long', async (t) => {
  const parser = new AsfStreamParser();
  const events = parser.push(await readFile(await fixture(FIXTURES.stream20)));
  const header = events.find((e) => e.type === 'header')!;
  const packets = events.flatMap((e) => (e.type === 'packet' ? [e.packet] : []));
  const loopDelta = readSendTime(packets[packets.length - 1]!) + 100;
  const out = path.join(dir, 'looped.wmv');
  const w = await AsfFileWriter.create(out, header.type === 'header' ? header.headerBytes : Buffer.alloc(0));
  for (const p of packets) await w.write(p);
  for (const p of packets) await w.write(restampPacket(p, 3200, loopDelta));
  const done = await w.finish();
  t.is(done.packets, packets.length * 2);
  const probe = await ffprobe(out);
  t.deepEqual(probe.streams.map((s) => s.codec_name), ['wmv2', 'wmav2']);
  t.true(Math.abs(Number(probe.format.duration) - (done.durationMs / 1000)) < 0.1);
  t.true(done.durationMs > 39_000 && done.durationMs < 41_500, `duration ${done.durationMs}`);
  const pts = await firstVideoFrameAfterSeek(out, 25);
  t.true(pts >= 24 && pts <= 26, `first frame after -ss 25 at ${pts}`);
});

test('a two-video-stream file gets one Simple Index per video stream', async (t) => {
  const { file, packets } = await fixturePackets(FIXTURES.mbr20);
  const built = parseAsfFile(buildAsfFile(file.header.raw, packets));
  t.is(built.simpleIndexes.length, 2);
  t.true(built.simpleIndexes.every((s) => s.entries.length >= 20 && s.intervalMs === 1000));
});

test('the writer rejects bad packets and abort leaves nothing behind', async (t) => {
  const { file, packets } = await fixturePackets(FIXTURES.audio20);
  const sub = await mkdtemp(path.join(dir, 'abort-'));
  const out = path.join(sub, 'never.wma');
  const w = await AsfFileWriter.create(out, file.header.raw);
  await w.write(packets[0]!);
  await t.throwsAsync(w.write(Buffer.alloc(100)), { instanceOf: MssError, message: /100 bytes/ });
  await t.throwsAsync(w.write(Buffer.alloc(3200, 0x55)), { instanceOf: MssError });
  await w.abort();
  t.deepEqual(await readdir(sub), []);
  await t.throwsAsync(w.write(packets[1]!), { instanceOf: MssError });
  await t.throwsAsync(AsfFileWriter.create(path.join(sub, 'x.wma'), Buffer.from('not a header at all, definitely not')), { instanceOf: MssError });
  t.deepEqual(await readdir(sub), []);
});

test('rebase: false keeps the packets byte for byte, with their original timeline', async (t) => {
  const { file, packets } = await fixturePackets(FIXTURES.av20);
  const shifted = packets.map((p) => restampPacket(p, 3200, 60_000));
  const out = path.join(dir, 'kept.wmv');
  await writeFile(out, buildAsfFile(file.header.raw, shifted, { rebase: false }));
  const l = parseAsfFile(await readFile(out));
  shifted.forEach((p, i) => t.true(l.packet(i).equals(p)));
  t.is(l.header.durationMs, file.header.durationMs);
  const probe = await ffprobe(out);
  t.true(Math.abs(Number(probe.format.start_time) - 60) < 0.2);
  const pts = await firstVideoFrameAfterSeek(out, 10);
  t.true(pts - 60 >= 9 && pts - 60 <= 11, `first frame after -ss 10 at ${pts - 60} s`);
  // the default rebases to 0: the packets come back as the original ones
  const rebased = parseAsfFile(buildAsfFile(file.header.raw, shifted));
  packets.forEach((p, i) => t.true(rebased.packet(i).equals(p)));
});
