/**
 * What one WMSP connection may cost the server: in-process (the HTTP listener, the WMSP server and the media core of
 * `mss serve`, without the process), so the tests can look at what the server holds, not just at what it answers.
 */
import test from '../../helpers/test.js';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { validateConfig } from '../../../src/config/index.js';
import { createLogger, setLogLevel } from '../../../src/core/log.js';
import { HttpModule } from '../../../src/http/server.js';
import { MediaCore } from '../../../src/media/core.js';
import { WmspServer } from '../../../src/protocols/wmsp/server.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';
import { rawSocket } from '../../helpers/raw-socket.js';

setLogLevel('error');

interface Rig {
  port: number;
  /** responses handed to the WMSP route and not finished yet (what Node keeps per request) */
  openResponses: Set<ServerResponse>;
  http: HttpModule;
}

async function rig(t: { teardown(fn: () => Promise<void> | void): void }, http: Record<string, unknown> = {}): Promise<Rig> {
  const dir = path.dirname(await fixture(FIXTURES.av20));
  const cfg = validateConfig({
    http: { host: '127.0.0.1', port: 0, idleTimeoutMs: 1000, ...http },
    server: {
      publishingPoints: [
        { name: 'vod', type: 'ondemand', path: dir },
        { name: 'live', type: 'broadcast', source: { type: 'file', path: path.join(dir, FIXTURES.av20), loop: true } },
      ],
    },
  });
  const log = createLogger('test');
  const core = new MediaCore(cfg.server, log);
  const wmsp = new WmspServer({ resolver: core, log });
  const httpModule = new HttpModule(cfg.http, log);
  const openResponses = new Set<ServerResponse>();
  const route = wmsp.route();
  httpModule.addRoute({
    ...route,
    handle: (req, res, ctx) => {
      openResponses.add(res);
      // held until the response finished or its request was dropped with the connection
      res.once('finish', () => openResponses.delete(res));
      res.once('close', () => openResponses.delete(res));
      req.once('close', () => openResponses.delete(res));
      return route.handle(req, res, ctx);
    },
  });
  await core.start();
  wmsp.start(core.scheduler);
  await httpModule.start();
  t.teardown(async () => {
    await httpModule.stop();
    wmsp.stop();
    await core.stop();
  });
  return { port: httpModule.address()!.port, openResponses, http: httpModule };
}

/** a raw connection that counts HTTP status lines and remembers the last client-id it was given */
function connection(port: number) {
  const raw = rawSocket(port);
  return Object.assign(raw, {
    send: (lines: string[]) => raw.sock.write(lines.join('\r\n') + '\r\n\r\n'),
    statuses: () => (raw.text.match(/HTTP\/1\.[01] \d{3}/g) ?? []).length,
    clientId: () => /client-id=(\d+)/.exec(raw.text)?.[1],
  });
}

const UA = 'User-Agent: NSPlayer/9.0.0.2980';

/** a Describe on a connection of its own (it closes): the client-id the server gave */
async function describe(port: number, target: string): Promise<string> {
  const d = connection(port);
  d.send([`GET ${target} HTTP/1.0`, 'Host: x', UA, 'Pragma: no-cache']);
  await d.until(() => d.closed, 60_000);
  const id = d.clientId();
  if (!id) throw new Error(`no client-id from the Describe of ${target}`);
  return id;
}

test('KeepAlives on one connection are answered and leave no request/response pair behind', async (t) => {
  const r = await rig(t);
  const id = await describe(r.port, `/vod/${FIXTURES.av20}`);
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  const one = [`OPTIONS * HTTP/1.1`, 'Host: x', UA, `Pragma: client-id=${id}`].join('\r\n') + '\r\n\r\n';
  for (let i = 1; i <= 1000; i++) {
    c.sock.write(i % 10 === 0 ? one.repeat(10) : one);
    if (i % 10 === 0) t.true(await c.until(() => c.statuses() >= i + 9 * (i / 10)), `answered ${c.statuses()}`);
  }
  t.true(await c.until(() => r.openResponses.size === 0), `${r.openResponses.size} responses still held`);
  t.false(c.closed);
});

test('a burst of pipelined requests beyond what may wait cuts the connection; nothing is held after', async (t) => {
  const r = await rig(t);
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  const one = [`OPTIONS * HTTP/1.1`, 'Host: x', UA].join('\r\n') + '\r\n\r\n';
  c.sock.write(one.repeat(5000));
  t.true(await c.until(() => c.closed));
  t.true(await c.until(() => r.openResponses.size === 0), `${r.openResponses.size} responses still held`);
});

test('a connection makes at most http.maxRequestsPerConnection requests', async (t) => {
  const r = await rig(t, { maxRequestsPerConnection: 50 });
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  const one = [`OPTIONS * HTTP/1.1`, 'Host: x', UA].join('\r\n') + '\r\n\r\n';
  for (let sent = 10; sent <= 200 && !c.closed; sent += 10) {
    c.sock.write(one.repeat(10));
    await c.until(() => c.closed || c.statuses() >= sent);
  }
  t.true(await c.until(() => c.closed));
  t.is(c.statuses(), 50);
});

test('requests piling up behind a pipelined stream are bounded: the connection is cut, nothing grows', async (t) => {
  const r = await rig(t);
  const id = await describe(r.port, '/live');
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  c.send([`GET /live HTTP/1.1`, 'Host: x', UA, 'Pragma: xPlayStrm=1, version11-enabled=1', `Pragma: client-id=${id}`]);
  const keep = [`OPTIONS * HTTP/1.1`, 'Host: x', UA, `Pragma: client-id=${id}`].join('\r\n') + '\r\n\r\n';
  c.sock.write(keep.repeat(500));
  t.true(await c.until(() => c.closed), 'cut off');
  t.true(await c.until(() => r.openResponses.size === 0), `${r.openResponses.size} responses still held`);
});

test('after a Pipeline test the connection still has an idle timeout', async (t) => {
  const r = await rig(t);
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  c.send([`GET /vod/${FIXTURES.av20} HTTP/1.1`, 'Host: x', UA, 'Pragma: pipeline-request=1']);
  t.true(await c.until(() => c.statuses() === 1));
  t.true(await c.until(() => c.closed, 5000), 'closed by the idle timeout');
  t.is(r.http.connectionCount(), 0);
});

test('after a pipelined Play ends the connection goes back to its idle timeout', async (t) => {
  const r = await rig(t);
  const id = await describe(r.port, `/vod/${FIXTURES.av20}`);
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  // a Play from past the last packet: the stream ends at once and the connection is kept alive
  c.send([`GET /vod/${FIXTURES.av20} HTTP/1.1`, 'Host: x', UA, 'Pragma: xPlayStrm=1, version11-enabled=1, packet-num=4294967294', `Pragma: client-id=${id}`]);
  t.true(await c.until(() => c.statuses() === 1));
  t.true(await c.until(() => c.closed, 8000), 'closed by the idle timeout');
});

test('an HTTP/1.0 stream keeps no request/response pair, outlives the keep-alive timer, and a request on it ends it', async (t) => {
  const r = await rig(t);
  const id = await describe(r.port, '/live');
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  let bytes = 0;
  c.sock.on('data', (d) => (bytes += d.length));
  c.send([`GET /live HTTP/1.0`, 'Host: x', UA, 'Pragma: xPlayStrm=1', `Pragma: client-id=${id}`]);
  t.true(await c.until(() => c.statuses() === 1 && bytes > 10_000), 'streaming');
  t.true(await c.until(() => r.openResponses.size === 0), `${r.openResponses.size} responses still held`);
  // past Node's keep-alive timeout (1 s here): the stream's own no-progress timeout governs the connection
  const before = bytes;
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.false(c.closed, 'the stream outlived the keep-alive timer');
  t.true(bytes > before, 'and kept flowing');
  // a second request on the stream's connection is not answered inside the stream: the connection ends
  c.send([`GET /live HTTP/1.0`, 'Host: x', UA, 'Pragma: no-cache']);
  t.true(await c.until(() => c.closed), 'ended');
  t.is(c.statuses(), 1);
});

test('garbage after an HTTP/1.0 stream request ends the connection without an error response in the stream', async (t) => {
  const r = await rig(t);
  const id = await describe(r.port, '/live');
  const c = connection(r.port);
  t.teardown(() => c.sock.destroy());
  c.send([`GET /live HTTP/1.0`, 'Host: x', UA, 'Pragma: xPlayStrm=1', `Pragma: client-id=${id}`]);
  t.true(await c.until(() => c.statuses() === 1));
  t.true(await c.until(() => r.openResponses.size === 0));
  c.sock.write('\x00\x01 not HTTP at all\r\n\r\n');
  t.true(await c.until(() => c.closed), 'ended');
  t.is(c.statuses(), 1);
});
