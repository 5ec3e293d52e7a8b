/**
 * The operator endpoints (/api/status, /api/logs) of a real `mss serve`: loopback only by default (a caller from
 * another address, this machine's own non-loopback address used as the source, gets 403); with a board-style `api`
 * section (allowRemote + Digest or a bearer token) every caller authenticates, curl --digest gets in, a wrong user
 * and a wrong password get the same 401 body, and repeated failures from one address turn into 429. The server
 * listens on 127.0.0.1 only: nothing is exposed beyond this machine.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { authorizationHeader } from '../../src/auth/http-auth.js';
import { startServe } from '../helpers/serve.js';

const execFileAsync = promisify(execFile);

/** a local address that is not loopback, to be the source of "remote" requests */
const otherAddress = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  challenges: string[];
}

function get(port: number, path: string, opts: { from?: string; authorization?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress: opts.from, headers: opts.authorization ? { Authorization: opts.authorization } : {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, challenges: res.headersDistinct['www-authenticate'] ?? [] }));
    });
    req.on('error', reject);
  });
}

test('default: loopback reads /api/status and /api/logs; another address gets 403; streams are not affected', async (t) => {
  const srv = await startServe({ config: { server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: '/nonexistent' }] } } });
  t.teardown(() => srv.stop());
  t.is((await get(srv.port, '/api/status')).status, 200);
  t.is((await get(srv.port, '/api/logs')).status, 200);
  if (!otherAddress) return t.log('no non-loopback address on this machine: the remote half is not exercised');
  const remote = await get(srv.port, '/api/status', { from: otherAddress });
  t.is(remote.status, 403);
  t.regex(remote.body, /api\.allowRemote/);
  t.is((await get(srv.port, '/api/logs?limit=1', { from: otherAddress })).status, 403);
  t.is((await get(srv.port, '/vod/missing.wmv', { from: otherAddress })).status, 404, 'a player from elsewhere still reaches the media routes');
});

test('board style (allowRemote + Digest): every caller authenticates; curl --digest gets in; refusals say nothing about the user name; floods get 429', async (t) => {
  const srv = await startServe({
    config: { api: { allowRemote: true, auth: { scheme: 'digest', users: [{ name: 'op', password: 'open sesame' }] }, refusalDelayMs: 200, maxFailuresPerMinute: 4 } },
  });
  t.teardown(() => srv.stop());
  const from = otherAddress;
  const first = await get(srv.port, '/api/status', { from });
  t.is(first.status, 401);
  t.true(first.challenges.some((c) => /^Digest realm="mss api"/.test(c)), first.challenges.join(' | '));
  t.is((await get(srv.port, '/api/status')).status, 401, 'loopback authenticates too once a scheme is set');

  const curl = await execFileAsync('curl', ['-sS', '--digest', '-u', 'op:open sesame', '-o', '/dev/null', '-w', '%{http_code}', `${srv.url}/api/status`]);
  t.is(curl.stdout, '200');
  const challenge = first.challenges.at(-1)!;
  const logs = await get(srv.port, '/api/logs?limit=1', { from, authorization: authorizationHeader(challenge, 'op', 'open sesame', 'GET', '/api/logs?limit=1') });
  t.is(logs.status, 200, logs.body);

  const wrongPassword = await get(srv.port, '/api/status', { from, authorization: authorizationHeader(challenge, 'op', 'guess', 'GET', '/api/status') });
  const wrongUser = await get(srv.port, '/api/status', { from, authorization: authorizationHeader(challenge, 'nobody', 'guess', 'GET', '/api/status') });
  t.is(wrongPassword.status, 401);
  t.is(wrongUser.status, 401);
  t.is(wrongPassword.body, wrongUser.body, 'the same body whether the user exists or not');
  t.notRegex(wrongUser.body, /nobody|unknown|user name .* exist/i);
  t.false(JSON.stringify(srv.logs).includes('open sesame'));

  // two failures so far from this address; two more fill the window, then even the right password waits
  for (let i = 0; i < 2; i++) await get(srv.port, '/api/status', { from, authorization: authorizationHeader(challenge, 'op', `guess${i}`, 'GET', '/api/status') });
  const limited = await get(srv.port, '/api/status', { from, authorization: authorizationHeader(challenge, 'op', 'open sesame', 'GET', '/api/status') });
  t.is(limited.status, 429);
  t.truthy(limited.headers['retry-after']);
  if (from) {
    const curlAgain = await execFileAsync('curl', ['-sS', '--digest', '-u', 'op:open sesame', '-o', '/dev/null', '-w', '%{http_code}', `${srv.url}/api/status`]);
    t.is(curlAgain.stdout, '200', 'another address (loopback) is not affected');
  }
});

test('a bearer token from the api section opens /api/status; a wrong one does not', async (t) => {
  const token = 'k3y-0123456789abcdef';
  const srv = await startServe({ config: { api: { allowRemote: true, auth: { scheme: 'bearer', tokens: [token] }, refusalDelayMs: 0 } } });
  t.teardown(() => srv.stop());
  t.is((await get(srv.port, '/api/status', { authorization: `Bearer ${token}` })).status, 200);
  const wrong = await get(srv.port, '/api/status', { authorization: 'Bearer k3y-0123456789abcdeX' });
  t.is(wrong.status, 401);
  t.is(String(wrong.headers['www-authenticate']), 'Bearer realm="mss api"');
});
