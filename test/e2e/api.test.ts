/**
 * The control API of a real `mss serve` (MQTT off): publishing point CRUD validated by the config schema and
 * persisted across a restart, broadcast stop/start, players listed and disconnected, server limits, JSON errors.
 */
import test from '../helpers/test.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_DESCRIBE, ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';

interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

async function api<T = any>(srv: RunningServe, method: string, p: string, body?: unknown): Promise<Reply<T>> {
  const res = await fetch(srv.http(p), { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T), headers: res.headers };
}

let media: string;
let mediaDir: string;

test.before(async () => {
  media = await fixture(FIXTURES.audio20);
  mediaDir = path.dirname(media);
});

async function serve(t: { teardown(fn: () => unknown): void }, dataDir: string): Promise<RunningServe> {
  const srv = await startServe({
    config: {
      dataDir,
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: mediaDir },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: media, loop: true }, start: 'boot' },
        ],
      },
    },
  });
  t.teardown(srv.stop);
  return srv;
}

test('points: add, get, change, replace and remove, validated by the config schema and persisted across a restart', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mss-api-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const srv = await serve(t, dataDir);

  const list = await api(srv, 'GET', '/api/v1/points');
  t.is(list.status, 200);
  t.deepEqual(list.body.map((p: { name: string }) => p.name), ['vod', 'live']);

  const added = await api(srv, 'POST', '/api/v1/points', { name: 'extra', type: 'ondemand', path: mediaDir, maxPlayers: 3, auth: { scheme: 'basic', users: [{ name: 'ann', password: 'pw1' }] } });
  t.is(added.status, 201, JSON.stringify(added.body));
  t.like(added.body.point, { name: 'extra', type: 'ondemand', config: { maxPlayers: 3 } });
  t.is(added.body.point.config.auth.users[0].password, '***', 'secrets are never shown');
  t.regex(added.body.point.urls.mmsh, /^mmsh:\/\/127\.0\.0\.1:\d+\/extra\/\{file\}$/);
  t.is(added.body.config.status, 'applied');
  // the new point serves at once
  t.is((await rawRequest(srv.port, `/extra/${FIXTURES.audio20}`, { pragmas: FFMPEG_DESCRIBE, headers: { Authorization: `Basic ${Buffer.from('ann:pw1').toString('base64')}` } })).status, 200);

  const dup = await api(srv, 'POST', '/api/v1/points', { name: 'extra', type: 'ondemand', path: mediaDir });
  t.is(dup.status, 409);
  t.is(dup.body.error.code, 'conflict');

  const bad = await api(srv, 'POST', '/api/v1/points', { name: 'broken', type: 'ondemand', path: 42, maxPlayers: -1, colour: 'red' });
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'invalid-config');
  const paths = bad.body.error.detail.errors.map((e: { path: string }) => e.path).sort();
  t.deepEqual(paths, ['server.publishingPoints[3].colour', 'server.publishingPoints[3].maxPlayers', 'server.publishingPoints[3].path']);
  t.is((await api(srv, 'GET', '/api/v1/points/broken')).status, 404, 'a refused change changes nothing');

  const patched = await api(srv, 'PATCH', '/api/v1/points/extra', { maxPlayers: 9, auth: { users: [{ name: 'ann', password: '***' }] } });
  t.is(patched.status, 200, JSON.stringify(patched.body));
  t.is(patched.body.point.config.maxPlayers, 9);
  // "***" kept the password
  t.is((await rawRequest(srv.port, `/extra/${FIXTURES.audio20}`, { pragmas: FFMPEG_DESCRIBE, headers: { Authorization: `Basic ${Buffer.from('ann:pw1').toString('base64')}` } })).status, 200);

  const replaced = await api(srv, 'PUT', '/api/v1/points/extra', { type: 'ondemand', path: mediaDir, maxPlayers: 5 });
  t.is(replaced.status, 200);
  t.like(replaced.body.point.config, { maxPlayers: 5, auth: { scheme: 'none' } });
  t.is((await api(srv, 'PUT', '/api/v1/points/extra', { name: 'other', type: 'ondemand', path: mediaDir })).body.error.code, 'invalid-argument');

  t.is((await api(srv, 'POST', '/api/v1/points', { name: 'gone', type: 'ondemand', path: mediaDir })).status, 201);
  const removed = await api(srv, 'DELETE', '/api/v1/points/gone');
  t.is(removed.status, 200);
  t.is((await api(srv, 'GET', '/api/v1/points/gone')).body.error.code, 'not-found');
  t.is((await rawRequest(srv.port, `/gone/${FIXTURES.audio20}`, { pragmas: FFMPEG_DESCRIBE })).status, 404);

  const persisted = JSON.parse(await readFile(path.join(dataDir, 'config.desired.json'), 'utf8')) as { source: string; config: { server: { publishingPoints: Array<{ name: string }> } } };
  t.is(persisted.source, 'api');
  t.deepEqual(persisted.config.server.publishingPoints.map((p) => p.name), ['vod', 'live', 'extra']);

  await srv.stop();
  const again = await serve(t, dataDir);
  const after = await api(again, 'GET', '/api/v1/points/extra');
  t.is(after.status, 200, 'the added point survived the restart');
  t.is(after.body.config.maxPlayers, 5);
  t.is((await api(again, 'GET', '/api/v1/points/gone')).status, 404);
  const info = await api(again, 'GET', '/api/v1/server');
  t.true(info.body.config.history.length >= 1, 'SQLite keeps the revisions');
});

test('broadcast stop and start; players listed and disconnected; limits; JSON errors', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mss-api-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const srv = await serve(t, dataDir);

  const stopped = await api(srv, 'POST', '/api/v1/points/live/stop');
  t.is(stopped.status, 200);
  t.is(stopped.body.status.state, 'stopped');
  t.is((await rawRequest(srv.port, '/live', { pragmas: FFMPEG_DESCRIBE })).status, 503);
  const started = await api(srv, 'POST', '/api/v1/points/live/start');
  t.is(started.status, 200);
  t.is(started.body.status.state, 'broadcasting');
  t.is((await api(srv, 'POST', '/api/v1/points/vod/stop')).body.error.code, 'conflict');

  // a real-time play stays connected: it is listed, then disconnected by the operator
  const playing = rawRequest(srv.port, `/vod/${FIXTURES.audio20}`, { pragmas: ffmpegPlay([1]), httpVersion: '1.1', timeoutMs: 30_000 });
  let players: Array<{ id: number; point: string; protocol: string; remote: string; userAgent: string; bytesSent: number }> = [];
  for (let i = 0; i < 100 && players.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    players = (await api(srv, 'GET', '/api/v1/players')).body;
  }
  t.is(players.length, 1);
  t.like(players[0], { point: 'vod', protocol: 'wmsp', remote: '127.0.0.1', userAgent: 'NSPlayer/4.1.0.3856' });
  const gone = await api(srv, 'DELETE', `/api/v1/players/${players[0]!.id}`);
  t.is(gone.status, 200);
  const res = await playing;
  t.true(res.closedByServer, 'the disconnected player is closed');
  t.is((await api(srv, 'GET', '/api/v1/players')).body.length, 0);
  t.is((await api(srv, 'DELETE', '/api/v1/players/999999')).status, 404);
  t.is((await api(srv, 'DELETE', '/api/v1/players/abc')).body.error.code, 'invalid-argument');

  const limits = await api(srv, 'PATCH', '/api/v1/server/limits', { maxPlayers: 7 });
  t.is(limits.body.maxPlayers, 7);
  const server = await api(srv, 'GET', '/api/v1/server');
  t.like(server.body, { limits: { maxPlayers: 7 }, health: { status: 'ok' } });
  t.regex(server.body.version, /^\d+\.\d+\.\d+/);
  t.true(server.body.uptimeSec >= 0);
  t.is((await api(srv, 'PATCH', '/api/v1/server/limits', { maxPlayers: 0 })).body.error.code, 'invalid-config');

  const none = await api(srv, 'GET', '/api/v1/nothing-here');
  t.is(none.status, 404);
  t.is(none.body.error.code, 'not-found');
  const wrong = await api(srv, 'POST', '/api/v1/players');
  t.is(wrong.status, 405);
  t.is(wrong.headers.get('allow'), 'GET');
  const notJson = await fetch(srv.http('/api/v1/points'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{oops' });
  t.is(notJson.status, 400);
  t.is(((await notJson.json()) as { error: { code: string } }).error.code, 'malformed');
});
