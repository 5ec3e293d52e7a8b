import test from '../helpers/test.js';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { pendingBytes, writeDirect, writeDirectv } from '../../src/net/direct-write.js';

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
