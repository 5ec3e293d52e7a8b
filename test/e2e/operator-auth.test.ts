/**
 * The operator routes behind the app's API guard (the api section), in a real `mss serve`: the control API,
 * /metrics and the status page ask for credentials (Basic and Digest, curl as a real client; bearer tokens) and
 * refuse wrong ones; /health stays open; metrics.protect false opens /metrics alone. (Other hosts than loopback
 * are refused unless api.allowRemote: the guard's own tests.)
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { startServe, type RunningServe } from '../helpers/serve.js';

const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args], { timeout: 30_000 }, (err, stdout) => resolve({ code: err ? 1 : 0, stdout: String(stdout) })));
}

async function serveWith(t: { teardown(fn: () => unknown): void }, extra: Record<string, unknown>): Promise<RunningServe> {
  const srv = await startServe({ config: { server: { publishingPoints: [] }, ...extra } });
  t.teardown(srv.stop);
  return srv;
}

test('accounts: 401 with a challenge without or with wrong credentials, 200 with the right ones (Basic and Digest)', async (t) => {
  const srv = await serveWith(t, { api: { auth: { scheme: 'digest', realm: 'ops', users: [{ name: 'ops', password: 'op-secret' }] } } });
  for (const p of ['/api/v1/points', '/metrics', '/']) {
    const res = await fetch(srv.http(p));
    t.is(res.status, 401, p);
    t.regex(res.headers.get('www-authenticate') ?? '', /^Digest realm="ops"/, p);
  }
  t.is((await fetch(srv.http('/api/v1/server'), { headers: basic('ops', 'op-secret') })).status, 401, 'a digest account does not take Basic');
  t.is((await curl(['--digest', '-u', 'ops:op-secret', srv.http('/api/v1/server')])).stdout, '200');
  t.is((await curl(['--digest', '-u', 'ops:wrong', srv.http('/api/v1/server')])).stdout, '401');
  t.is((await curl(['--digest', '-u', 'ops:op-secret', srv.http('/metrics')])).stdout, '200');
  t.is((await curl(['--digest', '-u', 'ops:op-secret', srv.http('/')])).stdout, '200');
  t.is((await fetch(srv.http('/health'))).status, 200, '/health is for load balancers: always open');
  await srv.waitForLog((l) => l.event === 'http.rejected' && l.status === 401 && l.route === 'api-v1');
});

test('Basic accounts; metrics.protect false leaves /metrics open and the API closed', async (t) => {
  const srv = await serveWith(t, { api: { auth: { scheme: 'basic', users: [{ name: 'ops', password: 'pw' }] } }, metrics: { protect: false } });
  t.is((await fetch(srv.http('/api/v1/points'), { headers: basic('ops', 'pw') })).status, 200);
  t.is((await fetch(srv.http('/api/v1/points'), { headers: basic('ops', 'nope') })).status, 401);
  t.is((await fetch(srv.http('/metrics'))).status, 200);
  t.is((await fetch(srv.http('/api/v1/points'))).status, 401);
});

test('bearer tokens: the right token passes, another is refused with a Bearer challenge', async (t) => {
  const token = 'tok-0123456789abcdef';
  const srv = await serveWith(t, { api: { auth: { scheme: 'bearer', tokens: [token] } } });
  t.is((await fetch(srv.http('/api/v1/server'), { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  const wrong = await fetch(srv.http('/api/v1/server'), { headers: { Authorization: 'Bearer tok-wrong-wrong-wrong' } });
  t.is(wrong.status, 401);
  t.regex(wrong.headers.get('www-authenticate') ?? '', /^Bearer/);
  t.is((await fetch(srv.http('/metrics'), { headers: { Authorization: `Bearer ${token}` } })).status, 200);
});
