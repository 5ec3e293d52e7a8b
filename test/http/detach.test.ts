import test from '../helpers/test.js';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { detachFromHttpServer } from '../../src/http/detach.js';
import { retireResponse } from '../../src/protocols/wmsp/response.js';
import { rawSocket } from '../helpers/raw-socket.js';

/** an HTTP server whose /stream requests are answered raw and detached, like an HTTP/1.0 WMSP Play */
async function server(t: { teardown(fn: () => void): void }) {
  const detached: net.Socket[] = [];
  const bytesAfter: number[] = [];
  const srv = http.createServer((req, res) => {
    if (req.url !== '/stream') {
      res.end('plain');
      return;
    }
    const socket = req.socket;
    socket.write('HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n');
    res.once('finish', () => {
      if (detachFromHttpServer(socket, (d) => bytesAfter.push(d.length))) detached.push(socket);
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write('data ')), 20);
    });
    retireResponse(res);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return { port: (srv.address() as net.AddressInfo).port, detached, bytesAfter };
}

test('a detached stream connection leaves Node’s server: no parser, its bytes go to the stream, the server goes on', async (t) => {
  const s = await server(t);
  const c = rawSocket(s.port);
  c.sock.write('GET /stream HTTP/1.0\r\nHost: x\r\n\r\n');
  t.true(await c.until(() => s.detached.length === 1 && c.text.includes('data data')), 'streaming, detached');
  const socket = s.detached[0]!;
  t.is((socket as unknown as { parser: unknown }).parser, null, 'the parser is freed');
  t.is(socket.on, net.Socket.prototype.on, 'no wrapped listener methods left');
  // what the peer sends now is the stream's business, not a new request
  c.sock.write('GET /other HTTP/1.0\r\n\r\n');
  t.true(await c.until(() => s.bytesAfter.length > 0));
  t.false(c.text.includes('plain'), 'no response from Node inside the stream');
  // the server (and the freed parser, back in Node's pool) serves other connections as before
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`http://127.0.0.1:${s.port}/plain`);
    t.is(await res.text(), 'plain');
  }
  // the peer ends its side: the stream's socket ends too
  c.sock.end();
  t.true(await c.until(() => c.closed));
  t.true(await c.until(() => socket.destroyed));
});

test('detaching a socket that is not an HTTP server connection changes nothing', async (t) => {
  const srv = net.createServer((sock) => {
    t.false(detachFromHttpServer(sock, () => undefined));
    sock.end('bye');
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => srv.close());
  const c = rawSocket((srv.address() as net.AddressInfo).port);
  t.true(await c.until(() => c.closed));
  t.is(c.text, 'bye');
});
