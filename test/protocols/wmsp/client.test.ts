/**
 * WMSP client against a small WMSP peer built in the test from the real codec (frameHeader/frameData/frameEnd)
 * and a real fixture file, on a loopback port: Describe + Play, seek and stream selection Pragmas, Digest
 * credentials, $C stream change, a connection cut mid-stream, and the Log POST.
 */
import test from '../../helpers/test.js';
import { promises as fs } from 'node:fs';
import { parseAsfFile } from '../../../src/asf/file.js';
import { pragmaUint } from '../../../src/protocols/wmsp/codec.js';
import { estimatedStreamBitrates, openWmspStream, selectStreamsForBitrate, type WmspStream } from '../../../src/protocols/wmsp/client.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';
import { startPeer } from '../../player/wmsp-peer.js';

function collect(stream: WmspStream): Promise<{ headers: number; packets: Buffer[]; changes: number; error?: Error }> {
  const out = { headers: 0, packets: [] as Buffer[], changes: 0, error: undefined as Error | undefined };
  return new Promise((resolve) => {
    stream.on('header', () => out.headers++);
    stream.on('packet', (p) => out.packets.push(p));
    stream.on('stream-change', () => out.changes++);
    stream.on('end', () => resolve(out));
    stream.on('error', (err) => {
      out.error = err;
      resolve(out);
    });
  });
}

test('Describe then Play delivers the header and every packet, byte for byte, then ends', async (t) => {
  const file = await fixture(FIXTURES.av20);
  const peer = await startPeer(t, file);
  const stream = openWmspStream(peer.url);
  const got = await collect(stream);
  const layout = parseAsfFile(await fs.readFile(file));
  t.is(got.error, undefined);
  t.is(got.headers, 1);
  t.is(got.packets.length, layout.packetCount);
  t.true(got.packets[10]!.equals(layout.packet(10)));
  t.deepEqual(peer.requests.map((r) => r.kind), ['Describe', 'Play']);
  const play = peer.requests[1]!;
  t.is(play.pragmas.get('client-id'), '4242');
  t.is(play.pragmas.get('stream-switch-count'), String(layout.header.streams.length));
  t.is(stream.stats.packetsLost, 0);
});

test('start position, packet resume and stream selection go into the Play Pragmas', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.mbr20));
  const s1 = openWmspStream(peer.url, { startMs: 12_500, streams: [1, 3] });
  await collect(s1);
  const play1 = peer.requests.find((r) => r.kind === 'Play')!;
  t.is(pragmaUint(play1.pragmas, 'stream-time'), 12_500);
  const entries = play1.pragmas.get('stream-switch-entry')!.split(' ');
  t.true(entries.includes('ffff:1:0') && entries.includes('ffff:3:0') && entries.includes('ffff:2:2'), entries.join(' '));
  peer.requests.length = 0;
  const s2 = openWmspStream(peer.url, { packetNumber: 40 });
  const got = await collect(s2);
  const play2 = peer.requests.find((r) => r.kind === 'Play')!;
  t.is(pragmaUint(play2.pragmas, 'packet-num'), 40);
  t.is(pragmaUint(play2.pragmas, 'stream-time'), 4294967295);
  t.true(got.packets.length > 0);
});

test('an unknown stream number is refused naming the streams the content has', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20));
  const got = await collect(openWmspStream(peer.url, { streams: [9] }));
  t.regex(got.error!.message, /stream 9 not in \/vod\/x.wmv; it has 1 \(/);
});

test('selectStreamsForBitrate keeps audio and the best video that fits', async (t) => {
  const layout = parseAsfFile(await fs.readFile(await fixture(FIXTURES.mbr20)));
  const rates = estimatedStreamBitrates(layout.header);
  const rate = (n: number) => rates.get(n)!;
  // the fixture's video streams carry no bit rate: the estimate must still rank 320x240 above 160x120
  const video = layout.header.streams.filter((s) => s.type === 'video').sort((a, b) => (a.width! * a.height!) - (b.width! * b.height!));
  const audio = layout.header.streams.find((s) => s.type === 'audio')!;
  t.true(rate(video[1]!.number) > rate(video[0]!.number));
  t.deepEqual(selectStreamsForBitrate(layout.header, rate(audio.number) + rate(video[0]!.number) + 1000), [audio.number, video[0]!.number].sort((a, b) => a - b));
  t.deepEqual(selectStreamsForBitrate(layout.header, 10_000_000), [audio.number, video[1]!.number].sort((a, b) => a - b));
});

test('Digest credentials from the URL answer the 401 challenge', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20), { digestUser: { name: 'ann', password: 's3cret' } });
  const url = peer.url.replace('mmsh://', 'mmsh://ann:s3cret@');
  const got = await collect(openWmspStream(url));
  t.is(got.error, undefined);
  t.true(got.packets.length > 100);
  const bad = await collect(openWmspStream(peer.url.replace('mmsh://', 'mmsh://ann:wrong@')));
  t.is((bad.error as { code?: string }).code, 'unauthorized');
});

test('$C then $H emits stream-change and the header again', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20), { changeAfter: 50 });
  const got = await collect(openWmspStream(peer.url));
  t.is(got.changes, 1);
  t.is(got.headers, 2);
  t.is(got.error, undefined);
});

test('a connection cut mid-stream is an error marked lostConnection', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20), { cutAfter: 30 });
  const stream = openWmspStream(peer.url);
  const got = await collect(stream);
  t.is((got.error as { code?: string }).code, 'unavailable');
  t.true((got.error as { detail?: Record<string, unknown> }).detail?.lostConnection === true);
  // the peer destroys its socket right after writing packet 30: the last writes may not leave it
  t.true(got.packets.length > 0 && got.packets.length <= 30);
  t.is(stream.stats.lastLocationId, got.packets.length - 1);
});

test('sendLog POSTs an x-wms-LogStats body with the session client-id', async (t) => {
  const peer = await startPeer(t, await fixture(FIXTURES.av20));
  const stream = openWmspStream(peer.url);
  await collect(stream);
  const status = await stream.sendLog('<XML><Summary></Summary><c-os>Linux</c-os></XML>');
  t.is(status, 204);
  const log = peer.requests.find((r) => r.kind === 'Log')!;
  t.is(log.pragmas.get('client-id'), '4242');
  t.regex(String(log.headers['content-type']), /^application\/x-wms-LogStats/);
  t.is(log.body.toString(), '<XML><Summary></Summary><c-os>Linux</c-os></XML>');
});

/** a server that answers every request with `answer` and records the Authorization headers it was sent */
async function recorder(t: { teardown(fn: () => Promise<void>): void }, answer: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) {
  const http = await import('node:http');
  const seen: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { seen, port: (server.address() as import('node:net').AddressInfo).port };
}

test('credentials go only to the origin they were given for: not to the host a redirect names', async (t) => {
  // the other origin asks for Basic credentials: a client that leaks them would answer
  const other = await recorder(t, (_req, res) => {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="elsewhere"', 'Content-Length': '0' });
    res.end();
  });
  const origin = await recorder(t, (req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="origin"', 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(302, { Location: `http://127.0.0.1:${other.port}/stolen`, 'Content-Length': '0' });
    res.end();
  });
  const stream = openWmspStream(`mmsh://alice:secret@127.0.0.1:${origin.port}/live`);
  const got = await collect(stream);
  t.is((got.error as { code?: string } | undefined)?.code, 'unauthorized');
  t.true(origin.seen.some((a) => a?.startsWith('Basic ')), 'the origin got the credentials');
  t.deepEqual(other.seen, [undefined], 'the redirect target got one request, without credentials, and its 401 was not answered');
});

test('a redirect within the same origin keeps the credentials', async (t) => {
  const origin = await recorder(t, (req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="origin"', 'Content-Length': '0' });
      res.end();
      return;
    }
    if (req.url?.startsWith('/first')) {
      res.writeHead(302, { Location: '/second', 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(404, { 'Content-Length': '0' });
    res.end();
  });
  const got = await collect(openWmspStream(`mmsh://alice:secret@127.0.0.1:${origin.port}/first`));
  t.is((got.error as { code?: string } | undefined)?.code, 'not-found', 'followed to /second with credentials');
  t.true(origin.seen.at(-1)?.startsWith('Basic '));
});
