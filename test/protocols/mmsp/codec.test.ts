/**
 * MS-MMSP codec: the TcpMessageHeader framing against FFmpeg's real first message (shared/traces/ffmpeg-mmst.txt),
 * every message both ways, the stream reader on split input, Data packets, resend requests, funnel names and the
 * CLIENT_LOG structure.
 */
import test from '../../helpers/test.js';
import { isMssError } from '../../../src/core/errors.js';
import {
  AF_HEADER_LAST,
  AF_HEADER_MORE,
  AF_HEADER_WHOLE,
  MmsStreamReader,
  buildMmsDataPacket,
  decodeResendRequest,
  decodeTcpMessage,
  encodeResendRequest,
  encodeTcpMessage,
  formatFunnelName,
  frameHeaderPackets,
  parseFunnelName,
  parseMmsDataPacket,
} from '../../../src/protocols/mmsp/codec.js';
import { POSITION_UNSET, decodeMac, decodeViewer, encodeMac, encodeViewer, type MacMessage, type ViewerMessage } from '../../../src/protocols/mmsp/messages.js';
import { CLIENT_LOG_BYTES, buildClientLog, clientLogToRecord, parseClientLog, type ClientLog } from '../../../src/protocols/mmsp/client-log.js';
import { formatW3cLine, parseW3cLine } from '../../../src/protocols/wmlog/codec.js';

/** FFmpeg 5.1's LinkViewerToMacConnect, byte for byte from shared/traces/ffmpeg-mmst.txt */
const FFMPEG_CONNECT = Buffer.from(
  '01000000cefa0bb0c00000004d4d5320180000000000000000000000000000001600000001000300000000000b0004001c0003004e00530050006c0061007900' +
    '650072002f0037002e0030002e0030002e0031003900350036003b0020007b00370045003600360037004600350044002d0041003600360031002d0034003900' +
    '350045002d0041003500310032002d004600350035003600380036004400440041003100370038007d003b00200048006f00730074003a002000310032003700' +
    '2e0030002e0030002e00310000000000',
  'hex',
);
const FFMPEG_NAME = 'NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: 127.0.0.1';

function packetOf(m: ViewerMessage | MacMessage, seq = 0): Buffer {
  const e = 'subscriberName' in m || ['ConnectFunnel', 'OpenFile', 'StartPlaying', 'StartStriding', 'StopPlaying', 'CloseFile', 'ReadBlock', 'FunnelInfo', 'SecurityResponse', 'Pong', 'CancelReadBlock', 'Logging', 'StreamSwitch'].includes(m.type)
    ? encodeViewer(m as ViewerMessage)
    : encodeMac(m as MacMessage);
  return encodeTcpMessage(e.mid, e.fields, seq);
}

test('the Connect message encodes to exactly the bytes FFmpeg sends, and decodes back', (t) => {
  t.is(FFMPEG_CONNECT.length, 208);
  const m: ViewerMessage = { type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: FFMPEG_NAME, extras: [] };
  t.deepEqual(packetOf(m), FFMPEG_CONNECT);
  const p = decodeTcpMessage(FFMPEG_CONNECT);
  t.is(p.seq, 0);
  t.is(p.messages.length, 1);
  t.is(p.messages[0]!.mid, 0x00030001);
  t.deepEqual(decodeViewer(p.messages[0]!), m);
});

test('every player message survives encode → TcpMessageHeader → decode', (t) => {
  const msgs: ViewerMessage[] = [
    { type: 'Connect', playIncarnation: 0xf0f0f0f0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: 'NSPlayer/9.0.0.2980; {3300AD50-2C39-46C0-AE0A-C4D98694D7B4}; Host: stb', extras: ['HOST: stb:1755', 'VIA: proxy/1.0'] },
    { type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0x00989680, funnelMode: 2, funnelName: '\\\\192.168.0.129\\TCP\\1037' },
    { type: 'OpenFile', playIncarnation: 1, spare: 0xffffffff, fileName: 'vod/clip é.wmv', token: Buffer.alloc(0) },
    { type: 'OpenFile', playIncarnation: 9, spare: 0, fileName: 'locked/a.wmv', token: Buffer.from('YW5uOnMzY3JldA==\0', 'latin1') },
    { type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x00ffffff, playIncarnation: 4 },
    { type: 'StartPlaying', openFileId: 1, position: POSITION_UNSET, asfOffset: 0, locationId: 120, frameOffset: 0x80001388, playIncarnation: 10, accel: { bandwidth: 5_000_000, durationMs: 10_000, linkBandwidth: 2_000_000 } },
    { type: 'StartStriding', openFileId: 1, position: 12.5, asfOffset: 0, locationId: 0, frameOffset: 0, playIncarnation: 11, rate: -5 },
    { type: 'StopPlaying', openFileId: 1, playIncarnation: 0x001fffff },
    { type: 'CloseFile', playIncarnation: 1, openFileId: 1 },
    { type: 'ReadBlock', openFileId: 1, fileBlockId: 0, offset: 0, length: 0x00800000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: 2, playSequence: 0 },
    { type: 'FunnelInfo', playIncarnation: 0x00f0f0f0 },
    { type: 'SecurityResponse', playIncarnation: 9, cookie: 0xdeadbeef, token: Buffer.from('dXNlcjpwdw==\0', 'latin1') },
    { type: 'Pong', param1: 1, param2: 0x0100ffff },
    { type: 'CancelReadBlock', playIncarnation: 2 },
    { type: 'Logging', log: Buffer.alloc(1496, 7) },
    { type: 'StreamSwitch', entries: [{ source: 0xffff, destination: 1, thinning: 0 }, { source: 0xffff, destination: 2, thinning: 2 }] },
  ];
  msgs.forEach((m, i) => {
    const p = decodeTcpMessage(packetOf(m, i));
    t.is(p.seq, i);
    t.deepEqual(decodeViewer(p.messages[0]!), m, m.type);
  });
});

test('every server message survives encode → TcpMessageHeader → decode', (t) => {
  const msgs: MacMessage[] = [
    { type: 'ReportConnectedEX', hr: 0, playIncarnation: 0xf0f0f0ef, serverVersion: '9.1.1.3862', versionInfo: '', versionUrl: '', authenPackage: 'BASIC' },
    { type: 'ReportConnectedFunnel', hr: 0, playIncarnation: 0, funnelName: 'Funnel Of The Gods' },
    { type: 'ReportDisconnectedFunnel', hr: 0xc00d0012, playIncarnation: 0 },
    { type: 'ReportStartedPlaying', hr: 0, playIncarnation: 4, tigerFileId: 1 },
    { type: 'ReportOpenFile', hr: 0, playIncarnation: 1, openFileId: 1, fileAttributes: 0x01800000, fileDuration: 20.5, fileBlocks: 21, filePacketSize: 3200, filePacketCount: 987, fileBitRate: 364000, fileHeaderSize: 5171 },
    { type: 'ReportStartStriding', hr: 0, playIncarnation: 11 },
    { type: 'ReportReadBlock', hr: 0, playIncarnation: 2 },
    { type: 'ReportFunnelInfo', hr: 0, playIncarnation: 0xf0f0f0f1, clientId: 0x12345678, packetPair: Buffer.alloc(432, 0xaa) },
    { type: 'SecurityChallenge', playIncarnation: 1, cookie: 7, token: Buffer.from('realm="mss"\0', 'utf16le') },
    { type: 'Ping', param1: 0, param2: 0 },
    { type: 'ReportEndOfStream', hr: 1, playIncarnation: 4 },
    { type: 'ReportStreamChange', hr: 0, packetSize: 3200, headerSize: 5000, bitRate: 400000 },
    { type: 'ReportStreamSwitch', hr: 0 },
    { type: 'ReportRedirect', hr: 0, redirectType: 1, location: 'mmst://other:1755/vod/a.wmv' },
  ];
  for (const m of msgs) t.deepEqual(decodeMac(decodeTcpMessage(packetOf(m)).messages[0]!), m, m.type);
});

test('ReportConnectedEX and ReportOpenFile put their fields where VLC and FFmpeg read them', (t) => {
  const ex = packetOf({ type: 'ReportConnectedEX', hr: 0, playIncarnation: 0xf0f0f0ef, serverVersion: '9.1.1.3862', versionInfo: '', versionUrl: '', authenPackage: '' });
  t.is(ex.readUInt32LE(40), 0);
  t.is(ex.readUInt32LE(80), 11, 'cbServerVersionInfo counts characters including the NUL');
  t.is(ex.subarray(96, 96 + 20).toString('utf16le'), '9.1.1.3862');
  const of = packetOf({ type: 'ReportOpenFile', hr: 0, playIncarnation: 1, openFileId: 1, fileAttributes: 0x06000000, fileDuration: 0, fileBlocks: 0, filePacketSize: 3200, filePacketCount: 0, fileBitRate: 364000, fileHeaderSize: 5171 });
  t.true(of.length >= 48 + 64);
  t.is(of.readUInt32LE(48), 1, 'openFileId (VLC reads it as the status)');
  t.is(of.readUInt32LE(60), 0x06000000);
  t.is(of.readUInt32LE(92), 3200);
  t.is(of.readUInt32LE(104), 364000);
  t.is(of.readUInt32LE(108), 5171);
  // FFmpeg treats u32@40 of every server message as an HRESULT: a Ping must keep it 0
  t.is(packetOf({ type: 'Ping', param1: 0, param2: 0 }).readUInt32LE(40), 0);
});

test('a refusal that stops after hr decodes with the rest zero', (t) => {
  const refusal = encodeTcpMessage(0x00040006, Buffer.from([0x1a, 0x00, 0x0d, 0xc0]), 3);
  const m = decodeMac(decodeTcpMessage(refusal).messages[0]!);
  t.is(m.type, 'ReportOpenFile');
  t.is((m as { hr: number }).hr, 0xc00d001a);
});

test('several messages in one TcpMessageHeader are all returned', (t) => {
  const a = encodeViewer({ type: 'Pong', param1: 0, param2: 0 });
  const b = encodeViewer({ type: 'FunnelInfo', playIncarnation: 0xf0f0f0ef });
  const one = encodeTcpMessage(a.mid, a.fields, 0);
  const two = encodeTcpMessage(b.mid, b.fields, 0);
  const joined = Buffer.concat([one.subarray(0, 32), one.subarray(32), two.subarray(32)]);
  joined.writeUInt32LE(joined.length - 16, 8);
  const p = decodeTcpMessage(joined);
  t.deepEqual(p.messages.map((m) => m.command), [0x1b, 0x18]);
});

test('control packets with a wrong signature, version, length or chunkLen are refused with MssError', (t) => {
  const good = packetOf({ type: 'FunnelInfo', playIncarnation: 0 });
  const bad = (mutate: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    mutate(b);
    return b;
  };
  const cases: Array<[string, Buffer, RegExp]> = [
    ['seal', bad((b) => b.write('MMX ', 12, 'latin1')), /seal/],
    ['sessionId', bad((b) => b.writeUInt32LE(0xb00bfacf, 4)), /sessionId/],
    ['rep', bad((b) => (b[0] = 2)), /rep\/version/],
    ['messageLength', bad((b) => b.writeUInt32LE(good.length, 8)), /messageLength/],
    ['chunkLen 0', bad((b) => b.writeUInt32LE(0, 32)), /chunkLen 0/],
    ['chunkLen past end', bad((b) => b.writeUInt32LE(100, 32)), /does not fit/],
    ['short', good.subarray(0, 36), /at least 40/],
  ];
  for (const [name, buf, re] of cases) {
    const err = t.throws(() => decodeTcpMessage(buf), undefined, name);
    t.true(isMssError(err), name);
    t.regex(err!.message, re, name);
  }
});

test('the stream reader reassembles control and Data packets split at every byte', (t) => {
  const c1 = packetOf({ type: 'ReportReadBlock', hr: 0, playIncarnation: 2 });
  const d1 = buildMmsDataPacket(Buffer.alloc(300, 1), 0, 2, AF_HEADER_WHOLE);
  const c2 = packetOf({ type: 'Ping', param1: 0, param2: 0 }, 1);
  const d2 = buildMmsDataPacket(Buffer.alloc(3200, 2), 17, 4, 5);
  const stream = Buffer.concat([c1, d1, c2, d2]);
  const reader = new MmsStreamReader({ acceptData: true });
  const items = [];
  for (let i = 0; i < stream.length; i++) items.push(...reader.push(stream.subarray(i, i + 1)));
  t.deepEqual(items.map((x) => x.kind), ['control', 'data', 'control', 'data']);
  const last = items[3]!;
  t.true(last.kind === 'data' && last.data.locationId === 17 && last.data.incarnation === 4 && last.data.afFlags === 5 && last.data.payload.length === 3200);
  t.is(reader.buffered, 0);
});

test('a server-side reader refuses Data packets and oversized control packets', (t) => {
  const server = new MmsStreamReader({ acceptData: false, maxControlPacket: 4096 });
  t.throws(() => server.push(buildMmsDataPacket(Buffer.alloc(20), 0, 2, 0)), { message: /not a TcpMessageHeader/ });
  const big = Buffer.alloc(12);
  big.writeUInt32LE(1, 0);
  big.writeUInt32LE(0xb00bface, 4);
  big.writeUInt32LE(1_000_000, 8);
  t.throws(() => new MmsStreamReader({ acceptData: false, maxControlPacket: 4096 }).push(big), { message: /outside 40\.\.4096/ });
});

test('header Data packets: 0x0C when whole, 0x04 … 0x08 when split, LocationId counting pieces', (t) => {
  const header = Buffer.alloc(7000, 3);
  t.deepEqual(frameHeaderPackets(header, 2, 8000).map((p) => parseMmsDataPacket(p).afFlags), [AF_HEADER_WHOLE]);
  const split = frameHeaderPackets(header, 2, 3200).map(parseMmsDataPacket);
  t.deepEqual(split.map((p) => p.afFlags), [AF_HEADER_MORE, AF_HEADER_MORE, AF_HEADER_LAST]);
  t.deepEqual(split.map((p) => p.locationId), [0, 1, 2]);
  t.true(split.every((p) => p.incarnation === 2 && p.payload.length <= 3200));
  t.deepEqual(Buffer.concat(split.map((p) => p.payload)), header);
});

test('RequestPacketListResend round-trips and its bounds hold', (t) => {
  const r = { clientId: 0xcafebabe, sourceId: 1, sequences: [5, 6, 260] };
  t.deepEqual(decodeResendRequest(encodeResendRequest(r)), r);
  t.throws(() => encodeResendRequest({ ...r, sequences: [] }));
  const bad = encodeResendRequest(r);
  bad.writeUInt16LE(33, 10);
  t.throws(() => decodeResendRequest(bad), { message: /wNumPackets 33/ });
  const sig = encodeResendRequest(r);
  sig[0] = 0;
  t.throws(() => decodeResendRequest(sig), { message: /signature/ });
});

test('funnel names from FFmpeg, VLC and WMP parse; malformed ones do not', (t) => {
  t.deepEqual(parseFunnelName('\\\\192.168.0.129\\TCP\\1037'), { address: '192.168.0.129', transport: 'TCP', port: 1037 });
  t.deepEqual(parseFunnelName('\\\\10.0.0.7\\udp\\7000'), { address: '10.0.0.7', transport: 'UDP', port: 7000 });
  t.deepEqual(parseFunnelName('\\\\fe80::1\\UDP\\7000'), { address: 'fe80::1', transport: 'UDP', port: 7000 });
  t.is(formatFunnelName({ address: '127.0.0.1', transport: 'UDP', port: 40000 }), '\\\\127.0.0.1\\UDP\\40000');
  for (const bad of ['', '\\\\1.2.3.4\\SCTP\\1', '\\\\1.2.3.4\\UDP\\0', '\\\\1.2.3.4\\UDP\\70000', '//1.2.3.4/UDP/7000']) t.throws(() => parseFunnelName(bad), undefined, bad);
});

const LOG: ClientLog = {
  url: 'mms://127.0.0.1/vod/a.wmv', channelUrl: '', userAgent: 'NSPlayer/9.0.0.2980 mss-play/0.1', hostingWebPage: '', clientVersion: '9.0.0.2980', lang: 'en-US',
  uniquePid: '{3300AD50-2C39-46c0-AE0A-0123456789AB}', hostExe: 'mss', hostExeVersion: '0.1.0.0', fileDurationMs: 20_000, fileSize: 1_000_000, avgBandwidthBps: 364_000,
  audioCodec: 'WMAv2', videoCodec: 'WMV2', startTimeMs: 0, playedMs: 20_000, rate: 1, bufferingCount: 1, bufferingTimeMs: 1500, bytesReceived: 900_000, packetsReceived: 300,
  packetsLostClient: 2, minReceptionQuality: 99, sourceId: 1, computerDns: '', os: 'Linux', osVersion: '6.1.0.0', cpu: 'arm64', proto: 'mms', transport: 'UDP',
  packetsLostNet: 2, packetsLostContNet: 1, resendRequests: 2, packetsRecoveredResent: 2, packetsResent: 2,
};

test('CLIENT_LOG is 1,490 packed bytes that parse back, and makes a W3C line the log store accepts', (t) => {
  const bytes = buildClientLog(LOG);
  t.is(bytes.length, CLIENT_LOG_BYTES);
  t.deepEqual(parseClientLog(bytes), LOG);
  const record = clientLogToRecord(LOG, { remoteAddress: '192.0.2.9', receivedAt: Date.UTC(2024, 2, 1, 10, 20, 30) });
  const line = formatW3cLine(record, 47);
  const back = parseW3cLine(line);
  t.is(back.form, 47);
  t.is(back.record['c-ip'], '192.0.2.9');
  t.is(back.record.protocol, 'mms');
  t.is(back.record.transport, 'UDP');
  t.is(back.record['c-resendreqs'], '2');
  t.is(back.record['x-duration'], '20');
  t.throws(() => parseClientLog(bytes.subarray(0, 1000)), { message: /1000 bytes/ });
});
