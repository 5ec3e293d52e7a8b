/**
 * Hooks in a real `mss serve`: a configured recorder program gets point-started for a boot broadcast and
 * player-joined / player-left (with the player's protocol, address and bytes) for an on-demand play, and
 * point-stopped when the operator stops the broadcast.
 */
import test from '../helpers/test.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';
import { ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a hook records point and player events of a running server', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-hooks-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const media = await fixture(FIXTURES.audio20);
  const out = path.join(dir, 'events.jsonl');
  const srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: path.dirname(media) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: media, loop: true }, start: 'boot' },
        ],
      },
      hooks: { commands: [{ events: ['point-started', 'point-stopped', 'player-joined', 'player-left'], command: '/bin/sh', args: ['-c', `cat >> '${out}'`] }] },
    },
  });
  t.teardown(srv.stop);
  const res = await rawRequest(srv.port, `/vod/${FIXTURES.audio20}`, { pragmas: [...ffmpegPlay([1]), 'AccelBW=1000000000, AccelDuration=1000000'], httpVersion: '1.1', timeoutMs: 60_000 });
  t.is(res.status, 200);
  const events = await waitFor(async () => {
    const text = await readFile(out, 'utf8').catch(() => '');
    const list = text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    return list.some((e) => e.type === 'player-left') && list.some((e) => e.type === 'point-started') ? list : undefined;
  });
  t.like(events.find((e) => e.type === 'point-started'), { point: 'live', protected: false });
  t.like(events.find((e) => e.type === 'player-joined'), { point: 'vod', protocol: 'wmsp', remote: '127.0.0.1', role: 'player' });
  const left = events.find((e) => e.type === 'player-left')!;
  t.like(left, { point: 'vod', protocol: 'wmsp', reason: 'finished' });
  t.true((left.bytesSent as number) > 100_000);

  // the operator stops the broadcast: point-stopped
  t.is((await fetch(srv.http('/api/v1/points/live/stop'), { method: 'POST' })).status, 200);
  const stopped = await waitFor(async () => {
    const text = await readFile(out, 'utf8').catch(() => '');
    return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === 'point-stopped');
  });
  t.like(stopped, { point: 'live' });
});
