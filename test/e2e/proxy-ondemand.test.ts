/**
 * The on-demand cache end to end, with an origin and a proxy as `mss serve` processes: a file played once through
 * the proxy is stored (byte for byte the origin's packets) and played again from disk (with seeks) even when the
 * origin is stopped; an entry corrupted or truncated on disk is detected and fetched again; a file changed at the
 * origin is fetched again; the cache never takes more than its size bound (least recently used entries go); an
 * interrupted fill survives a proxy restart as a partial entry and is resumed, never served as complete.
 */
import test from '../helpers/test.js';
import { copyFile, mkdtemp, open, readdir, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAsfFile } from '../../src/asf/index.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { cacheListing, fetchAll, freePort, pointStatus, probe, run, waitUntil, type CacheListing } from '../proxy/helpers.js';

const MAX_BYTES = 1_600_000;

let tmp: string;
let vod: string;
let originPort: number;
let origin: RunningServe | null = null;
let proxy: RunningServe;
let av20: string;

async function startOrigin(): Promise<RunningServe> {
  return startServe({ config: { http: { port: originPort }, server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: vod }] } } });
}

function proxyConfig(dataDir: string, cache: Record<string, unknown>) {
  return {
    dataDir,
    server: { publishingPoints: [{ name: 'rp', type: 'ondemand', origin: `mmsh://127.0.0.1:${originPort}/vod` }] },
    // every play asks the origin whether its copy is still the same
    proxy: { cache: { revalidateMs: 0, ...cache } },
  };
}

/** the packets of an ASF file on disk */
async function filePackets(file: string): Promise<Buffer[]> {
  const f = parseAsfFile(await readFile(file));
  return Array.from({ length: f.packetCount }, (_, i) => Buffer.from(f.packet(i)));
}

function samePackets(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((p, i) => p.equals(b[i]!));
}

async function entry(base: string, name: string): Promise<CacheListing['entries'][number] | undefined> {
  return (await cacheListing(base)).entries.find((e) => e.url.endsWith(`/vod/${name}`));
}

function completed(base: string, name: string) {
  return waitUntil(`${name} cached`, async () => {
    const e = await entry(base, name);
    return e?.state === 'complete' && !e.filling ? e : undefined;
  });
}

async function cacheDirBytes(dataDir: string): Promise<number> {
  const dir = path.join(dataDir, 'proxy-cache');
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(path.join(dir, f))).size;
  return n;
}

test.before(async () => {
  av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-proxy-vod-'));
  vod = path.join(tmp, 'vod');
  await run('mkdir', ['-p', vod]);
  for (const n of ['a.wmv', 'b.wmv', 'c.wmv', 'd.wmv']) await copyFile(av20, path.join(vod, n));
  await copyFile(await fixture(FIXTURES.av120), path.join(vod, 'long.wmv'));
  originPort = await freePort();
  origin = await startOrigin();
  proxy = await startServe({ config: proxyConfig(path.join(tmp, 'proxy-a'), { maxBytes: MAX_BYTES, fillSpeed: 8 }) });
});

test.after.always(async () => {
  await proxy?.stop();
  await origin?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test.serial('a file played once through the proxy is stored as the origin sent it, then played from disk with seeks', async (t) => {
  const first = await probe(proxy.mmsh('/rp/a.wmv'));
  t.is(first.code, 0, first.stderr);
  t.deepEqual(first.streams.map((s) => s.codec_name).sort(), ['wmav2', 'wmv2']);
  // the fill goes on after ffprobe has left
  const e = await completed(proxy.url, 'a.wmv');
  t.is(e.packets, e.of);
  const original = await filePackets(path.join(vod, 'a.wmv'));
  t.true(samePackets(await filePackets(path.join(tmp, 'proxy-a', 'proxy-cache', e.file)), original), 'the cache file holds the origin packets');
  const again = await fetchAll(proxy.mmsh('/rp/a.wmv'));
  t.is(again.end, 'end');
  t.true(samePackets(again.packets, original), 'the player gets the origin packets');
  // a seek is served by the same on-demand code: ffmpeg's first frame is near the position asked for
  const seek = await run('ffmpeg', ['-hide_banner', '-nostdin', '-ss', '12', '-i', proxy.mmsh('/rp/a.wmv'), '-frames:v', '5', '-f', 'null', '-'], { env: { http_proxy: '' } });
  t.is(seek.code, 0, seek.stderr);
  const seekStart = await fetchAll(proxy.mmsh('/rp/a.wmv'), { startMs: 12_000 });
  t.true(seekStart.locationIds[0]! > original.length / 3, `a seek to 12 s of 20 starts at packet ${seekStart.locationIds[0]} of ${original.length}`);
  const status = await pointStatus(proxy.url, 'rp');
  t.true(status.proxy!.misses >= 1 && status.proxy!.hits >= 2, JSON.stringify(status.proxy));
  t.true(status.proxy!.bytesFromOrigin >= original.length * original[0]!.length);
  t.true(status.bytesSent > status.proxy!.bytesFromOrigin, 'more bytes to players than from the origin');
});

test.serial('a corrupted or truncated cache entry is detected and fetched again', async (t) => {
  const e = await completed(proxy.url, 'a.wmv');
  const file = path.join(tmp, 'proxy-a', 'proxy-cache', e.file);
  const original = await filePackets(path.join(vod, 'a.wmv'));

  // same size, a few bytes changed in a packet
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from('corrupt!'), 0, 8, 200_000);
  await fh.close();
  const afterCorruption = await fetchAll(proxy.mmsh('/rp/a.wmv'));
  t.true(samePackets(afterCorruption.packets, original), 'the corrupt copy was not served');
  await proxy.waitForLog((l) => l.event === 'cache.entry-invalid' && /SHA-256/.test(String((l.error as { message?: string })?.message)));
  const refetched = await completed(proxy.url, 'a.wmv');
  t.true(samePackets(await filePackets(path.join(tmp, 'proxy-a', 'proxy-cache', refetched.file)), original));

  // cut short
  await truncate(path.join(tmp, 'proxy-a', 'proxy-cache', refetched.file), 300_000);
  const afterTruncation = await fetchAll(proxy.mmsh('/rp/a.wmv'));
  t.true(samePackets(afterTruncation.packets, original), 'the truncated copy was not served');
  await proxy.waitForLog((l) => l.event === 'cache.entry-invalid' && (l.error as { code?: string })?.code === 'truncated');
  await completed(proxy.url, 'a.wmv');
  t.true((await cacheListing(proxy.url)).verifyFailures >= 2);
});

test.serial('a file changed at the origin is fetched again', async (t) => {
  await probe(proxy.mmsh('/rp/b.wmv'));
  const before = await completed(proxy.url, 'b.wmv');
  // the origin's b.wmv becomes another file (an atomic replace, as an operator's upload would do)
  await copyFile(await fixture(FIXTURES.audio20), path.join(vod, '.b.tmp'));
  await rename(path.join(vod, '.b.tmp'), path.join(vod, 'b.wmv'));
  const now = await probe(proxy.mmsh('/rp/b.wmv'));
  t.deepEqual(now.streams.map((s) => s.codec_name), ['wmav2'], 'the player gets the new file');
  const after = await completed(proxy.url, 'b.wmv');
  t.not(after.file, before.file);
  t.true(samePackets(await filePackets(path.join(tmp, 'proxy-a', 'proxy-cache', after.file)), await filePackets(path.join(vod, 'b.wmv'))));
  await proxy.waitForLog((l) => l.event === 'cache.entry-removed' && l.reason === 'changed at the origin');
});

test.serial('the cache never exceeds its size bound: the least recently used entry goes', async (t) => {
  // a.wmv (727 KB) and b.wmv (173 KB) are cached; c and d (727 KB each) do not both fit beside them
  const sizes: number[] = [];
  const watch = setInterval(() => void cacheDirBytes(path.join(tmp, 'proxy-a')).then((n) => sizes.push(n), () => undefined), 50);
  t.teardown(() => clearInterval(watch));
  for (const name of ['c.wmv', 'd.wmv']) {
    await new Promise((r) => setTimeout(r, 3500)); // older lookups are no longer pinned
    await probe(proxy.mmsh(`/rp/${name}`));
    await completed(proxy.url, name);
  }
  clearInterval(watch);
  const listing = await cacheListing(proxy.url);
  t.true(listing.bytes <= MAX_BYTES, `index says ${listing.bytes}`);
  t.true(Math.max(...sizes, await cacheDirBytes(path.join(tmp, 'proxy-a'))) <= MAX_BYTES, `largest cache directory seen: ${Math.max(...sizes)}`);
  t.true(listing.evictions >= 1);
  const names = listing.entries.map((e) => path.basename(e.url)).sort();
  t.true(names.includes('c.wmv') && names.includes('d.wmv'), names.join(' '));
  t.false(names.includes('a.wmv'), 'a.wmv, used least recently, was evicted');
});

test.serial('an interrupted fill is kept as a partial entry across a restart and resumed; with the origin stopped, cached files still play', async (t) => {
  const dataDir = path.join(tmp, 'proxy-b');
  let b = await startServe({ config: proxyConfig(dataDir, { fillSpeed: 1 }) });
  t.teardown(() => b.stop());
  await probe(b.mmsh('/rp/long.wmv'));
  await waitUntil('part of long.wmv fetched', async () => ((await entry(b.url, 'long.wmv'))?.packets ?? 0) > 30, 30_000);
  await b.stop();
  b = await startServe({ config: proxyConfig(dataDir, { fillSpeed: 20 }) });
  const partial = await entry(b.url, 'long.wmv');
  t.is(partial?.state, 'partial');
  t.true(partial!.packets > 30 && partial!.packets < partial!.of, `partial entry: ${partial?.packets} of ${partial?.of}`);
  const fetched = await fetchAll(b.mmsh('/rp/long.wmv'));
  const original = await filePackets(path.join(vod, 'long.wmv'));
  t.true(samePackets(fetched.packets, original), 'the partial entry was completed, not served as complete');
  const resumed = await b.waitForLog((l) => l.event === 'cache.fill-resumed');
  t.true(Number(resumed.fromPacket) > 30);
  const done = await completed(b.url, 'long.wmv');
  t.true(samePackets(await filePackets(path.join(dataDir, 'proxy-cache', done.file)), original));

  // the origin goes away: both proxies serve what they stored, and say clearly what they cannot
  await origin!.stop();
  origin = null;
  const fromB = await fetchAll(b.mmsh('/rp/long.wmv'));
  t.true(samePackets(fromB.packets, original));
  const fromA = await probe(proxy.mmsh('/rp/d.wmv'), { countFrames: true });
  t.is(fromA.code, 0, fromA.stderr);
  t.true((fromA.frames.video ?? 0) > 100, `frames: ${JSON.stringify(fromA.frames)}`);
  t.true((await pointStatus(proxy.url, 'rp')).proxy!.staleHits >= 1);
  const missing = await fetch(proxy.http('/rp/a.wmv'), { headers: { 'User-Agent': 'NSPlayer/9.0', Pragma: 'no-cache,rate=1.000000' } });
  t.is(missing.status, 502);
  t.regex(await missing.text(), /ECONNREFUSED/);
});
