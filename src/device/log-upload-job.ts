/**
 * Job type `log-upload`: the logs of a time range, as gzip-compressed JSON lines, sent to a URL with HTTP
 * PUT or POST. The compressed file is built once and kept (checkpointed) until the upload succeeds, so a
 * restart or a failed attempt resumes with the upload instead of collecting again.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MssError } from '../core/errors.js';
import type { JobContext, JobType } from './jobs.js';
import type { LogQuerySource } from './log-store.js';

const PAGE = 1000;
const MAX_ENTRIES = 2_000_000;
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

interface Params {
  url: string;
  method: 'PUT' | 'POST';
  from: number;
  to?: number;
  headers: Record<string, string>;
  /** which log sources go into the file (default: all the device has) */
  sources?: string[];
}

function parseTime(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new MssError('invalid-argument', `${key} must be epoch milliseconds or an ISO 8601 time`);
  return ms;
}

export function validateLogUpload(doc: Record<string, unknown>): Params {
  if (typeof doc.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(doc.url) || doc.url.length > 2048) throw new MssError('invalid-argument', 'url must be an http:// or https:// URL');
  const method = doc.method === undefined ? 'PUT' : doc.method;
  if (method !== 'PUT' && method !== 'POST') throw new MssError('invalid-argument', 'method must be "PUT" or "POST"');
  const from = parseTime(doc.from, 'from');
  if (from === undefined) throw new MssError('invalid-argument', 'from is required (start of the time range)');
  const to = parseTime(doc.to, 'to');
  if (to !== undefined && to < from) throw new MssError('invalid-argument', 'to must not be before from');
  const headers: Record<string, string> = {};
  if (doc.headers !== undefined) {
    if (typeof doc.headers !== 'object' || doc.headers === null || Array.isArray(doc.headers)) throw new MssError('invalid-argument', 'headers must be an object of strings');
    const entries = Object.entries(doc.headers as Record<string, unknown>);
    if (entries.length > 32) throw new MssError('invalid-argument', 'headers: at most 32');
    for (const [k, v] of entries) {
      if (!/^[A-Za-z0-9-]{1,64}$/.test(k) || typeof v !== 'string' || v.length > 4096 || /[\r\n]/.test(v)) throw new MssError('invalid-argument', `headers.${k} must be a token name with a one-line string value`);
      headers[k] = v;
    }
  }
  if (doc.maxAttempts !== undefined && (typeof doc.maxAttempts !== 'number' || !Number.isInteger(doc.maxAttempts) || doc.maxAttempts < 1 || doc.maxAttempts > 100)) {
    throw new MssError('invalid-argument', 'maxAttempts must be a whole number from 1 to 100');
  }
  if (doc.notBefore !== undefined) parseTime(doc.notBefore, 'notBefore');
  let sources: string[] | undefined;
  if (doc.sources !== undefined) {
    if (!Array.isArray(doc.sources) || doc.sources.length === 0 || doc.sources.length > 8 || !doc.sources.every((x) => typeof x === 'string' && /^[a-z0-9-]{1,32}$/.test(x))) {
      throw new MssError('invalid-argument', 'sources must be a list of log source names (mss, player, server)');
    }
    sources = doc.sources as string[];
  }
  return { url: doc.url, method, from, to, headers, sources };
}

export function logUploadJob(opts: { dir: string; logs: () => Record<string, LogQuerySource>; deviceId: () => string }): JobType {
  const artifactPath = (id: string) => join(opts.dir, `${id}.ndjson.gz`);

  async function collect(ctx: JobContext, p: Params): Promise<{ artifact: string; bytes: number; sha256: string; entries: number }> {
    await mkdir(opts.dir, { recursive: true });
    const artifact = artifactPath(ctx.id);
    const tmp = `${artifact}.tmp`;
    const to = p.to ?? Date.now();
    const all = opts.logs();
    const names = p.sources ?? Object.keys(all);
    const unknown = names.filter((n) => !all[n]);
    if (unknown.length > 0) throw new MssError('invalid-argument', `unknown log source(s) ${unknown.join(', ')}; this device has ${Object.keys(all).join(', ')}`);
    let entries = 0;
    async function* lines(): AsyncGenerator<string> {
      for (const name of names) {
        let afterId = 0;
        for (;;) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          const rows = await all[name].queryLogs({ from: p.from, to, limit: PAGE, afterId });
          for (const r of rows) yield JSON.stringify({ ts: new Date(r.ts).toISOString(), level: r.level, source: r.source, ...r.line }) + '\n';
          entries += rows.length;
          if (rows.length < PAGE || entries >= MAX_ENTRIES) break;
          afterId = rows[rows.length - 1].id;
        }
        if (entries >= MAX_ENTRIES) return;
      }
    }
    await pipeline(Readable.from(lines()), createGzip(), createWriteStream(tmp, { mode: 0o600 }));
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, artifact);
    const hash = createHash('sha256');
    await pipeline(createReadStream(artifact), hash);
    const bytes = (await stat(artifact)).size;
    return { artifact, bytes, sha256: hash.digest('hex'), entries };
  }

  return {
    name: 'log-upload',
    workingStates: ['collecting', 'uploading'],
    validate: (doc) => validateLogUpload(doc) as unknown as Record<string, unknown>,
    async run(ctx) {
      const p = validateLogUpload(ctx.params);
      let cp = ctx.checkpoint as { artifact?: string; bytes?: number; sha256?: string; entries?: number };
      const haveArtifact = cp.artifact ? await stat(cp.artifact).then((s) => s.size === cp.bytes, () => false) : false;
      if (!haveArtifact) {
        ctx.setStatus('collecting', 0.1);
        cp = await collect(ctx, p);
        ctx.saveCheckpoint(cp);
        ctx.log.info('log-upload-collected', { entries: cp.entries, bytes: cp.bytes });
      }
      ctx.setStatus('uploading', 0.5);
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(UPLOAD_TIMEOUT_MS)]);
      let res: Response;
      try {
        res = await fetch(p.url, {
          method: p.method,
          headers: {
            ...p.headers,
            'content-type': 'application/gzip',
            'content-length': String(cp.bytes),
            'x-mss-device': opts.deviceId(),
            'x-mss-job': ctx.id,
            'x-mss-sha256': cp.sha256!,
            'x-mss-entries': String(cp.entries),
          },
          body: Readable.toWeb(createReadStream(cp.artifact!)) as ReadableStream,
          duplex: 'half',
          signal,
        } as RequestInit);
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        throw new MssError('unavailable', `upload to ${new URL(p.url).host} failed: ${(err as Error).message}`);
      }
      if (res.status >= 200 && res.status < 300) return;
      // 4xx other than timeouts and rate limits will not get better by retrying
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
      throw new MssError(permanent ? 'invalid-argument' : 'unavailable', `upload answered HTTP ${res.status}`);
    },
    async cleanup(id) {
      await rm(artifactPath(id), { force: true });
      await rm(`${artifactPath(id)}.tmp`, { force: true });
    },
  };
}
