/**
 * The on-demand benchmark's library: N different ASF files cut (stream copy, no re-encode) at different offsets
 * from two long test sources encoded once, so that every file has its own bytes and the server's page cache and
 * read-ahead see N files, not one. Every fifth file comes from the lower-rate source, so the sessions do not all
 * ask for one rate. Everything is cached under .bench/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describeAsf, encodeTestSource, type Media } from './media.js';
import { benchDir, run } from './proc.js';

/** the sources the files are cut from: long enough for N different 120 s windows */
const SOURCE_SECONDS = 240;
const SOURCES = [
  { name: 'ondemand-source-500k.wmv', videoKbps: 430, audioKbps: 64 },
  { name: 'ondemand-source-250k.wmv', videoKbps: 200, audioKbps: 48 },
] as const;

export interface LibraryFile extends Media {
  /** the file's name inside the point's directory (what players ask for after /<point>/) */
  name: string;
  /** bytes of data packets per second of media: what a paced player must receive to keep up */
  bytesPerSecond: number;
}

export interface Library {
  dir: string;
  files: LibraryFile[];
}

/** `count` files of `seconds` each in .bench/ondemand/<count>x<seconds>s/, made when missing */
export async function prepareLibrary(count: number, seconds: number): Promise<Library> {
  if (seconds > SOURCE_SECONDS) throw new Error(`files can be at most ${SOURCE_SECONDS} s long`);
  const sources: string[] = [];
  for (const s of SOURCES) {
    const file = path.join(benchDir, s.name);
    if (!existsSync(file)) process.stderr.write(`encoding ${path.basename(file)} (${SOURCE_SECONDS} s, once)...\n`);
    await encodeTestSource(file, { seconds: SOURCE_SECONDS, videoKbps: s.videoKbps, audioKbps: s.audioKbps });
    sources.push(file);
  }
  const dir = path.join(benchDir, 'ondemand', `${count}x${seconds}s`);
  mkdirSync(dir, { recursive: true });
  const files: LibraryFile[] = [];
  for (let i = 0; i < count; i++) {
    const src = i % 5 === 4 ? 1 : 0;
    // distinct offsets spread over the source: distinct bytes per file (for up to SOURCE_SECONDS - seconds files)
    const offset = Math.round((i * (SOURCE_SECONDS - seconds)) / count);
    const name = `f${String(i).padStart(3, '0')}-${SOURCES[src]!.videoKbps + SOURCES[src]!.audioKbps}k-at${offset}s.wmv`;
    const file = path.join(dir, name);
    if (!existsSync(file)) await cut(sources[src]!, file, offset, seconds);
    const m = describeAsf(file);
    files.push({ ...m, name, bytesPerSecond: m.packetSize * m.packetsPerSecond });
  }
  return { dir, files };
}

async function cut(source: string, file: string, offsetS: number, seconds: number): Promise<void> {
  const tmp = file + '.tmp';
  const r = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-ss', String(offsetS), '-i', source, '-t', String(seconds), '-c', 'copy', '-f', 'asf', tmp]);
  if (r.code !== 0) throw new Error(`ffmpeg could not cut ${path.basename(file)}: ${r.stderr}`);
  execFileSync('mv', ['-f', tmp, file]);
}
