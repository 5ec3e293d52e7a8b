import test from '../helpers/test.js';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterRawWrite, manyWriter, pendingBytes, rawWriteFd, writeDirect, writeDirectv } from '../../src/net/direct-write.js';

async function socketPair(t: { teardown(fn: () => void): void }): Promise<{ server: Socket; client: Socket }> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const client = connect((srv.address() as { port: number }).port, '127.0.0.1');
  const [server] = (await once(srv, 'connection')) as [Socket];
  t.teardown(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  return { server, client };
}

function block(i: number, size: number): Buffer {
  return Buffer.alloc(size, i & 0xff);
}

test('direct writes and stream writes mixed on one socket arrive complete and in order, past a full kernel buffer', async (t) => {
  const { server, client } = await socketPair(t);
  client.pause();
  const size = 64 * 1024;
  const count = 200; // 12.5 MiB: far more than loopback's socket buffers, so libuv and the Writable both queue
  let direct = 0;
  for (let i = 0; i < count; i++) {
    const buf = block(i, size);
    // every third block as a writev of two halves (the on-demand path), the others whole
    const ok = i % 3 === 0 ? writeDirectv(server, [buf.subarray(0, size / 2), buf.subarray(size / 2)]) : writeDirect(server, buf);
    if (ok) direct++;
    else server.write(buf);
  }
  t.true(direct > 0, 'the handle path was used');
  t.true(pendingBytes(server) > 0, 'bytes the kernel did not take are reported as pending');
  server.end();
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  client.resume();
  await once(client, 'end');
  const got = Buffer.concat(chunks);
  t.is(got.length, size * count);
  for (let i = 0; i < count; i++) {
    if (got[i * size] !== (i & 0xff) || got[i * size + size - 1] !== (i & 0xff)) {
      t.fail(`block ${i} out of place`);
      return;
    }
  }
  t.is(pendingBytes(server), 0);
});

test('a write to a destroyed socket is dropped, and one with bytes queued in the Writable is left to it', async (t) => {
  const { server } = await socketPair(t);
  server.cork();
  server.write(Buffer.from('held'));
  t.false(writeDirect(server, Buffer.from('x')), 'must not overtake what the Writable holds');
  server.uncork();
  server.destroy();
  t.true(writeDirect(server, Buffer.from('x')));
});

test('direct writes keep the inactivity timeout from firing while bytes move', async (t) => {
  const { server, client } = await socketPair(t);
  client.resume();
  let timedOut = false;
  server.setTimeout(300, () => (timedOut = true));
  const timer = setInterval(() => writeDirect(server, Buffer.alloc(100)), 10);
  await new Promise((r) => setTimeout(r, 1200));
  clearInterval(timer);
  t.false(timedOut);
  await new Promise((r) => setTimeout(r, 500));
  t.true(timedOut, 'the timeout still fires once writes stop');
});

/** what the client side received until the server side ended */
async function received(client: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  client.resume();
  await once(client, 'end');
  return Buffer.concat(chunks);
}

test('one Buffer to many sockets in one native call; what a full socket did not take is queued behind it, in order', async (t) => {
  const writeMany = manyWriter();
  if (!writeMany) return t.pass('no native addon here: the fan-out writes one by one');
  const pairs = await Promise.all([socketPair(t), socketPair(t), socketPair(t)]);
  for (const p of pairs) p.client.pause();
  const fds = new Int32Array(pairs.length);
  const results = new Int32Array(pairs.length);
  const size = 256 * 1024; // more than loopback takes at once from a paused reader: the first rounds fill the buffers
  const rounds = 24;
  let partial = 0;
  for (let r = 0; r < rounds; r++) {
    const data = block(r, size);
    let n = 0;
    const raw: Socket[] = [];
    for (const { server } of pairs) {
      const fd = rawWriteFd(server);
      if (fd >= 0) {
        fds[n++] = fd;
        raw.push(server);
      } else if (!writeDirect(server, data)) server.write(data); // something is queued: the ordinary way
    }
    writeMany(fds, n, data, results);
    raw.forEach((server, i) => {
      if (results[i] !== size) partial++;
      afterRawWrite(server, data, results[i]!);
    });
  }
  t.true(partial > 0, 'some sends were cut short or refused (EAGAIN) and the rest went to libuv');
  for (const { server } of pairs) server.end();
  for (const { client } of pairs) {
    const got = await received(client);
    t.is(got.length, size * rounds);
    for (let r = 0; r < rounds; r++) if (got[r * size] !== (r & 0xff) || got[r * size + size - 1] !== (r & 0xff)) return t.fail(`round ${r} out of place`);
  }
});

test('a raw write needs an empty queue; a refused one fails the socket with the errno Node would give', async (t) => {
  const writeMany = manyWriter();
  if (!writeMany) return t.pass('no native addon here');
  const { server, client } = await socketPair(t);
  t.true(rawWriteFd(server) >= 0);
  server.cork();
  server.write(Buffer.from('held'));
  t.is(rawWriteFd(server), -1, 'must not overtake what the Writable holds');
  server.uncork();
  await new Promise((r) => setImmediate(r));
  t.true(rawWriteFd(server) >= 0, 'usable again once the Writable is empty');
  // a descriptor that is no socket at all: -errno per entry, never a throw
  const results = new Int32Array(2);
  writeMany(Int32Array.of(-1, 0x7ffffff0), 2, Buffer.from('x'), results);
  t.true(results[0]! < 0 && results[1]! < 0);
  t.throws(() => writeMany([1] as unknown as Int32Array, 1, Buffer.from('x'), results), { message: /Int32Array/ });
  const failed = once(server, 'error');
  afterRawWrite(server, Buffer.from('x'), results[1]!);
  const [err] = (await failed) as [NodeJS.ErrnoException];
  t.is(err.code, 'EBADF');
  t.is(err.syscall, 'send');
  t.true(server.destroyed);
  client.destroy();
});
