/**
 * The MMS (MS-MMSP) protocol clients of the player: `mmsu://` (UDP data) and `mmst://` (TCP data), the first two
 * steps of an `mms://` rollover. The protocol's MmsStream sits behind PlaySession; the player's MS-WMLOG record is
 * sent as the CLIENT_LOG structure MMS carries in LinkViewerToMacLogging.
 */
import { arch, release, type } from 'node:os';
import { MssError } from '../core/errors.js';
import { openMmsStream, type MmsStream } from '../protocols/mmsp/client.js';
import { buildClientLog, type ClientLog } from '../protocols/mmsp/client-log.js';
import type { MmsDescribeInfo } from '../protocols/mmsp/client-types.js';
import { parseXmlLog, type WmlogRecord } from '../protocols/wmlog/codec.js';
import type { PlayOpenOptions, PlaySession, ProtocolClient } from './protocol-client.js';
import { StreamPlaySession } from './stream-session.js';

/**
 * The player's log, as CLIENT_LOG on the control connection. MMS does not answer a log: the status is 0
 * ("sent, no acknowledgement in this protocol").
 */
async function sendMmsLog(stream: MmsStream, xml: string): Promise<number> {
  const info = stream.info;
  if (!info) throw new MssError('invalid-argument', 'no MMS session to log: the file was never opened');
  const record = parseXmlLog(xml).record;
  await stream.sendLogging(buildClientLog(clientLogOf(record, stream, info.openFile.openFileId)));
  return 0;
}

function num(v: string | undefined): number {
  const n = Number(v);
  return v === undefined || v === '-' || !Number.isFinite(n) ? 0 : n;
}

function text(v: string | undefined): string {
  return v === undefined || v === '-' ? '' : v;
}

/** The CLIENT_LOG of a play: the record's fields, and the UDP counters only the MMS stream knows. */
export function clientLogOf(r: WmlogRecord, stream: MmsStream, openFileId: number): ClientLog {
  const s = stream.stats;
  return {
    url: text(r['cs-url']) || stream.info?.url.href || '',
    channelUrl: text(r['c-channelURL']),
    userAgent: text(r['cs-User-Agent']),
    hostingWebPage: text(r['cs-Referer']),
    clientVersion: text(r['c-playerversion']),
    lang: text(r['c-playerlanguage']),
    uniquePid: text(r['c-playerid']),
    hostExe: text(r['c-hostexe']),
    hostExeVersion: text(r['c-hostexever']),
    fileDurationMs: num(r.filelength) * 1000,
    fileSize: num(r.filesize),
    avgBandwidthBps: num(r.avgbandwidth),
    audioCodec: text(r.audiocodec),
    videoCodec: text(r.videocodec),
    startTimeMs: num(r['c-starttime']) * 1000,
    playedMs: num(r['x-duration']) * 1000,
    rate: num(r['c-rate']) || 1,
    bufferingCount: num(r['c-buffercount']),
    bufferingTimeMs: num(r['c-totalbuffertime']) * 1000,
    bytesReceived: num(r['c-bytes']),
    packetsReceived: num(r['c-pkts-received']),
    packetsLostClient: num(r['c-pkts-lost-client']),
    minReceptionQuality: num(r['c-quality']),
    sourceId: openFileId,
    computerDns: '',
    os: text(r['c-os']) || type(),
    osVersion: text(r['c-osversion']) || release(),
    cpu: text(r['c-cpu']) || arch(),
    proto: 'mms',
    transport: stream.transport.toUpperCase(),
    packetsLostNet: s.packetsLost,
    packetsLostContNet: s.longestLossRun,
    resendRequests: s.resendRequests,
    packetsRecoveredResent: s.packetsRecovered,
    packetsResent: s.packetsRecovered,
  };
}

function mmsClient(name: 'mmsu' | 'mmst'): ProtocolClient {
  return {
    name,
    schemes: [`${name}:`],
    rolloverUrl(url: URL): URL {
      // the mms:// URL's host, port and path over this transport
      const out = new URL(`${name}://${url.host}${url.pathname}${url.search}`);
      out.username = url.username;
      out.password = url.password;
      return out;
    },
    open(url: URL, opts: PlayOpenOptions): PlaySession {
      const stream = openMmsStream(url, {
          startMs: opts.startMs,
          packetNumber: opts.packetNumber,
          streams: opts.streams,
          maxBitrate: opts.maxBitrate,
          credentials: opts.credentials,
          userAgent: opts.userAgent,
          clientGuid: opts.clientGuid,
          timeoutMs: opts.timeoutMs,
          transport: name === 'mmsu' ? 'udp' : 'tcp',
        });
      const toInfo = (d: MmsDescribeInfo) => ({ url: d.url, broadcast: d.broadcast, seekable: d.seekable, header: d.header, headerBytes: d.headerBytes, selectedStreams: d.selectedStreams, sessionId: String(d.clientId) });
      return new StreamPlaySession<MmsDescribeInfo>('mmsp', stream, toInfo, (xml) => sendMmsLog(stream, xml));
    },
  };
}

/** `mmsu://`: MMS with Data packets over UDP */
export const mmsuProtocolClient = mmsClient('mmsu');
/** `mmst://`: MMS with Data packets on the TCP control connection */
export const mmstProtocolClient = mmsClient('mmst');
