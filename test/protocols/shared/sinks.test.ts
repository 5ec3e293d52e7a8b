import test from '../../helpers/test.js';
import { createSocket } from 'node:dgram';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { SocketSink } from '../../../src/protocols/shared/socket-sink.js';
import { UdpSink } from '../../../src/protocols/shared/udp-sink.js';

async function socketPair(t: { teardown(fn: () => void): void }): Promise<{ server: Socket; client: Socket }> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  const [server] = (await once(srv, 'connection')) as [Socket];
  t.teardown(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  return { server, client };
}

test('a socket sink writes its head before the first byte, chunks when asked, and ends the socket', async (t) => {
  const { server, client } = await socketPair(t);
  const sink = new SocketSink(server, { head: 'HEAD\r\n', chunked: true });
  let got = '';
  client.on('data', (d) => (got += d.toString('latin1')));
  sink.write(Buffer.from('abc'));
  sink.end();
  await once(client, 'end');
  t.is(got, 'HEAD\r\n3\r\nabc\r\n0\r\n\r\n');
  t.true(sink.closed);
});

test('a corked socket sink holds its writes, counts them as queued, and sends them as one chunk on uncork or end', async (t) => {
  const { server, client } = await socketPair(t);
  const sink = new SocketSink(server, { head: 'H\r\n', chunked: true });
  let got = '';
  client.on('data', (d) => (got += d.toString('latin1')));
  sink.cork();
  sink.write(Buffer.from('ab'));
  sink.write(Buffer.from('cd'));
  t.is(sink.queuedBytes >= 4, true, 'held bytes count against the player queue');
  sink.uncork();
  sink.cork();
  sink.write(Buffer.from('ef'));
  sink.end(); // flushes what the cork holds
  await once(client, 'end');
  t.is(got, 'H\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n');
});

test('a keep-open sink leaves the connection up, calls onEnd, and leaves no close listener behind', async (t) => {
  const { server } = await socketPair(t);
  const before = server.listenerCount('close');
  let ended = 0;
  for (let i = 0; i < 50; i++) {
    const sink = new SocketSink(server, { keepOpen: true, onEnd: () => ended++ });
    sink.onClose(() => t.fail('closed'));
    sink.write(Buffer.from('x'));
    sink.end();
  }
  t.is(ended, 50);
  t.false(server.destroyed);
  t.is(server.listenerCount('close'), before);
});

test('a UDP sink sends each write as one datagram, bounds what is in flight, and reports the queue', async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  t.teardown(() => {
    rx.close();
    tx.close();
  });
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const got: number[] = [];
  rx.on('message', (m) => got.push(m.length));
  const sink = new UdpSink({ socket: tx, address: '127.0.0.1', port: rx.address().port, maxInFlightBytes: 3000 });
  for (let i = 0; i < 20; i++) sink.write(Buffer.alloc(1000 + i));
  t.true(sink.queuedBytes > 0 && sink.queuedBytes <= 20 * 1020);
  let closed = false;
  sink.onClose(() => (closed = true));
  sink.end();
  while (got.length < 20) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(got, Array.from({ length: 20 }, (_, i) => 1000 + i));
  t.is(sink.queuedBytes, 0);
  t.true(closed);
  t.is(sink.stats.datagrams, 20);
});

test('a UDP sink over its hard limit destroys itself instead of growing', (t) => {
  const tx = createSocket('udp4');
  t.teardown(() => tx.close());
  const sink = new UdpSink({ socket: tx, address: '127.0.0.1', port: 9, maxInFlightBytes: 1000, hardLimitBytes: 10_000 });
  for (let i = 0; i < 100; i++) sink.write(Buffer.alloc(1000));
  t.true(sink.closed);
  t.true(sink.queuedBytes <= 11_000);
});
