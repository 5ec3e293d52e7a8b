/**
 * MS-WMHTTP receiver against bad and hostile input, on a real `mss serve`: clear status codes, nothing crashes,
 * and a point being pushed meanwhile keeps serving its players. Plus templates, AutoDestroy and authentication.
 */
import test from '../helpers/test.js';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { parseAsfStream } from '../../src/asf/index.js';
import { createLogger } from '../../src/core/log.js';
import { PushClient } from '../../src/protocols/wmhttp/client.js';
import { framePushData, framePushEnd, framePushHeader } from '../../src/protocols/wmhttp/codec.js';
import { openWmspStream } from '../../src/protocols/wmsp/client.js';
import { fixture, FIXTURES } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

interface RawResponse {
  status: number;
  head: string;
  body: string;
  closed: boolean;
}

/** Sends raw bytes and reads one response (head + Content-Length body), noting whether the server closed. */
function raw(port: number, request: Buffer | string, waitClose = 1500): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    let closed = false;
    const finish = () => {
      if (done) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      done = true;
      setTimeout(() => {
        sock.destroy();
        resolve({ status: Number(head.split(' ')[1]), head, body: buf.subarray(end + 4, end + 4 + len).toString(), closed });
      }, waitClose);
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      finish();
    });
    sock.on('close', () => {
      closed = true;
      if (!done) reject(new Error(`closed without a response: ${buf.toString('latin1').slice(0, 200)}`));
    });
    sock.on('error', () => undefined);
    sock.write(request);
  });
}

const UA = 'WMEncoder/12.0.0.0';

function setup(path: string, body = 'AutoDestroy: 0\r\n', extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nUser-Agent: ${UA}\r\nHost: x\r\nCookie: push-id=0\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function start(path: string, cookie: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nUser-Agent: ${UA}\r\nHost: x\r\nCookie: push-id=${cookie}\r\nContent-Length: 2147483647\r\n\r\n`), body]);
}

async function sample(): Promise<{ header: Buffer; packets: Buffer[] }> {
  const ev = parseAsfStream(readFileSync(await fixture(FIXTURES.stream20)));
  return {
    header: (ev.find((e) => e.type === 'header') as { headerBytes: Buffer }).headerBytes,
    packets: ev.filter((e) => e.type === 'packet').map((e) => (e as { packet: Buffer }).packet),
  };
}

let srv: RunningServe;

test.before(async () => {
  srv = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'good', type: 'broadcast', source: { type: 'push' } },
          { name: 'bad', type: 'broadcast', source: { type: 'push' } },
          { name: 'tpl', type: 'broadcast', source: { type: 'push' } },
          { name: 'secret', type: 'broadcast', source: { type: 'push' }, auth: { scheme: 'digest', realm: 'mss', users: [{ name: 'enc', password: 'pw' }] } },
          { name: 'vod', type: 'ondemand', path: '/tmp' },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
});

test.serial('malformed push requests get clear statuses while another push keeps serving players', async (t) => {
  const { header, packets } = await sample();
  // a healthy push into "good", watched by a player
  const good = new PushClient({ url: srv.http('/good'), log: createLogger('test.good') });
  good.setHeader(header);
  good.start();
  t.teardown(() => good.stop());
  let i = 0;
  const feeder = setInterval(() => good.pushPacket(packets[i++ % packets.length]!), 20);
  t.teardown(() => clearInterval(feeder));
  await new Promise<void>((r) => good.once('connected', () => r()));
  const player = openWmspStream(srv.mmsh('/good'));
  t.teardown(() => player.close());
  let got = 0;
  player.on('packet', () => got++);
  player.on('error', () => undefined);

  const port = srv.port;
  t.is((await raw(port, setup('/good', 'AutoDestroy: 1', '').replace(UA, 'Mozilla/5.0'))).status, 400, 'not an encoder');
  t.is((await raw(port, setup('/nowhere'))).status, 404, 'unknown point without template');
  t.is((await raw(port, setup('/bad', 'AutoDestroy: maybe'))).status, 400, 'bad directive');
  t.is((await raw(port, setup('/bad').replace('push-id=0', 'push-id=../../x'))).status, 400, 'bad cookie');
  t.is((await raw(port, setup('/bad').replace('push-id=0', 'push-id=unknown123'))).status, 404, 'unknown push-id');
  t.is((await raw(port, setup('/vod'))).status, 409, 'a point that does not take pushes');
  t.is((await raw(port, setup('/good'))).status, 409, 'a second pusher');

  // bodies: not ASF, data before header, a header whose size runs past its frame
  const notAsf = await raw(port, start('/bad', '0', Buffer.from('hello, this is not ASF at all')));
  t.is(notAsf.status, 400);
  t.regex(notAsf.body, /frame start 0x24/);
  t.true(notAsf.closed);
  const dataFirst = await raw(port, start('/bad', '0', framePushData(packets[0]!)));
  t.is(dataFirst.status, 400);
  t.regex(dataFirst.body, /must begin with \$H/);
  const lying = Buffer.from(header);
  lying.writeBigUInt64LE(BigInt(header.length + 5000), 16);
  const oversized = await raw(port, start('/bad', '0', framePushHeader(lying)));
  t.is(oversized.status, 413);
  const notHeader = await raw(port, start('/bad', '0', framePushHeader(Buffer.alloc(500, 0x41))));
  t.is(notHeader.status, 400);
  t.regex(notHeader.body, /not an ASF header/);

  // the healthy push kept serving throughout
  const before = got;
  await new Promise((r) => setTimeout(r, 1500));
  t.true(got > before, `player still receiving (${before} → ${got})`);
  t.true(good.connected);
  const status = await fetch(srv.http('/api/status'));
  t.is(status.status, 200);
});

test.serial('a template creates the point, AutoDestroy removes it when the push ends', async (t) => {
  const { header, packets } = await sample();
  const r = await raw(srv.port, setup('/fresh', 'Template-URL: "/tpl"\r\nAutoDestroy: 1\r\n'), 100);
  t.is(r.status, 204);
  t.regex(r.head, /Server: Cougar\//);
  const id = /push-id=([A-Za-z0-9]+)/.exec(r.head)![1]!;
  // stream on a new connection with the cookie, end with $E(0)
  const body = Buffer.concat([framePushHeader(header), ...packets.slice(0, 50).map(framePushData)]);
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((res) => sock.once('connect', res));
  sock.write(start('/fresh', id, body));
  await srv.waitForLog((l) => l.event === 'point.created' && l.point === 'fresh');
  const probeStatus = await fetch(srv.http('/api/status')).then((x) => x.json() as Promise<Record<string, unknown>>);
  t.regex(JSON.stringify(probeStatus), /fresh/);
  sock.write(framePushEnd(0));
  await srv.waitForLog((l) => l.event === 'point.removed' && l.point === 'fresh');
  sock.destroy();
  t.is((await raw(srv.port, setup('/fresh'))).status, 404, 'gone after AutoDestroy');
});

test.serial('an authenticated point: Digest credentials push, wrong ones are refused with 401', async (t) => {
  const { header } = await sample();
  const ok = new PushClient({ url: srv.http('/secret'), user: 'enc', password: 'pw', log: createLogger('test.auth') });
  ok.setHeader(header);
  const connected = new Promise<void>((r) => ok.once('connected', () => r()));
  ok.start();
  await connected;
  await ok.stop();
  const bad = new PushClient({ url: srv.http('/secret').replace('http://', 'http://enc:nope@'), log: createLogger('test.auth'), backoffInitialMs: 60_000 });
  bad.setHeader(header);
  const refused = new Promise<number>((r) => bad.once('refused', (s) => r(s)));
  bad.start();
  t.is(await refused, 401);
  await bad.stop();
  const challenge = await raw(srv.port, setup('/secret'), 100);
  t.is(challenge.status, 401);
  t.regex(challenge.head, /WWW-Authenticate: Digest/);
});
