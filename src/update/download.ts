/**
 * A resumable, size-limited download to the data partition: bytes go to `<file>` as they arrive, so a restart (or
 * a dropped connection) continues with a Range request from what is on disk. The expected size is a hard limit: a
 * server that sends more is cut off, one that ends early leaves a partial file for the next attempt.
 */
import { open, stat, truncate } from 'node:fs/promises';
import { MssError } from '../core/errors.js';

export interface DownloadOptions {
  url: string;
  file: string;
  /** the exact size the bundle must have */
  size: number;
  signal: AbortSignal;
  /** called with the bytes on disk, at most every `progressBytes` */
  onProgress?: (bytes: number) => void;
  progressBytes?: number;
  /** no byte for this long ends the attempt */
  idleTimeoutMs?: number;
}

async function onDisk(file: string): Promise<number> {
  return stat(file).then((s) => s.size, () => 0);
}

/** Downloads the rest of the file; resolves when it has exactly `size` bytes (fsynced). */
export async function downloadResumable(o: DownloadOptions): Promise<{ resumedFrom: number; bytes: number }> {
  let have = await onDisk(o.file);
  if (have > o.size) {
    await truncate(o.file, 0);
    have = 0;
  }
  const resumedFrom = have;
  if (have === o.size) return { resumedFrom, bytes: have };
  const idle = new AbortController();
  let idleTimer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => idle.abort(new MssError('timeout', `download stalled: no data for ${o.idleTimeoutMs ?? 60_000} ms`)), o.idleTimeoutMs ?? 60_000);
  };
  const signal = AbortSignal.any([o.signal, idle.signal]);
  const host = new URL(o.url).host;
  touch();
  let res: Response;
  try {
    res = await fetch(o.url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, signal, redirect: 'follow' });
  } catch (err) {
    clearTimeout(idleTimer);
    if (o.signal.aborted) throw o.signal.reason;
    const cause = (err as Error & { cause?: Error }).cause?.message;
    throw new MssError('unavailable', `download from ${host} failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  const fh = await open(o.file, have > 0 && res.status === 206 ? 'a' : 'w');
  let written = have;
  try {
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== have) throw new MssError('malformed', `download from ${host}: range answer ${res.headers.get('content-range')} does not continue at byte ${have}`);
      if (range[3] !== '*' && Number(range[3]) !== o.size) throw new MssError('invalid-argument', `download from ${host}: the file has ${range[3]} bytes, the job says ${o.size}`, { final: true });
    } else if (res.status === 200) {
      written = 0; // the server ignored the range (or this is the first request): start over
      const len = res.headers.get('content-length');
      if (len !== null && Number(len) > o.size) throw new MssError('invalid-argument', `download from ${host}: ${len} bytes offered, the job allows ${o.size}`, { final: true });
    } else if (res.status === 416 && have > 0) {
      throw new MssError('malformed', `download from ${host}: the server has no bytes after ${have}`);
    } else {
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
      throw new MssError(permanent ? 'invalid-argument' : 'unavailable', `download from ${host} answered HTTP ${res.status}`, { final: permanent });
    }
    let lastReport = written;
    const step = o.progressBytes ?? Math.max(64 * 1024, Math.floor(o.size / 50));
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        touch();
        if (written + chunk.byteLength > o.size) throw new MssError('too-large', `download from ${host} sent more than the ${o.size} bytes the job allows`, { final: true });
        await fh.write(chunk);
        written += chunk.byteLength;
        if (written - lastReport >= step) {
          lastReport = written;
          o.onProgress?.(written);
        }
      }
    }
    await fh.sync();
  } catch (err) {
    if (o.signal.aborted) throw o.signal.reason;
    if (idle.signal.aborted) throw idle.signal.reason;
    if (err instanceof MssError) throw err;
    throw new MssError('unavailable', `download from ${host} broke off at byte ${written}: ${(err as Error).message}`);
  } finally {
    clearTimeout(idleTimer);
    await fh.close();
    res.body?.cancel().catch(() => undefined);
  }
  o.onProgress?.(written);
  if (written < o.size) throw new MssError('truncated', `download from ${host} ended at ${written} of ${o.size} bytes (truncated); it resumes at the next attempt`);
  return { resumedFrom, bytes: written };
}
