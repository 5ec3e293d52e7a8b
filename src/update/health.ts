/**
 * The post-boot health check of a new slot: the core modules report ready, the media server answers a player on
 * loopback (a WMSP describe request, as ffmpeg's mmsh sends it, must come back with a `$H` header frame), and the
 * MQTT connection is up. Retried until it passes or the deadline.
 */
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AppModule } from '../core/module.js';

/** One WMSP describe on loopback; '' when the answer starts with a $H frame, else what went wrong. */
export function loopbackPlayer(url: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, {
      headers: {
        Accept: '*/*',
        'User-Agent': 'NSPlayer/12.00.19041.1 mss-health',
        Pragma: ['no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0', `xClientGUID={${randomUUID()}}`],
        Connection: 'Close',
      },
      timeout: timeoutMs,
    });
    const done = (why: string) => {
      req.destroy();
      resolve(why);
    };
    req.on('timeout', () => done(`no answer from ${url} within ${timeoutMs} ms`));
    req.on('error', (err) => done(`${url}: ${err.message}`));
    req.on('response', (res) => {
      if (res.statusCode !== 200) return done(`${url} answered HTTP ${res.statusCode}`);
      // the answer is WMSP framing: $M (metadata) and other frames may come first, each '$' type length(LE16) body
      let head = Buffer.alloc(0);
      let at = 0;
      res.on('data', (c: Buffer) => {
        head = Buffer.concat([head, c]);
        while (head.length >= at + 4) {
          if (head[at] !== 0x24) return done(`${url} did not answer with WMSP framing`);
          if (head[at + 1] === 0x48) return done('');
          at += 4 + head.readUInt16LE(at + 2);
          if (at > 65536) return done(`${url} sent no $H header frame in its first 64 KB`);
        }
      });
      res.on('end', () => done(`${url} ended before the header`));
    });
    req.end();
  });
}

export interface HealthInputs {
  modules: () => readonly AppModule[];
  core: readonly string[];
  mqttConnected: () => boolean;
  /** the loopback URL to play (empty: no publishing point to play, only the HTTP answer is checked) */
  url: () => string;
}

/** What fails now (empty when healthy). */
export async function healthFailures(h: HealthInputs): Promise<string[]> {
  const failures: string[] = [];
  const present = new Set<string>();
  for (const m of h.modules()) {
    if (!h.core.includes(m.name)) continue;
    present.add(m.name);
    try {
      const s = m.health();
      if (!s.ok) failures.push(`module ${m.name} is ${s.state}`);
    } catch (err) {
      failures.push(`module ${m.name}: ${(err as Error).message}`);
    }
  }
  for (const name of h.core) if (!present.has(name)) failures.push(`module ${name} is missing`);
  if (!h.mqttConnected()) failures.push('MQTT is not connected');
  const url = h.url();
  if (!url) failures.push('no loopback URL to play from (no HTTP listener or publishing point)');
  else {
    const why = await loopbackPlayer(url);
    if (why) failures.push(`loopback player: ${why}`);
  }
  return failures;
}

export async function waitHealthy(h: HealthInputs, timeoutMs: number, signal: AbortSignal, pollMs = 1000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    const failures = await healthFailures(h);
    if (failures.length === 0 || Date.now() >= deadline) return failures;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

interface ListeningModule { address(): { port: number } | null }

/**
 * The URL the health check plays: update.healthUrl, else a publishing point on the HTTP listener's port that plays
 * without an encoder: an on-demand point's first ASF file, then a broadcast point fed by a file, playlist or pull,
 * and only then one that waits for a push.
 */
export function defaultLoopbackUrl(config: { update: { healthUrl: string }; server: { publishingPoints: ReadonlyArray<{ name: string; type: string; path?: string; source?: { type: string } }> } }, modules: readonly AppModule[], listFiles: (dir: string) => string[]): string {
  if (config.update.healthUrl) return config.update.healthUrl;
  const http = modules.find((m) => m.name === 'http') as (AppModule & Partial<ListeningModule>) | undefined;
  const port = typeof http?.address === 'function' ? http.address()?.port : undefined;
  if (!port) return '';
  const base = `http://127.0.0.1:${port}/`;
  const points = config.server.publishingPoints;
  for (const p of points) {
    if (p.type !== 'ondemand' || !p.path) continue;
    const file = listFiles(p.path).find((f) => /\.(wmv|asf|wma)$/i.test(f));
    if (file) return `${base}${encodeURIComponent(p.name)}/${encodeURIComponent(file)}`;
  }
  const live = points.filter((p) => p.type === 'broadcast');
  const chosen = live.find((p) => p.source?.type !== 'push') ?? live[0];
  return chosen ? `${base}${encodeURIComponent(chosen.name)}` : '';
}
