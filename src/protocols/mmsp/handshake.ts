/**
 * The MMS server's handshake (MS-MMSP 3.2.5.3-3.2.5.9, 3.2.5.15): Connect, FunnelInfo with packet-pair,
 * ConnectFunnel (TCP, or UDP to the port the player names but always to the control connection's address),
 * OpenFile with the access check (IP lists, then in-band Basic; a point that needs Digest is refused with
 * access denied so the player rolls over to a protocol that can carry it), ReadBlock with the header pieces, and
 * the player's CLIENT_LOG.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { MssError } from '../../core/errors.js';
import { formatW3cLine } from '../wmlog/codec.js';
import { admitAccess } from '../shared/preamble.js';
import { UdpSink } from '../shared/udp-sink.js';
import { FILE_ATTRIBUTES, HRESULT, PACKET_PAIR, AF_PACKET_PAIR, INCARNATION_SPECIAL, buildMmsDataPacket, frameHeaderPackets, parseFunnelName } from './codec.js';
import { clientLogToRecord, parseClientLog } from './client-log.js';
import { refusalOf, type MmsConnection } from './conn.js';
import type { ViewerMessage } from './messages.js';

type Msg<T extends ViewerMessage['type']> = Extract<ViewerMessage, { type: T }>;

/** the whole TcpMessageHeader packets of the three TCP packet-pair replies (3.2.5.4) */
const TCP_PAIR_PACKET_BYTES = [512, 512, 1056];
/** header + message prefix + the ten fields of ReportFunnelInfo */
const FUNNEL_INFO_BYTES = 80;
const UDP_PAIR_PAYLOAD = 1464;
const MAX_AUTH_ATTEMPTS = 3;

export function onConnect(c: MmsConnection, m: Msg<'Connect'>): void {
  c.subscriberName = m.subscriberName;
  c.userAgent = m.subscriberName.split(';')[0]!.trim().slice(0, 256) || '-';
  try {
    c.ctx.register(c);
  } catch {
    c.send({ type: 'ReportConnectedEX', hr: HRESULT.maxClients, playIncarnation: PACKET_PAIR.disabled, serverVersion: c.ctx.serverVersion, versionInfo: '', versionUrl: '', authenPackage: '' });
    return c.close('session table full');
  }
  const pair = c.ctx.config.packetPair && m.playIncarnation >>> 0 === PACKET_PAIR.use;
  // BASIC: a point may challenge (in-band Basic is what MMS carries; Digest points refuse instead)
  c.send({ type: 'ReportConnectedEX', hr: HRESULT.ok, playIncarnation: pair ? PACKET_PAIR.use : PACKET_PAIR.disabled, serverVersion: c.ctx.serverVersion, versionInfo: '', versionUrl: '', authenPackage: 'BASIC' });
  c.state = 'funnel';
}

export function onFunnelInfo(c: MmsConnection, m: Msg<'FunnelInfo'>): void {
  const reply = (playIncarnation: number, packetPair: Buffer = Buffer.alloc(0)) => c.send({ type: 'ReportFunnelInfo', hr: HRESULT.ok, playIncarnation, clientId: c.clientId, packetPair });
  if (c.state !== 'funnel' && c.state !== 'open') {
    return c.refuse({ type: 'ReportFunnelInfo', hr: HRESULT.invalidRequest, playIncarnation: PACKET_PAIR.disabled, clientId: c.clientId, packetPair: Buffer.alloc(0) }, `FunnelInfo in state ${c.state}`);
  }
  const asked = m.playIncarnation >>> 0;
  const cfg = c.ctx.config;
  // only the exact magic values start packet-pair (FFmpeg sends 0x00F0F0F0 and expects one reply)
  if (cfg.packetPair && (asked === PACKET_PAIR.use || asked === PACKET_PAIR.tcpHighEntropy)) {
    c.socket.cork();
    for (const total of TCP_PAIR_PACKET_BYTES) reply(PACKET_PAIR.tcpHighEntropy, randomBytes(total - FUNNEL_INFO_BYTES));
    c.socket.uncork();
    return;
  }
  if (cfg.packetPair && c.ctx.udp && asked === PACKET_PAIR.udpHighEntropy) {
    c.udpPacketPair = true;
    return reply(PACKET_PAIR.udpHighEntropy);
  }
  reply(PACKET_PAIR.disabled);
}

export function onConnectFunnel(c: MmsConnection, m: Msg<'ConnectFunnel'>): void {
  const refuse = (hr: number, why: string) => c.refuse({ type: 'ReportDisconnectedFunnel', hr, playIncarnation: 0 }, why);
  if (c.state !== 'funnel' && c.state !== 'open') return refuse(HRESULT.invalidRequest, `ConnectFunnel in state ${c.state}`);
  let f;
  try {
    f = parseFunnelName(m.funnelName);
  } catch (err) {
    return refuse(HRESULT.badControlData, (err as Error).message);
  }
  if (f.transport === 'UDP') {
    if (!c.ctx.udp) return refuse(HRESULT.protocolMismatch, 'UDP data is off on this server');
    // the address in funnelName is ignored (NAT, or a third party): datagrams go to the control connection's peer
    if (f.address !== c.remote) c.log.debug('mmsp.funnel-address', { remote: c.remote, named: f.address, port: f.port });
    c.funnel = { transport: 'udp', port: f.port };
  } else {
    c.funnel = { transport: 'tcp' };
  }
  c.send({ type: 'ReportConnectedFunnel', hr: HRESULT.ok, playIncarnation: 0, funnelName: 'Funnel Of The Gods' });
  c.state = 'open';
}

/**
 * The raw (percent-encoded) request path of a fileName, which the spec sends unencoded; %XX sequences already there
 * are kept (VLC may send the path as it appears in the URL). MssError('malformed') for text no URL can hold.
 */
export function rawPathOf(fileName: string): string {
  const path = fileName.replace(/^\/+/, '');
  try {
    return '/' + path.split(/(%[0-9A-Fa-f]{2})/).map((part, i) => (i % 2 === 1 ? part : encodeURI(part))).join('');
  } catch {
    throw new MssError('malformed', `OpenFile: the fileName ${JSON.stringify(path.slice(0, 80))} is not valid Unicode`);
  }
}

/** Basic credentials of tokenData/pToken: NUL-terminated ASCII basic-credentials, with or without "Basic " */
function basicAuthorization(token: Buffer): string | undefined {
  const text = token.toString('latin1').replace(/\0[\s\S]*$/, '').trim();
  if (text === '') return undefined;
  return /^basic\s/i.test(text) ? text : `Basic ${text}`;
}

function openRefusal(c: MmsConnection, hr: number, status: number, playIncarnation: number, why: string): void {
  c.totals.status = status;
  c.refuse({ type: 'ReportOpenFile', hr, playIncarnation, openFileId: 0, fileAttributes: 0, fileDuration: 0, fileBlocks: 0, filePacketSize: 0, filePacketCount: 0, fileBitRate: 0, fileHeaderSize: 0 }, why);
}

export async function onOpenFile(c: MmsConnection, m: Msg<'OpenFile'>): Promise<void> {
  if (c.state !== 'open') return openRefusal(c, HRESULT.invalidRequest, 400, m.playIncarnation, `OpenFile in state ${c.state}`);
  try {
    c.url = rawPathOf(m.fileName);
    c.target = await c.ctx.resolver.resolve(c.url);
  } catch (err) {
    const r = refusalOf(err);
    return openRefusal(c, r.hr, r.status, m.playIncarnation, r.message);
  }
  return admit(c, m.playIncarnation, basicAuthorization(m.token));
}

export async function onSecurityResponse(c: MmsConnection, m: Msg<'SecurityResponse'>): Promise<void> {
  if (c.state !== 'auth' || !c.auth || m.cookie !== c.auth.cookie) return openRefusal(c, HRESULT.invalidRequest, 400, m.playIncarnation, 'SecurityResponse to no challenge of ours');
  return admit(c, m.playIncarnation, basicAuthorization(m.token));
}

/** the access check, then ReportOpenFile, a Basic challenge or access denied */
async function admit(c: MmsConnection, playIncarnation: number, authorization: string | undefined): Promise<void> {
  const target = c.target!;
  const r = await admitAccess(target, { remote: c.remote, method: 'GET', uri: c.url, authorization }, c.ctx.authGuard);
  if (!r.ok && r.status === 403) return openRefusal(c, HRESULT.accessDenied, 403, playIncarnation, r.reason);
  if (!r.ok && r.status === 429) return openRefusal(c, HRESULT.accessDenied, 429, playIncarnation, `too many failed attempts from ${c.remote}: ${r.reason}`);
  if (!r.ok) {
    const basic = r.challenge.find((ch) => /^basic\b/i.test(ch));
    if (!basic) return openRefusal(c, HRESULT.accessDenied, 401, playIncarnation, `${target.point} needs credentials MMS cannot carry (${r.challenge.map((ch) => ch.split(' ')[0]).join(', ')})`);
    const attempts = (c.auth?.attempts ?? 0) + 1;
    if (attempts > MAX_AUTH_ATTEMPTS) {
      c.auth = null;
      c.state = 'open';
      return openRefusal(c, HRESULT.accessDenied, 401, playIncarnation, `${attempts - 1} wrong credentials for ${target.point}`);
    }
    const realm = /realm="([^"]*)"/i.exec(basic)?.[1] ?? '';
    c.auth = { cookie: randomInt(1, 0x7fffffff), attempts, playIncarnation };
    c.state = 'auth';
    c.totals.status = 401;
    c.send({ type: 'SecurityChallenge', playIncarnation, cookie: c.auth.cookie, token: Buffer.from(`realm="${realm}"\0`, 'utf16le') });
    return;
  }
  c.auth = null;
  let info;
  try {
    info = await target.describe();
  } catch (err) {
    const f = refusalOf(err);
    return openRefusal(c, f.hr, f.status, playIncarnation, f.message);
  }
  if (c.isClosed) return;
  c.info = info;
  c.totals.status = 0;
  const broadcast = target.kind === 'broadcast';
  const seconds = broadcast ? 0 : info.durationMs / 1000;
  c.send({
    type: 'ReportOpenFile',
    hr: HRESULT.ok,
    playIncarnation,
    openFileId: c.openFileId,
    fileAttributes: broadcast ? FILE_ATTRIBUTES.broadcast | (target.live ? FILE_ATTRIBUTES.live : 0) : FILE_ATTRIBUTES.canSeek,
    fileDuration: seconds,
    fileBlocks: Math.ceil(seconds),
    filePacketSize: info.packetSize,
    filePacketCount: broadcast ? 0 : info.packetCount,
    fileBitRate: info.bitrate,
    fileHeaderSize: info.headerBytes.length,
  });
  c.state = 'opened';
}

/** a datagram sink to the player for what goes out of a play (header pieces, packet-pair) */
export function datagramSink(c: MmsConnection): UdpSink {
  const f = c.funnel;
  if (!f || f.transport !== 'udp' || !c.ctx.udp) throw new MssError('internal', 'MMS: a datagram sink without a UDP funnel');
  return new UdpSink({ socket: c.ctx.udp, address: c.remote, port: f.port });
}

export async function onReadBlock(c: MmsConnection, m: Msg<'ReadBlock'>): Promise<void> {
  const refuse = (hr: number, why: string) => c.refuse({ type: 'ReportReadBlock', hr, playIncarnation: m.playIncarnation }, why);
  if (c.state !== 'opened' && c.state !== 'ready') return refuse(HRESULT.invalidRequest, `ReadBlock in state ${c.state}`);
  if (m.openFileId !== c.openFileId) return refuse(HRESULT.invalidRequest, `ReadBlock for openFileId ${m.openFileId}, the open file is ${c.openFileId}`);
  const target = c.target!;
  let info = c.info!;
  if (target.kind === 'broadcast') {
    // a broadcast's header may have changed since OpenFile (and does after a playlist entry over UDP)
    try {
      info = await target.describe();
    } catch (err) {
      return refuse(refusalOf(err).hr, (err as Error).message);
    }
    if (c.isClosed) return;
    c.info = info;
  }
  c.headerGeneration = info.generation;
  const incarnation = m.playIncarnation & 0xff;
  const pieces = frameHeaderPackets(info.headerBytes, incarnation, info.packetSize);
  c.state = 'ready';
  if (c.funnel?.transport !== 'udp') {
    c.socket.cork();
    c.send({ type: 'ReportReadBlock', hr: HRESULT.ok, playIncarnation: m.playIncarnation });
    for (const p of pieces) c.socket.write(p);
    c.socket.uncork();
    return;
  }
  const sink = datagramSink(c);
  if (c.udpPacketPair) {
    // two back-to-back high-entropy datagrams before the header (3.2.5.8)
    c.udpPacketPair = false;
    for (let i = 0; i < 2; i++) sink.write(buildMmsDataPacket(randomBytes(UDP_PAIR_PAYLOAD), 0xf0f0f000 + i, INCARNATION_SPECIAL, AF_PACKET_PAIR));
  }
  c.send({ type: 'ReportReadBlock', hr: HRESULT.ok, playIncarnation: m.playIncarnation });
  // over UDP the pieces are paced at the content's bit rate (3.2.5.8.1); a CancelReadBlock drops the rest
  const spacingMs = (bytes: number) => Math.ceil((bytes * 8 * 1000) / Math.max(1, info.bitrate));
  if (c.headerTimer) clearTimeout(c.headerTimer);
  let i = 0;
  const next = () => {
    c.headerTimer = null;
    if (c.isClosed || i >= pieces.length) return;
    const p = pieces[i++]!;
    sink.write(p);
    if (i < pieces.length) c.headerTimer = setTimeout(next, spacingMs(p.length));
  };
  next();
}

export function onCancelReadBlock(c: MmsConnection): void {
  if (c.headerTimer) clearTimeout(c.headerTimer);
  c.headerTimer = null;
}

/** LinkViewerToMacLogging: the CLIENT_LOG becomes a W3C line stored like a WMSP player's log (no reply exists) */
export async function onLogging(c: MmsConnection, m: Msg<'Logging'>): Promise<void> {
  let record;
  try {
    record = clientLogToRecord(parseClientLog(m.log), { remoteAddress: c.remote, receivedAt: Date.now() });
  } catch (err) {
    c.log.warn('mmsp.log-refused', { remote: c.remote, clientId: c.clientId, reason: (err as Error).message });
    return;
  }
  c.ctx.counters.logs++;
  try {
    await c.ctx.onPlayerLog?.({
      protocol: 'mmsp',
      remoteAddress: c.remote,
      url: c.url || '/',
      point: c.target?.point,
      userAgent: c.userAgent,
      clientId: c.clientId,
      body: Buffer.alloc(0),
      logLine: formatW3cLine(record, 47),
      receivedAt: Date.now(),
    });
  } catch (err) {
    c.log.warn('mmsp.log-refused', { remote: c.remote, clientId: c.clientId, reason: (err as Error).message });
  }
}
