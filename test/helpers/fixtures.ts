/**
 * Generated media fixtures (made by scripts/make-fixtures.sh with ffmpeg, cached in test/fixtures/generated/).
 * `fixture(name)` returns the absolute path, running the script at most once at a time even when several
 * ava worker processes ask together (a lock file created with O_EXCL serialises them).
 */
import { execFile } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURE_DIR = path.join(root, 'test/fixtures/generated');
const SCRIPT = path.join(root, 'scripts/make-fixtures.sh');
const LOCK = path.join(FIXTURE_DIR, '.make-fixtures.lock');
const STALE_LOCK_MS = 5 * 60_000;

export const FIXTURES = {
  /** WMV2 320x240 300 kbps + WMA2 stereo 64 kbps, 20 s, key frame every 2 s, has a Simple Index */
  av20: 'av-wmv2-wmav2-20s.wmv',
  /** WMV2 160x120 100 kbps + WMA2 mono 32 kbps, 120 s, key frame every 1 s (seeking tests) */
  av120: 'av-wmv2-wmav2-120s.wmv',
  /** WMA2 stereo 64 kbps, 20 s, no video, no index */
  audio20: 'audio-wmav2-20s.wma',
  /** two WMV2 streams (320x240 300 kbps, 160x120 80 kbps) + WMA2, 20 s */
  mbr20: 'mbr-2video-wmv2-wmav2-20s.wmv',
  /** ffmpeg `-f asf_stream` output: broadcast-style header, Data Object size 50 */
  stream20: 'stream-wmv2-wmav2-20s.asf',
  /** H.264 + AAC in ASF, 20 s */
  h264aac20: 'av-h264-aac-20s.asf',
} as const;

export type FixtureName = (typeof FIXTURES)[keyof typeof FIXTURES];
export const ALL_FIXTURES: readonly FixtureName[] = Object.values(FIXTURES);

async function exists(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    return st.size > 0;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(FIXTURE_DIR, { recursive: true });
  for (;;) {
    try {
      const handle = await fs.open(LOCK, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await fs.stat(LOCK).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await fs.rm(LOCK, { force: true });
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(LOCK, { force: true });
  }
}

/** Absolute path of a generated fixture; creates the missing ones first. */
export async function fixture(name: string): Promise<string> {
  const file = path.join(FIXTURE_DIR, name);
  if (await exists(file)) return file;
  await withLock(async () => {
    if (await exists(file)) return; // another worker made it while we waited
    await execFileAsync('bash', [SCRIPT, FIXTURE_DIR], { maxBuffer: 16 * 1024 * 1024 });
  });
  if (!(await exists(file))) throw new Error(`fixture ${name} was not produced by ${SCRIPT}`);
  return file;
}

/** Paths of every fixture, made if missing. */
export async function allFixtures(): Promise<Record<FixtureName, string>> {
  const entries = await Promise.all(ALL_FIXTURES.map(async (n) => [n, await fixture(n)] as const));
  return Object.fromEntries(entries) as Record<FixtureName, string>;
}
