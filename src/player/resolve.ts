/**
 * Turns what the user gave `mss play` into what to play: a stream URL as is, or the entries of an `.asx`
 * (each with its fallback URLs in order, nested EntryRefs followed, LOGURLs collected), or an `.nsc` station:
 * its multicast group first, then its Unicast URL. An `.nsc` referenced by an `.asx` is read the same way, in
 * its place among the entry's references. Announcement files are fetched over HTTP or read from a local file,
 * bounded.
 */
import http from 'node:http';
import { open } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { MssError, toMssError } from '../core/errors.js';
import { parseAsx } from '../media/asx.js';
import { parseNsc, type NscStation } from '../protocols/msb/nsc.js';
import { multicastUnusable } from './msb-client.js';

export interface PlayEntry {
  /** URLs to try in order: the first that plays wins (an .nsc URL in `stations` means its multicast group) */
  urls: URL[];
  /** the stations of the .nsc URLs in `urls`, by href */
  stations?: Map<string, NscStation>;
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

const MAX_LOCAL_BYTES = MAX_ANNOUNCEMENT_BYTES;

/** an announcement file: over HTTP, or a local file (file: URL) */
export async function readAnnouncement(url: URL, timeoutMs?: number): Promise<string> {
  if (url.protocol !== 'file:') return (await fetchText(url, timeoutMs)).text;
  let handle;
  try {
    handle = await open(url, 'r');
  } catch (err) {
    throw new MssError('not-found', `cannot read ${url.pathname}: ${(err as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(MAX_LOCAL_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_LOCAL_BYTES) throw new MssError('too-large', `${url.pathname}: more than ${MAX_LOCAL_BYTES} bytes`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
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
    // a local announcement file
    if (!/\.(nsc|asx|wax|wvx)$/i.test(input)) {
      throw new MssError('invalid-argument', `not a URL: ${JSON.stringify(input.slice(0, 200))} (expected mmsh://, mms://, http://, or an .asx/.nsc URL or file)`);
    }
    url = pathToFileURL(input);
  }
  return resolveUrl(url, opts, 0);
}

/** An .nsc: its group (when usable) then its Unicast URL, as the URLs of one entry. */
async function resolveStation(url: URL, opts: ResolveOptions, depth: number): Promise<PlayEntry> {
  const station = parseNsc(await readAnnouncement(url, opts.timeoutMs));
  const urls: URL[] = [];
  const stations = new Map<string, NscStation>();
  const unusable = multicastUnusable(station);
  if (unusable) opts.notice?.(`${url.href}: cannot receive its multicast (${unusable})${station.unicastUrl ? `; playing its Unicast URL ${station.unicastUrl}` : ''}`);
  else {
    urls.push(url);
    stations.set(url.href, station);
  }
  if (station.unicastUrl) {
    try {
      const inner = await resolveUrl(new URL(station.unicastUrl, url), opts, depth + 1);
      for (const e of inner) urls.push(...e.urls);
    } catch (err) {
      opts.notice?.(`${url.href}: its Unicast URL ${JSON.stringify(station.unicastUrl.slice(0, 200))} cannot be used: ${toMssError(err).message}`);
    }
  }
  if (urls.length === 0) throw new MssError('unavailable', `${url.href}: no multicast to join and no Unicast URL to fall back to`);
  return { urls, stations, logUrls: station.logUrl ? [station.logUrl] : [], channelUrl: url.href };
}

async function resolveUrl(url: URL, opts: ResolveOptions, depth: number): Promise<PlayEntry[]> {
  const kind = kindOf(url);
  if (kind === 'stream') return [{ urls: [url], logUrls: [] }];
  if (depth >= MAX_DEPTH) throw new MssError('too-large', `${url.href}: announcement files nested more than ${MAX_DEPTH} deep`);
  if (kind === 'nsc') return [await resolveStation(url, opts, depth)];
  const asx = parseAsx(await readAnnouncement(url, opts.timeoutMs));
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
    const stations = new Map<string, NscStation>();
    let channelUrl: string | undefined;
    for (const ref of e.refs) {
      let refUrl: URL;
      try {
        refUrl = new URL(ref, url);
      } catch {
        opts.notice?.(`${url.href}: skipping the reference ${JSON.stringify(ref.slice(0, 100))}, not a URL`);
        continue;
      }
      if (kindOf(refUrl) !== 'nsc') {
        if (!urls.some((u) => u.href === refUrl.href)) urls.push(refUrl);
        continue;
      }
      // a station in the entry: its group (and its fallback) in its place among the references
      try {
        const st = await resolveStation(refUrl, opts, depth + 1);
        for (const u of st.urls) if (!urls.some((x) => x.href === u.href)) urls.push(u);
        for (const [k, v] of st.stations ?? []) stations.set(k, v);
        logUrls.push(...st.logUrls);
        channelUrl ??= st.channelUrl;
      } catch (err) {
        opts.notice?.(`${url.href}: skipping the station ${refUrl.href}: ${toMssError(err).message}`);
      }
    }
    if (urls.length > 0) entries.push({ urls, title: e.title, logUrls, ...(stations.size ? { stations, channelUrl } : {}) });
  }
  if (entries.length === 0) throw new MssError('malformed', `${url.href}: the .asx has no playable entry`);
  return entries;
}
