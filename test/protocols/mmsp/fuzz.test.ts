/**
 * Seeded fuzzing of every MS-MMSP codec entry point (at least 100,000 inputs each): mutated valid inputs and random
 * bytes must give a value or an MssError, never another exception; whatever decodes must re-encode to something
 * that decodes to the same value.
 */
import test, { type ExecutionContext } from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { isMssError } from '../../../src/core/errors.js';
import {
  MmsStreamReader,
  buildMmsDataPacket,
  decodeResendRequest,
  decodeTcpMessage,
  encodeResendRequest,
  encodeTcpMessage,
  parseFunnelName,
  parseMmsDataPacket,
} from '../../../src/protocols/mmsp/codec.js';
import { decodeMac, decodeViewer, encodeMac, encodeViewer, type MacMessage, type ViewerMessage } from '../../../src/protocols/mmsp/messages.js';
import { buildClientLog, clientLogToRecord, parseClientLog } from '../../../src/protocols/mmsp/client-log.js';
import { formatW3cLine, parseW3cLine } from '../../../src/protocols/wmlog/codec.js';
import { seededRandom } from '../../helpers/prng.js';

const N = 100_000;
const SEED = Number(process.env.FUZZ_SEED ?? 0x6d6d7370);

const VIEWER_SEEDS: ViewerMessage[] = [
  { type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: 'NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: h', extras: ['VIA: p/1'] },
  { type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0x00989680, funnelMode: 2, funnelName: '\\\\192.168.0.1\\UDP\\7000' },
  { type: 'OpenFile', playIncarnation: 1, spare: 0xffffffff, fileName: 'vod/a.wmv', token: Buffer.from('YTpi\0', 'latin1') },
  { type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x00ffffff, playIncarnation: 4, accel: { bandwidth: 1, durationMs: 2, linkBandwidth: 3 } },
  { type: 'StartStriding', openFileId: 1, position: 3, asfOffset: 0, locationId: 0, frameOffset: 0, playIncarnation: 5, rate: 2 },
  { type: 'StopPlaying', openFileId: 1, playIncarnation: 4 },
  { type: 'CloseFile', playIncarnation: 1, openFileId: 1 },
  { type: 'ReadBlock', openFileId: 1, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: 2, playSequence: 0 },
  { type: 'FunnelInfo', playIncarnation: 0xf0f0f901 },
  { type: 'SecurityResponse', playIncarnation: 1, cookie: 2, token: Buffer.from('x\0') },
  { type: 'Pong', param1: 0, param2: 0 },
  { type: 'CancelReadBlock', playIncarnation: 2 },
  { type: 'StreamSwitch', entries: [{ source: 0xffff, destination: 1, thinning: 0 }, { source: 0xffff, destination: 2, thinning: 2 }] },
];

const MAC_SEEDS: MacMessage[] = [
  { type: 'ReportConnectedEX', hr: 0, playIncarnation: 0xf0f0f0ef, serverVersion: '9.1.1.3862', versionInfo: '', versionUrl: '', authenPackage: 'BASIC' },
  { type: 'ReportConnectedFunnel', hr: 0, playIncarnation: 0, funnelName: 'Funnel Of The Gods' },
  { type: 'ReportDisconnectedFunnel', hr: 0xc00d0012, playIncarnation: 0 },
  { type: 'ReportStartedPlaying', hr: 0, playIncarnation: 4, tigerFileId: 1 },
  { type: 'ReportOpenFile', hr: 0, playIncarnation: 1, openFileId: 1, fileAttributes: 0x01800000, fileDuration: 20, fileBlocks: 20, filePacketSize: 3200, filePacketCount: 100, fileBitRate: 1, fileHeaderSize: 5000 },
  { type: 'ReportReadBlock', hr: 0, playIncarnation: 2 },
  { type: 'ReportFunnelInfo', hr: 0, playIncarnation: 0xf0f0f0ef, clientId: 9, packetPair: Buffer.alloc(0) },
  { type: 'SecurityChallenge', playIncarnation: 1, cookie: 7, token: Buffer.from('realm=""\0', 'utf16le') },
  { type: 'Ping', param1: 0, param2: 0 },
  { type: 'ReportEndOfStream', hr: 1, playIncarnation: 4 },
  { type: 'ReportStreamChange', hr: 0, packetSize: 3200, headerSize: 5000, bitRate: 1 },
  { type: 'ReportStreamSwitch', hr: 0 },
  { type: 'ReportRedirect', hr: 0, redirectType: 1, location: 'mmst://h/a' },
];

const VIEWER_PACKETS = VIEWER_SEEDS.map((m, i) => {
  const e = encodeViewer(m);
  return encodeTcpMessage(e.mid, e.fields, i);
});
const MAC_PACKETS = MAC_SEEDS.map((m, i) => {
  const e = encodeMac(m);
  return encodeTcpMessage(e.mid, e.fields, i);
});

function mutate(src: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(src);
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 6)) {
      case 0: // flip a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rnd() * 256);
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 16) }, () => Math.floor(rnd() * 256))), b.subarray(at)]);
        break;
      case 3: // a large 32-bit value somewhere (lengths, counts, offsets)
        if (b.length >= 4) b.writeUInt32LE([0xffffffff, 0x80000000, 0x7fffffff, 0x10000, 0][Math.floor(rnd() * 5)]!, Math.min(at, b.length - 4) & ~3);
        break;
      case 4: // duplicate a span
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + Math.floor(rnd() * 64)), b.subarray(at)]);
        break;
      default: // small 16-bit value
        if (b.length >= 2) b.writeUInt16LE(Math.floor(rnd() * 64), Math.min(at, b.length - 2));
    }
  }
  return b;
}

function randomBytes(rnd: () => number, max: number): Buffer {
  return Buffer.from(Array.from({ length: Math.floor(rnd() * max) }, () => Math.floor(rnd() * 256)));
}

/** runs `fn` on N inputs; anything thrown must be an MssError */
function fuzz(t: ExecutionContext, name: string, input: (i: number, rnd: () => number) => Buffer, fn: (b: Buffer) => void): void {
  const rnd = seededRandom(SEED ^ name.length * 7919);
  let ok = 0;
  let rejected = 0;
  // rejections are the common case: skip capturing their stack traces (most of the cost of a throw)
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  t.teardown(() => (Error.stackTraceLimit = limit));
  for (let i = 0; i < N; i++) {
    const b = input(i, rnd);
    try {
      fn(b);
      ok++;
    } catch (err) {
      if (!isMssError(err)) {
        Error.stackTraceLimit = limit;
        t.fail(`${name} #${i}: ${String(err)} on ${b.toString('hex').slice(0, 400)}`);
        return;
      }
      rejected++;
    }
  }
  Error.stackTraceLimit = limit;
  t.true(ok > 0 && rejected > 0, `${name}: ${ok} accepted, ${rejected} rejected`);
}

test(`fuzz: decodeTcpMessage + decodeViewer on ${N} mutated player packets (seed ${SEED.toString(16)})`, (t) => {
  fuzz(t, 'viewer', (i, rnd) => (i % 20 === 0 ? randomBytes(rnd, 200) : mutate(VIEWER_PACKETS[i % VIEWER_PACKETS.length]!, rnd)), (b) => {
    for (const msg of decodeTcpMessage(b).messages) {
      const m = decodeViewer(msg);
      // what decodes re-encodes into a message that decodes the same
      const again = encodeViewer(m);
      if (!isDeepStrictEqual(decodeViewer(decodeTcpMessage(encodeTcpMessage(again.mid, again.fields, 0)).messages[0]!), m)) throw new Error(`${m.type} changed on re-encoding`);
    }
  });
});

test(`fuzz: decodeTcpMessage + decodeMac on ${N} mutated server packets`, (t) => {
  fuzz(t, 'mac', (i, rnd) => (i % 20 === 0 ? randomBytes(rnd, 200) : mutate(MAC_PACKETS[i % MAC_PACKETS.length]!, rnd)), (b) => {
    for (const msg of decodeTcpMessage(b).messages) decodeMac(msg);
  });
});

test(`fuzz: the stream reader on ${N} mutated, randomly split streams (both sides)`, (t) => {
  const data = [buildMmsDataPacket(Buffer.alloc(64, 1), 0, 2, 0x0c), buildMmsDataPacket(Buffer.alloc(200, 2), 5, 4, 1)];
  const all = [...VIEWER_PACKETS, ...MAC_PACKETS, ...data];
  fuzz(t, 'stream', (_i, rnd) => {
    const parts = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => all[Math.floor(rnd() * all.length)]!);
    return mutate(Buffer.concat(parts), rnd);
  }, (b) => {
    const reader = new MmsStreamReader({ acceptData: b.length % 2 === 0, maxControlPacket: 4096 });
    let pos = 0;
    let items = 0;
    while (pos < b.length) {
      const step = 1 + ((b[pos]! * 31 + pos) % 97);
      items += reader.push(b.subarray(pos, pos + step)).length;
      pos += step;
    }
    if (reader.buffered > 65_535 + 12) throw new Error(`reader holds ${reader.buffered} bytes`);
    void items;
  });
});

test(`fuzz: Data packets, resend requests and funnel names, ${N} inputs each`, (t) => {
  const dp = buildMmsDataPacket(Buffer.alloc(100, 9), 3, 4, 5);
  fuzz(t, 'data', (i, rnd) => (i % 10 === 0 ? randomBytes(rnd, 40) : mutate(dp, rnd)), (b) => {
    const p = parseMmsDataPacket(b);
    if (p.payload.length !== p.packetSize - 8) throw new Error('payload length differs from PacketSize');
  });
  const rr = encodeResendRequest({ clientId: 1, sourceId: 1, sequences: [1, 2, 3] });
  fuzz(t, 'resend', (i, rnd) => (i % 10 === 0 ? randomBytes(rnd, 40) : mutate(rr, rnd)), (b) => {
    const r = decodeResendRequest(b);
    if (!isDeepStrictEqual(decodeResendRequest(encodeResendRequest(r)), r)) throw new Error('resend request changed on re-encoding');
  });
  const names = ['\\\\192.168.0.129\\TCP\\1037', '\\\\10.0.0.1\\UDP\\7000', '\\\\fe80::1\\UDP\\1'];
  fuzz(t, 'funnel', (i, rnd) => mutate(Buffer.from(names[i % names.length]!, 'latin1'), rnd), (b) => {
    const f = parseFunnelName(b.toString('latin1'));
    if (!(f.port >= 1 && f.port <= 65535)) throw new Error(`port ${f.port}`);
  });
});

test(`fuzz: CLIENT_LOG parsing on ${N} mutated logs, each making a W3C line that parses`, (t) => {
  const log = buildClientLog({
    url: 'mms://h/vod/a.wmv', channelUrl: '', userAgent: 'NSPlayer/9.0', hostingWebPage: '', clientVersion: '9.0.0.1', lang: 'en', uniquePid: '{1}', hostExe: 'x', hostExeVersion: '1.0.0.0',
    fileDurationMs: 1, fileSize: 2, avgBandwidthBps: 3, audioCodec: 'a', videoCodec: 'v', startTimeMs: 0, playedMs: 1000, rate: 1, bufferingCount: 0, bufferingTimeMs: 0, bytesReceived: 10,
    packetsReceived: 1, packetsLostClient: 0, minReceptionQuality: 100, sourceId: 1, computerDns: '', os: 'L', osVersion: '1.0.0.0', cpu: 'c', proto: 'mms', transport: 'TCP',
    packetsLostNet: 0, packetsLostContNet: 0, resendRequests: 0, packetsRecoveredResent: 0, packetsResent: 0,
  });
  fuzz(t, 'client-log', (i, rnd) => {
    if (i % 50 === 0) return randomBytes(rnd, 1600);
    const b = Buffer.from(log);
    // scribble over the strings and numbers, sometimes the sizes
    for (let k = 0; k < 1 + Math.floor(rnd() * 30); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    return rnd() < 0.05 ? mutate(b, rnd) : b;
  }, (b) => {
    const record = clientLogToRecord(parseClientLog(b), { remoteAddress: '127.0.0.1', receivedAt: 0 });
    parseW3cLine(formatW3cLine(record, 47));
  });
});
