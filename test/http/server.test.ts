import test from '../helpers/test.js';
import net from 'node:net';
import { startServe, type RunningServe } from '../helpers/serve.js';

/** Sends raw bytes, returns everything the server wrote until it closed (or `waitMs` passed). */
function rawExchange(port: number, data: string | Buffer, waitMs = 15_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    sock.on('error', () => undefined);
    if (data.length > 0) sock.write(data);
  });
}

let srv: RunningServe;

test.before(async () => {
  srv = await startServe({ config: { http: { headerTimeoutMs: 1000, idleTimeoutMs: 1000, maxHeaderBytes: 4096 } } });
});

test.after.always(async () => {
  await srv?.stop();
});

const rejections = (remoteFilter = '127.0.0.1') => srv.logs.filter((l) => l.event === 'http.rejected' && l.remote === remoteFilter);

test.serial('an unknown path gets 404 and one JSON log line with the peer address', async (t) => {
  const before = rejections().length;
  const res = await fetch(srv.http('/no/such/thing'));
  t.is(res.status, 404);
  await res.text();
  await srv.waitForLog((l) => l.event === 'http.rejected' && l.status === 404);
  t.is(rejections().length, before + 1);
});

test.serial('oversized request headers get 431 and one log line', async (t) => {
  const before = rejections().length;
  const { text } = await rawExchange(srv.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
  t.regex(text, /^HTTP\/1\.1 431 /);
  await srv.waitForLog((l) => l.event === 'http.rejected' && l.status === 431);
  t.is(rejections().length, before + 1);
});

test.serial('an oversized request line gets 431', async (t) => {
  const { text } = await rawExchange(srv.port, `GET /${'x'.repeat(6000)} HTTP/1.1\r\n\r\n`);
  t.regex(text, /^HTTP\/1\.1 431 /);
});

test.serial('a garbage request line gets 400', async (t) => {
  const { text } = await rawExchange(srv.port, 'HELLO THERE\r\n\r\n');
  t.regex(text, /^HTTP\/1\.1 400 /);
});

test.serial('a slowloris client (headers trickling in) is cut off with 408 or a close, and logged', async (t) => {
  const sock = net.connect(srv.port, '127.0.0.1');
  let text = '';
  sock.on('data', (d) => (text += d.toString()));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  sock.write('GET / HTTP/1.1\r\n');
  const trickle = setInterval(() => {
    if (!sock.destroyed) sock.write('X-Slow: 1\r\n');
  }, 300);
  await closed;
  clearInterval(trickle);
  t.true(text === '' || /^HTTP\/1\.1 408 /.test(text), text);
  await srv.waitForLog((l) => l.event === 'http.rejected' && /not received in time|idle/.test(String(l.reason)));
});

test.serial('an idle connection that sends nothing is closed and logged', async (t) => {
  const { closed } = await rawExchange(srv.port, '', 20_000);
  t.true(closed);
  await srv.waitForLog((l) => l.event === 'http.rejected' && /idle|not received in time/.test(String(l.reason)));
});

test.serial('after all the bad input the server still answers', async (t) => {
  const res = await fetch(srv.http('/still-here'));
  t.is(res.status, 404);
  await res.text();
});

test('connections beyond maxConnections are refused and logged, and served again once others close', async (t) => {
  const small = await startServe({ config: { http: { maxConnections: 2, idleTimeoutMs: 60_000, headerTimeoutMs: 60_000 } } });
  t.teardown(() => small.stop());
  const open = () =>
    new Promise<net.Socket>((resolve) => {
      const s = net.connect(small.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => undefined);
    });
  const a = await open();
  const b = await open();
  const c = await open();
  const closed = await new Promise<boolean>((resolve) => {
    c.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 5000);
  });
  t.true(closed);
  await small.waitForLog((l) => l.event === 'http.rejected' && l.reason === 'too many connections');
  a.destroy();
  b.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const res = await fetch(small.http('/nothing'));
  t.is(res.status, 404);
  await res.text();
});
