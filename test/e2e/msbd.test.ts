/**
 * MS-MSBD between two `mss serve` processes: the downstream server's broadcast point pulls msbd://upstream/live
 * and ffprobe/ffmpeg play it over mmsh; a playlist's entry changes reach an MSBD client as new STREAMINFOs; the
 * pull survives the upstream going away and coming back. Refusals answer with an HRESULT and close: multicast
 * delivery, on-demand and login-only points, unknown points, garbage; a client that never answers a ping is
 * dropped.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseHeaderObject } from '../../src/asf/index.js';
import { encodeConnectRequest, HR, MsbdMessageReader, type MsbdMessage } from '../../src/protocols/msbd/codec.js';
import { openMsbdStream } from '../../src/protocols/msbd/client.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const execFileAsync = promisify(execFile);

let up: RunningServe;
let down: RunningServe;
let tmp: string;
let av20: string;
let msbdPort = 0;

async function msbdPortOf(srv: RunningServe): Promise<number> {
  return Number((await srv.waitForLog((l) => l.event === 'msbd.listening')).port);
}

function upstreamConfig(port: number) {
  return {
    msbd: { enabled: true, host: '127.0.0.1', port, pingIntervalMs: 1000, defaultPoint: 'live' },
    server: {
      publishingPoints: [
        { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
        { name: 'show', type: 'broadcast', source: { type: 'playlist', path: path.join(tmp, 'show.wsx') }, start: 'boot' },
        { name: 'locked', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, auth: { scheme: 'basic', users: [{ name: 'a', password: 'b' }] } },
        { name: 'vod', type: 'ondemand', path: path.dirname(av20) },
      ],
    },
  };
}

// serial: the last test restarts the upstream server
test.before(async () => {
  av20 = await fixture(FIXTURES.av20);
  tmp = await mkdtemp(path.join(tmpdir(), 'mss-e2e-msbd-'));
  const clip = (name: string, src: string) =>
    execFileAsync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', `${src}=size=160x120:rate=15:duration=2`, '-f', 'lavfi', '-i', 'sine=frequency=400:duration=2',
      '-c:v', 'wmv2', '-b:v', '100k', '-g', '15', '-c:a', 'wmav2', '-b:a', '32k', '-metadata', `title=${name}`, '-f', 'asf', path.join(tmp, name)]);
  await Promise.all([clip('a.wmv', 'testsrc'), clip('b.wmv', 'testsrc2')]);
  await writeFile(path.join(tmp, 'show.wsx'), '<?wsx version="1.0"?>\n<smil>\n  <seq repeatCount="indefinite">\n    <media src="a.wmv"/>\n    <media src="b.wmv"/>\n  </seq>\n</smil>\n');
  up = await startServe({ config: upstreamConfig(0) });
  msbdPort = await msbdPortOf(up);
  down = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'relay', type: 'broadcast', source: { type: 'pull', url: `msbd://127.0.0.1:${msbdPort}/live` }, start: 'boot' },
          { name: 'netshow', type: 'broadcast', source: { type: 'pull', url: `msbd://127.0.0.1:${msbdPort}` }, start: 'demand' },
        ],
      },
    },
  });
});

test.after.always(async () => {
  await down?.stop();
  await up?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** a raw MSBD client: sends `request`, collects messages until the server closes (or `until` says so) */
function rawSession(request: Buffer, opts: { until?: (m: MsbdMessage[]) => boolean; answerPings?: boolean; timeoutMs?: number } = {}): Promise<{ messages: MsbdMessage[]; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(msbdPort, '127.0.0.1');
    const reader = new MsbdMessageReader();
    const messages: MsbdMessage[] = [];
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ messages, closedByServer });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 20_000);
    s.on('connect', () => s.write(request));
    s.on('data', (c: Buffer) => {
      try {
        messages.push(...reader.push(c));
      } catch (err) {
        reject(err);
      }
      if (opts.until?.(messages)) finish(false);
    });
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
  });
}

test.serial('a downstream server pulls a point over MSBD and ffprobe and ffmpeg play it over mmsh', async (t) => {
  await down.waitForLog((l) => l.event === 'point.started' && l.point === 'relay');
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', down.mmsh('/relay')], { timeout: 60_000 });
  t.deepEqual(stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  const { stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', down.mmsh('/relay'), '-t', '3', '-f', 'null', '-'], { timeout: 60_000 });
  t.is(stderr.trim(), '');
  const started = await up.waitForLog((l) => l.event === 'msbd.session-started' && l.point === 'live');
  t.is(started.channel, 'live');
});

test.serial('the channel "NetShow" gets msbd.defaultPoint', async (t) => {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', down.mmsh('/netshow')], { timeout: 60_000 });
  t.deepEqual(stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  t.truthy(await up.waitForLog((l) => l.event === 'msbd.session-started' && l.channel === 'NetShow' && l.point === 'live'));
});

test.serial('the connect answer is RES_CONNECT (hr 0, no address) then the STREAMINFO with the ASF header, then packets of its stream', async (t) => {
  const { messages } = await rawSession(encodeConnectRequest('live'), { until: (m) => m.filter((x) => x.type === 'IND_PACKET').length >= 5 });
  t.like(messages[0], { type: 'RES_CONNECT', hr: 0, flags: 0, family: 0, port: 0, address: '0.0.0.0' });
  const info = messages[1]!.type === 'IND_STREAMINFO' ? messages[1]!.info! : null;
  t.truthy(info);
  const header = parseHeaderObject(info!.header);
  t.is(info!.header.length, header.raw.length + 50);
  t.is(info!.packetSize, header.fileProperties.packetSize);
  t.is(info!.durationMs, 0xffffffff);
  for (const m of messages.slice(2)) {
    t.is(m.type, 'IND_PACKET');
    if (m.type === 'IND_PACKET') {
      t.is(m.streamId, info!.streamId);
      t.is(m.payload.length, info!.packetSize); // padding kept
    }
  }
});

test.serial('a playlist entry change reaches an MSBD client as a new STREAMINFO with another wStreamId', async (t) => {
  const stream = openMsbdStream(`msbd://127.0.0.1:${msbdPort}/show`);
  const headers: Buffer[] = [];
  let packets = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${headers.length} headers in 20 s`)), 20_000);
    stream.on('header', (h) => {
      headers.push(h);
      if (headers.length >= 3) {
        clearTimeout(timer);
        resolve();
      }
    });
    stream.on('packet', () => packets++);
    stream.on('error', (e) => reject(e));
  });
  stream.close();
  t.true(packets > 0);
  t.is(stream.stats.streams, 3);
  t.is(stream.stats.foreignPackets, 0);
  for (const h of headers) t.notThrows(() => parseHeaderObject(h));
});

test.serial('refusals: multicast delivery, on-demand, login-only and unknown points each get an HRESULT, then the server closes', async (t) => {
  const cases: Array<[Buffer, number]> = [
    [encodeConnectRequest('live', 2), HR.MULTICAST_REFUSED],
    [encodeConnectRequest('vod'), HR.NOT_FOUND], // an on-demand point names files, not one stream
    [encodeConnectRequest('locked'), HR.ACCESS_DENIED],
    [encodeConnectRequest('nope'), HR.NOT_FOUND],
    [encodeConnectRequest('../etc'), HR.INVALID_ARGUMENT],
  ];
  for (const [req, hr] of cases) {
    const r = await rawSession(req);
    t.true(r.closedByServer);
    t.is(r.messages.length, 1);
    t.like(r.messages[0], { type: 'RES_CONNECT', hr });
  }
  const garbage = await rawSession(Buffer.from('GET /live HTTP/1.0\r\n\r\n'));
  t.true(garbage.closedByServer);
  t.is(garbage.messages.length, 0);
  t.truthy(up.logs.find((l) => l.event === 'msbd.rejected' && /signature/.test(String(l.reason))));
});

test.serial('a client that never answers a ping is dropped; one that answers stays', async (t) => {
  const silent = await rawSession(encodeConnectRequest('live'), { timeoutMs: 30_000 });
  t.true(silent.closedByServer);
  t.truthy(silent.messages.find((m) => m.type === 'REQ_PING'));
  t.truthy(up.logs.find((l) => l.event === 'msbd.rejected' && /no MSB_MSG_RES_PING within 1000 ms/.test(String(l.reason))));
  const pinged = openMsbdStream(`msbd://127.0.0.1:${msbdPort}/live`);
  await new Promise<void>((resolve, reject) => {
    pinged.on('error', reject);
    const check = setInterval(() => {
      if (pinged.stats.pings >= 3) {
        clearInterval(check);
        resolve();
      }
    }, 100);
  });
  pinged.close();
  t.true(pinged.stats.packets > 0);
});

test.serial('the pull reconnects when the upstream goes away and comes back', async (t) => {
  const port = msbdPort;
  await down.waitForLog((l) => l.event === 'point.started' && l.point === 'relay');
  await up.stop();
  await down.waitForLog((l) => l.event === 'pull.reconnecting' && l.point === 'relay');
  up = await startServe({ config: upstreamConfig(port) });
  msbdPort = await msbdPortOf(up);
  t.is(msbdPort, port);
  await up.waitForLog((l) => l.event === 'msbd.session-started' && l.point === 'live', 30_000);
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', down.mmsh('/relay')], { timeout: 60_000 });
  t.deepEqual(stdout.trim().split('\n').sort(), ['wmav2', 'wmv2']);
});
