/**
 * What a broken or hostile MMS peer gets from `mss serve`: malformed framing, wrong signatures and lengths, Data
 * packets from the player, oversized packets, messages out of order, garbage inside valid framing, floods of
 * pongs, a request that never completes, silence (keep-alive pings, then the idle timeout). Each ends with the
 * spec's error reply or a close, logged once; the server goes on serving.
 */
import test from '../helpers/test.js';
import { HRESULT, encodeTcpMessage } from '../../src/protocols/mmsp/codec.js';
import { encodeViewer, type ViewerMessage } from '../../src/protocols/mmsp/messages.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';
import { FFMPEG_SUBSCRIBER, RawMms } from '../protocols/mmsp/raw-client.js';
import { play } from '../protocols/mmsp/tools.js';
import path from 'node:path';

let srv: RunningServe;
let mmsPort: number;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  srv = await startServe({
    config: {
      mmsp: { headerTimeoutMs: 1000, keepAliveMs: 10_000, sessionIdleMs: 12_000, maxMessagesPerSecond: 50, maxMessageBytes: 4096 },
      server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: path.dirname(av20) }] },
    },
  });
  mmsPort = await srv.mmsPort();
});

test.after.always(async () => {
  await srv?.stop();
});

async function raw(t: { teardown(fn: () => void): void }): Promise<RawMms> {
  const c = await RawMms.connect(mmsPort);
  t.teardown(() => c.close());
  return c;
}

function packet(m: ViewerMessage): Buffer {
  const e = encodeViewer(m);
  return encodeTcpMessage(e.mid, e.fields, 0);
}

const CONNECT: ViewerMessage = { type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: FFMPEG_SUBSCRIBER, extras: [] };

/** sends bytes and expects the server to close the connection, with a rejection naming `why` logged */
async function closes(t: { teardown(fn: () => void): void }, bytes: Buffer, why: RegExp, after: ViewerMessage[] = []): Promise<void> {
  const c = await raw(t);
  for (const m of after) c.send(m);
  c.sendRaw(bytes);
  await c.closed;
  await srv.waitForLog((l) => l.event === 'mmsp.rejected' && why.test(String(l.reason)), 10_000);
}

test('garbage, wrong signatures, wrong lengths and Data packets from the player close the connection', async (t) => {
  const good = packet(CONNECT);
  const mutate = (f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };
  await closes(t, Buffer.from('GET / HTTP/1.0\r\n\r\n'), /not a TcpMessageHeader/);
  await closes(t, mutate((b) => b.write('XMS ', 12, 'latin1')), /seal/);
  await closes(t, mutate((b) => (b[1] = 7)), /rep\/version/);
  await closes(t, mutate((b) => b.writeUInt32LE(b.length - 24, 8)), /does not fit/);
  await closes(t, mutate((b) => b.writeUInt32LE(200, 32)), /chunkLen 200/);
  const big = Buffer.alloc(16);
  big.writeUInt32LE(1, 0);
  big.writeUInt32LE(0xb00bface, 4);
  big.writeUInt32LE(1_000_000, 8);
  await closes(t, big, /outside 40\.\.4096/);
  t.pass();
});

test('garbage inside valid framing: an unknown message, a token outside the message, a huge stream count', async (t) => {
  const unknown = encodeTcpMessage(0x00030077, Buffer.alloc(8), 1);
  await closes(t, unknown, /not a message a player sends/, [CONNECT]);
  const open = Buffer.from(packet({ type: 'OpenFile', playIncarnation: 1, spare: 0, fileName: 'vod/a.wmv', token: Buffer.from('x\0') }));
  open.writeUInt32LE(0x7fff0000, 48); // token offset far past the end
  await closes(t, open, /tokenData/, [CONNECT]);
  const sw = Buffer.from(packet({ type: 'StreamSwitch', entries: [{ source: 0xffff, destination: 1, thinning: 0 }] }));
  sw.writeUInt32LE(100_000, 40);
  await closes(t, sw, /entries, limit 128/, [CONNECT]);
  t.pass();
});

test('out of order: anything before Connect closes; later the reply carries NS_E_INVALID_REQUEST and the session goes on', async (t) => {
  await closes(t, packet({ type: 'OpenFile', playIncarnation: 1, spare: 0, fileName: 'vod/a.wmv', token: Buffer.alloc(0) }), /OpenFile before Connect/);
  const c = await raw(t);
  c.send(CONNECT);
  await c.message('ReportConnectedEX');
  c.send({ type: 'ReadBlock', openFileId: 1, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: 2, playSequence: 0 });
  t.is((await c.message('ReportReadBlock')).hr, HRESULT.invalidRequest);
  c.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0, playIncarnation: 4 });
  t.is((await c.message('ReportStartedPlaying')).hr, HRESULT.invalidRequest);
  c.send({ type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0, maxFunnelBytes: 0, maxBitRate: 0, funnelMode: 2, funnelName: '\\\\1.2.3.4\\SCTP\\9' });
  t.is((await c.message('ReportDisconnectedFunnel')).hr, HRESULT.badControlData);
  // the session still works: the rest of the exchange, then a wrong openFileId
  c.send({ type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0, maxFunnelBytes: 0, maxBitRate: 0, funnelMode: 2, funnelName: '\\\\1.2.3.4\\TCP\\9' });
  await c.message('ReportConnectedFunnel');
  c.send({ type: 'OpenFile', playIncarnation: 1, spare: 0, fileName: `vod/${FIXTURES.av20}`, token: Buffer.alloc(0) });
  t.is((await c.message('ReportOpenFile')).hr, 0);
  c.send({ type: 'ReadBlock', openFileId: 9, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: 2, playSequence: 0 });
  t.is((await c.message('ReportReadBlock')).hr, HRESULT.invalidRequest);
  // refusals pile up: the session is closed after sixteen
  for (let i = 0; i < 16; i++) c.send({ type: 'StartStriding', openFileId: 1, position: 0, asfOffset: 0, locationId: 0, frameOffset: 0, playIncarnation: 5, rate: 2 });
  await c.closed;
  t.true(c.received.some((r) => 'message' in r && r.message.type === 'ReportStartStriding' && r.message.hr === HRESULT.strideRefused));
});

test('a flood of pongs ends the session; so does a request that never completes', async (t) => {
  const c = await raw(t);
  c.send(CONNECT);
  await c.message('ReportConnectedEX');
  c.sendRaw(Buffer.concat(Array.from({ length: 500 }, () => packet({ type: 'Pong', param1: 0, param2: 0 }))));
  await c.closed;
  await srv.waitForLog((l) => l.event === 'mmsp.rejected' && /message flood/.test(String(l.reason)), 10_000);
  const slow = await raw(t);
  slow.sendRaw(packet(CONNECT).subarray(0, 20)); // half a packet, then nothing
  const started = Date.now();
  await slow.closed;
  t.true(Date.now() - started < 8000, 'closed soon after the request deadline');
  await srv.waitForLog((l) => l.event === 'mmsp.rejected' && /request not received in time/.test(String(l.reason)), 10_000);
});

test('a silent session gets keep-alive pings, then the idle timeout closes it', async (t) => {
  const c = await raw(t);
  await c.open(`vod/${FIXTURES.av20}`);
  await c.header(2);
  const ping = await c.message('Ping', 20_000);
  t.is(ping.param1, 0, 'FFmpeg reads u32@40 of every message as an HRESULT');
  await c.closed;
  await srv.waitForLog((l) => l.event === 'mmsp.closed' && /idle for 12 s/.test(String(l.reason)), 10_000);
});

test('meanwhile a good player is served as usual', async (t) => {
  const r = await play([await srv.mms(`/vod/${FIXTURES.av20}`), '--duration', '2', '--no-log', '--quiet']);
  t.is(r.code, 0, r.stderr);
  t.is(srv.child.exitCode, null);
});
