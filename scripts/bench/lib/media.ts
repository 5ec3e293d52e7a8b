/**
 * The benchmarks' live source: a 180 s ~500 kbps WMV2 + WMA2 file made once with ffmpeg into .bench/. Long enough
 * that a server which cannot loop it seamlessly (VLC 3 starves its players when --loop wraps) can still be measured
 * warm, after a long settle.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseHeaderObject } from '../../../src/asf/header.js';
import { benchDir, run } from './proc.js';

export interface Media {
  file: string;
  streams: number[];
  bitrate: number;
  packetSize: number;
  packetsPerSecond: number;
  durationMs: number;
}

export async function prepareMedia(): Promise<Media> {
  mkdirSync(benchDir, { recursive: true });
  const file = path.join(benchDir, 'live-500k-180s.wmv');
  await encodeTestSource(file, { seconds: 180, videoKbps: 430, audioKbps: 64 });
  return describeAsf(file);
}

/** A test pattern with a beeping tone as WMV2 + WMA2 (stereo 44.1 kHz), made once: an existing file is kept. */
export async function encodeTestSource(file: string, o: { seconds: number; videoKbps: number; audioKbps: number }): Promise<void> {
  if (existsSync(file)) return;
  const tmp = file + '.tmp.wmv';
  const v = `${o.videoKbps}k`;
  const r = await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=480x270:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:beep_factor=4:sample_rate=44100',
    '-t', String(o.seconds), '-c:v', 'wmv2', '-b:v', v, '-maxrate', v, '-bufsize', `${o.videoKbps * 2}k`, '-g', '50',
    '-c:a', 'wmav2', '-b:a', `${o.audioKbps}k`, '-ac', '2', '-f', 'asf', tmp,
  ], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`ffmpeg could not make ${path.basename(file)}: ${r.stderr}`);
  execFileSync('mv', ['-f', tmp, file]);
}

/** streams, rates and duration of an ASF file, from its Header Object */
export function describeAsf(file: string): Media {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(256 * 1024);
  const n = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const h = parseHeaderObject(head.subarray(0, n));
  const fp = h.fileProperties;
  return {
    file,
    streams: h.streams.map((s) => s.number),
    bitrate: h.totalBitrate,
    packetSize: fp.packetSize,
    durationMs: h.durationMs,
    packetsPerSecond: Number(fp.dataPacketsCount) / (h.durationMs / 1000),
  };
}
