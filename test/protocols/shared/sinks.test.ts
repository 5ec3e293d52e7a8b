import test from '../../helpers/test.js';
import { createSocket } from 'node:dgram';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { SocketSink } from '../../../src/protocols/shared/socket-sink.js';
import { UdpSink } from '../../../src/protocols/shared/udp-sink.js';
import { connectedUdpPair } from '../../helpers/udp.js';

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

const numbered = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(600 + ((from + i) % 7));
    b.writeUInt32BE(from + i, 0);
    return b;
  });

test('a connected UDP sink sends corked writes and datagram lists in order, direct and queued alike', async (t) => {
  const { rx, tx } = await connectedUdpPair(t);
  const got: number[] = [];
  rx.on('message', (m) => got.push(m.readUInt32BE(0)));
  const sink = new UdpSink({ socket: tx, address: '127.0.0.1', port: rx.address().port, connected: true, maxInFlightBytes: 2000 });
  // a plain write first: libuv holds it, so the list behind it must queue, not overtake it
  sink.write(numbered(0, 1)[0]!);
  sink.writeDatagrams(numbered(1, 10));
  await new Promise((r) => setTimeout(r, 50));
  // nothing in flight now: of a corked burst of 150 packets the first 2000 bytes go straight to the kernel, the
  // rest waits in the queue (never more than maxInFlightBytes handed over at once)
  sink.cork();
  for (const d of numbered(11, 150)) sink.write(d);
  t.true(sink.queuedBytes >= 150 * 600, 'held writes count as queued');
  sink.uncork();
  t.true(sink.queuedBytes > 0 && sink.queuedBytes <= 147 * 606, `queued ${sink.queuedBytes}`);
  // a tick's few packets, with nothing waiting, go straight to the kernel
  while (sink.queuedBytes > 0) await new Promise((r) => setTimeout(r, 5));
  sink.writeDatagrams(numbered(161, 3));
  t.is(sink.queuedBytes, 0);
  sink.end();
  while (got.length < 164) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(got, Array.from({ length: 164 }, (_, i) => i));
  t.is(sink.stats.datagrams, 164);
  t.is(sink.stats.errors, 0);
});

test('a connected UDP sink whose peer is gone goes on sending, counting any refused send', async (t) => {
  const { rx, tx } = await connectedUdpPair(t);
  rx.close();
  const errors: string[] = [];
  const sink = new UdpSink({ socket: tx, address: '127.0.0.1', port: 9, connected: true, onError: (e) => errors.push((e as NodeJS.ErrnoException).code ?? '') });
  for (let i = 0; i < 5; i++) {
    sink.writeDatagrams(numbered(i * 3, 3));
    await new Promise((r) => setTimeout(r, 20));
  }
  // the ICMP error reaches either a send (counted here) or the socket's receive side (its error handler)
  t.false(sink.closed);
  t.true(errors.every((c) => c === 'ECONNREFUSED'), errors.join(','));
  t.is(sink.stats.errors, errors.length);
  t.is(sink.stats.datagrams + sink.stats.errors, 15);
});

test('a datagram list written while the sink is corked goes out behind the writes the cork holds', async (t) => {
  const { rx, tx } = await connectedUdpPair(t);
  const got: number[] = [];
  rx.on('message', (m) => got.push(m.readUInt32BE(0)));
  const sink = new UdpSink({ socket: tx, address: '127.0.0.1', port: rx.address().port, connected: true });
  sink.cork();
  for (const d of numbered(0, 2)) sink.write(d); // a stream change and a header
  sink.writeDatagrams(numbered(2, 5)); // the first batch of a joining player
  t.deepEqual(got, []);
  sink.uncork();
  while (got.length < 7) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(got, [0, 1, 2, 3, 4, 5, 6]);
});
