/** The benchmarks' live source: a 60 s ~500 kbps WMV2 + WMA2 file made once with ffmpeg into .bench/. */
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
  const file = path.join(benchDir, 'live-500k.wmv');
  if (!existsSync(file)) {
    const tmp = file + '.tmp.wmv';
    const r = await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=480x270:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=440:beep_factor=4:sample_rate=44100',
      '-t', '60', '-c:v', 'wmv2', '-b:v', '430k', '-maxrate', '430k', '-bufsize', '860k', '-g', '50',
      '-c:a', 'wmav2', '-b:a', '64k', '-ac', '2', '-f', 'asf', tmp,
    ]);
    if (r.code !== 0) throw new Error(`ffmpeg could not make the bench file: ${r.stderr}`);
    execFileSync('mv', ['-f', tmp, file]);
  }
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
