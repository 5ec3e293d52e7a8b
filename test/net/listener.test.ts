import test from '../helpers/test.js';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createLogger } from '../../src/core/log.js';
import { TcpListener, type Connection } from '../../src/net/listener.js';
import type { ListenerConfig } from '../../src/config/sections/listener.js';

const base: ListenerConfig = { host: '127.0.0.1', port: 0, maxConnections: 100, maxConnectionsPerAddress: 0, headerTimeoutMs: 300, idleTimeoutMs: 1000, streamIdleTimeoutMs: 5000 };

async function listener(t: { teardown(fn: () => Promise<void> | void): void }, cfg: Partial<ListenerConfig>, onConn: (c: Connection) => void = () => undefined, onTimeout?: (c: Connection) => void) {
  const l = new TcpListener('test', { ...base, ...cfg }, createLogger('test'), onConn, onTimeout);
  const addr = await l.start();
  t.teardown(() => l.stop());
  return { l, port: addr.port };
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test('connections beyond the per-address limit are refused; others are kept', async (t) => {
  const { l, port } = await listener(t, { maxConnectionsPerAddress: 3 });
  const socks = Array.from({ length: 5 }, () => connect(port, '127.0.0.1'));
  t.teardown(() => socks.forEach((s) => s.destroy()));
  await Promise.all(socks.map((s) => once(s, 'connect')));
  const closed = await Promise.all(socks.map((s) => closedWithin(s, 500)));
  t.is(closed.filter(Boolean).length, 2);
  t.is(l.guard.size, 3);
  t.is(l.guard.stats().rejected, 2);
  t.deepEqual(l.guard.stats().topAddresses, [{ address: '127.0.0.1', connections: 3 }]);
});

test('a request that trickles in is cut at its deadline, however often bytes arrive', async (t) => {
  let timedOut = 0;
  const { port } = await listener(
    t,
    { headerTimeoutMs: 300 },
    (conn) => conn.socket.on('data', () => conn.requestStarted()),
    (conn) => {
      timedOut++;
      conn.socket.end('408\r\n');
    },
  );
  const s = connect(port, '127.0.0.1');
  t.teardown(() => s.destroy());
  s.on('error', () => undefined); // the server hangs up on the slow sender
  await once(s, 'connect');
  const drip = setInterval(() => s.writable && s.write('x'), 50);
  t.teardown(() => clearInterval(drip));
  t.true(await closedWithin(s, 3000));
  t.is(timedOut, 1);
});

test('an idle connection is closed after the idle timeout; a streaming one is not while bytes move', async (t) => {
  const conns: Connection[] = [];
  const { port } = await listener(t, { idleTimeoutMs: 1000, streamIdleTimeoutMs: 5000 }, (c) => conns.push(c));
  const idle = connect(port, '127.0.0.1');
  const streaming = connect(port, '127.0.0.1');
  t.teardown(() => (idle.destroy(), streaming.destroy()));
  await Promise.all([once(idle, 'connect'), once(streaming, 'connect')]);
  while (conns.length < 2) await new Promise((r) => setTimeout(r, 10));
  const server = conns.find((c) => c.socket.remotePort === streaming.localPort)!;
  server.streaming();
  const feed = setInterval(() => server.socket.write('data'), 200);
  t.teardown(() => clearInterval(feed));
  t.true(await closedWithin(idle, 4000));
  t.false(streaming.destroyed);
  t.false(await closedWithin(streaming, 1500));
});
