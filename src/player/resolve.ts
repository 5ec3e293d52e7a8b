/**
 * Turns what the user gave `mss play` into what to play: a stream URL as is, or the entries of an `.asx`
 * (each with its fallback URLs in order, nested EntryRefs followed, LOGURLs collected) or the unicast fallback of
 * an `.nsc` station (multicast reception is not built yet). Announcement files are fetched over HTTP, bounded.
 */
import http from 'node:http';
import { MssError } from '../core/errors.js';
import { parseAsx } from '../media/asx.js';
import { parseNsc } from '../protocols/msb/nsc.js';

export interface PlayEntry {
  /** URLs to try in order: the first that plays wins */
  urls: URL[];
  title?: string;
  /** LOGURLs of the entry and of its .asx (web-server logging, MS-WMLOG 2.3) */
  logUrls: string[];
  /** the .nsc this entry came from (c-channelURL) */
  channelUrl?: string;
}

export interface ResolveOptions {
  timeoutMs?: number;
  /** called with notes worth telling the user (e.g. multicast not supported, using the unicast URL) */
  notice?: (message: string) => void;
}

const MAX_ANNOUNCEMENT_BYTES = 512 * 1024;
const MAX_DEPTH = 4;
const MAX_ENTRIES = 1000;

/** GET a small text document over HTTP (redirects followed, size and time bounded). */
export function fetchText(url: URL, timeoutMs = 15_000, maxBytes = MAX_ANNOUNCEMENT_BYTES, redirects = 5): Promise<{ text: string; contentType: string; url: URL }> {
  if (url.protocol !== 'http:') return Promise.reject(new MssError('unsupported', `cannot fetch ${url.protocol}// announcement files (http:// only)`));
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers: { 'User-Agent': 'mss-play/0.1', Accept: '*/*' } }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && redirects > 0) {
        res.resume();
        fetchText(new URL(res.headers.location, url), timeoutMs, maxBytes, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new MssError(status === 404 ? 'not-found' : 'unavailable', `GET ${url.href}: HTTP ${status}`, { status }));
        return;
      }
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy();
          reject(new MssError('too-large', `GET ${url.href}: more than ${maxBytes} bytes`));
          return;
        }
        parts.push(c);
      });
      res.on('end', () => resolve({ text: Buffer.concat(parts).toString('utf8'), contentType: String(res.headers['content-type'] ?? ''), url }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new MssError('timeout', `GET ${url.href}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof MssError ? err : new MssError('unavailable', `GET ${url.href}: ${err.message}`)));
  });
}

function kindOf(url: URL): 'asx' | 'nsc' | 'stream' {
  const p = url.pathname.toLowerCase();
  if (/\.(asx|wax|wvx)$/.test(p)) return 'asx';
  if (p.endsWith('.nsc')) return 'nsc';
  return 'stream';
}

export async function resolvePlayInput(input: string, opts: ResolveOptions = {}): Promise<PlayEntry[]> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new MssError('invalid-argument', `not a URL: ${JSON.stringify(input.slice(0, 200))} (expected mmsh://, mms://, http://, or an .asx/.nsc URL)`);
  }
  return resolveUrl(url, opts, 0);
}

async function resolveUrl(url: URL, opts: ResolveOptions, depth: number): Promise<PlayEntry[]> {
  const kind = kindOf(url);
  if (kind === 'stream') return [{ urls: [url], logUrls: [] }];
  if (depth >= MAX_DEPTH) throw new MssError('too-large', `${url.href}: announcement files nested more than ${MAX_DEPTH} deep`);
  const doc = await fetchText(url, opts.timeoutMs);
  if (kind === 'nsc') {
    const station = parseNsc(doc.text);
    const group = station.ipAddress ? `${station.ipAddress}:${station.ipPort ?? '?'}` : 'an unknown group';
    if (!station.unicastUrl) {
      throw new MssError('unsupported', `${url.href}: multicast (MSB) reception from ${group} is not supported yet, and the .nsc has no Unicast URL to fall back to`);
    }
    opts.notice?.(`${url.href}: multicast (MSB) reception from ${group} is not supported yet; playing its Unicast URL ${station.unicastUrl}`);
    const unicast = new URL(station.unicastUrl, url);
    const inner = await resolveUrl(unicast, opts, depth + 1);
    return inner.map((e) => ({ ...e, channelUrl: url.href, logUrls: [...e.logUrls, ...(station.logUrl ? [station.logUrl] : [])] }));
  }
  const asx = parseAsx(doc.text);
  const entries: PlayEntry[] = [];
  for (const e of asx.entries) {
    if (entries.length >= MAX_ENTRIES) break;
    const logUrls = [...e.logUrls, ...asx.logUrls].map((u) => new URL(u, url).href);
    if (e.entryRef) {
      const nested = await resolveUrl(new URL(e.entryRef, url), opts, depth + 1);
      entries.push(...nested.map((n) => ({ ...n, logUrls: [...n.logUrls, ...logUrls] })));
      continue;
    }
    const urls: URL[] = [];
    for (const ref of e.refs) {
      try {
        urls.push(new URL(ref, url));
      } catch {
        opts.notice?.(`${url.href}: skipping the reference ${JSON.stringify(ref.slice(0, 100))}, not a URL`);
      }
    }
    if (urls.length > 0) entries.push({ urls, title: e.title, logUrls });
  }
  if (entries.length === 0) throw new MssError('malformed', `${url.href}: the .asx has no playable entry`);
  return entries;
}
