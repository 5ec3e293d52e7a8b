/**
 * GET_PARAMETER and SET_PARAMETER, told apart by Content-Type (MS-RTSP 2.2.7): KeepAlive (no type, no body),
 * TcpPacketPair (three $P frames as the answer's body), GetContentInfo (Cache-Control only), LogConnect and LogPlay
 * (player logs to the log store, like WMSP's Log POST), SendEvent (remote-log events carry a log too), SelectStream
 * by SET_PARAMETER (replace or drop streams while playing) and UdpPacketPair (RTP packet-pair on the rtx session).
 */
import { randomBytes } from 'node:crypto';
import { MssError } from '../../core/errors.js';
import { framePacketPair, PACKET_PAIR_LENGTHS } from '../shared/packet-pair.js';
import { NO_STREAM, parseSelectStreamBody, parseUdpPacketPairBody } from './bodies.js';
import type { RtspExchange, RtspServerState } from './context.js';
import { pathOf, presentationOf } from './describe.js';
import { parseContentType } from './headers.js';
import { buildPacketPair } from './rtp-asf.js';

function mediaTypeOf(x: RtspExchange): string | undefined {
  const ct = x.req.headers.get('content-type');
  return ct === undefined ? undefined : parseContentType(ct).mediaType;
}

function sessionHeader(x: RtspExchange): Record<string, string> {
  return x.session ? { Session: x.session.id } : {};
}

export async function getParameter(s: RtspServerState, x: RtspExchange): Promise<void> {
  const type = mediaTypeOf(x);
  if (type === undefined && x.req.body.length === 0) {
    // KeepAlive: the session (if named) was touched when it was looked up
    s.reply(x, 200, sessionHeader(x));
    return;
  }
  if (type === 'application/x-rtsp-packetpair') {
    const bodyLength = PACKET_PAIR_LENGTHS.reduce((a, n) => a + 4 + n, 0);
    const head = s.response(x, 200, { ...sessionHeader(x), 'Content-Type': 'application/x-rtsp-packetpair', 'Content-Length': bodyLength });
    const pairs = framePacketPair(head.length, randomBytes);
    // each $P in a segment of its own (MS-RTSP 3.2.5.5): separate writes on a no-delay socket
    x.conn.write(head);
    for (const p of pairs) x.conn.write(p);
    return;
  }
  if (type === 'application/x-wms-getcontentinfo') {
    const target = await s.resolver.resolve(pathOf(presentationOf(x.req.uri)));
    const info = await target.describe();
    const cc = ['no-cache'];
    if (target.kind === 'ondemand' && info.fileSize > 0) cc.push(`x-wms-content-size=${info.fileSize}`);
    if (target.kind === 'broadcast') cc.push('x-wms-stream-type="broadcast"');
    s.reply(x, 200, { 'Cache-Control': cc.join(', ') });
    return;
  }
  throw new MssError('unsupported', `GET_PARAMETER of ${type ?? 'an untyped body'} is not understood`, { status: 451 });
}

async function storeLog(s: RtspServerState, x: RtspExchange): Promise<void> {
  s.counters.logs++;
  let point = x.session?.target.point;
  if (!point) {
    // a log after the session ended (or from a player that never had one here): the URL names the point
    const path = pathOf(presentationOf(x.req.uri));
    point = s.resolver.owns(path) ? (await s.resolver.resolve(path).catch(() => undefined))?.point : undefined;
  }
  await s.hooks.onPlayerLog?.({
    protocol: 'rtsp',
    remoteAddress: x.conn.remote,
    url: pathOf(presentationOf(x.req.uri)),
    point,
    userAgent: x.req.headers.get('user-agent') ?? x.conn.userAgent,
    clientId: x.session?.numericId,
    contentType: x.req.headers.get('content-type'),
    body: x.req.body,
    receivedAt: Date.now(),
  });
}

export async function setParameter(s: RtspServerState, x: RtspExchange): Promise<void> {
  const type = mediaTypeOf(x);
  switch (type) {
    case undefined:
      if (x.req.body.length > 0) throw new MssError('unsupported', 'SET_PARAMETER with an untyped body is not understood', { status: 451 });
      s.reply(x, 200, sessionHeader(x));
      return;
    case 'application/x-wms-logplaystats':
    case 'application/x-wms-logconnectstats':
      await storeLog(s, x);
      s.reply(x, 200, sessionHeader(x));
      return;
    case 'application/x-wms-sendevent':
      // remote-log events (MS-WMSP 2.2.5) carry a rendering log: stored like a log; other events are acknowledged
      if (/<XML>/i.test(x.req.body.toString('latin1'))) await storeLog(s, x);
      s.reply(x, 200, {});
      return;
    case 'application/x-wms-streamswitch':
      selectStreams(s, x);
      return;
    case 'application/x-rtsp-udp-packetpair':
      udpPacketPair(s, x);
      return;
    default:
      throw new MssError('unsupported', `SET_PARAMETER of ${type} is not understood`, { status: 451 });
  }
}

/** SelectStream by SET_PARAMETER: old → new replaces, new with thin level 2 drops, old = new re-thins (served as is) */
function selectStreams(s: RtspServerState, x: RtspExchange): void {
  const session = x.session;
  if (!session) throw new MssError('not-found', 'SelectStream needs a Session', { status: 454 });
  const known = new Set(session.info.streams.map((st) => st.number));
  const next = new Set(session.selected);
  for (const e of parseSelectStreamBody(x.req.body)) {
    if (e.newStream !== NO_STREAM && !known.has(e.newStream)) throw new MssError('malformed', `stream ${e.newStream} is not in ${session.url}`, { status: 400 });
    if (e.oldStream !== NO_STREAM && e.oldStream !== e.newStream) next.delete(e.oldStream);
    if (e.newStream !== NO_STREAM) {
      if (e.thinLevel === 2) next.delete(e.newStream);
      else next.add(e.newStream);
    }
  }
  if (next.size === 0) throw new MssError('malformed', 'the selection would leave no stream', { status: 400 });
  session.selected.clear();
  for (const n of next) session.selected.add(n);
  if (session.playing) session.selectStreams(session.target.chooseStreams(session.info, session.selected));
  s.reply(x, 200, { Session: session.id });
}

function udpPacketPair(s: RtspServerState, x: RtspExchange): void {
  const session = x.session;
  const t = session?.transport;
  if (!session || !session.udp || session.rtxPort === undefined || t?.kind !== 'udp') {
    throw new MssError('conflict', 'UdpPacketPair needs a session whose retransmission stream is set up over UDP', { status: 455 });
  }
  const { variableSize } = parseUdpPacketPairBody(x.req.body);
  s.reply(x, 200, { Session: session.id });
  const packets = buildPacketPair({ count: 3, variableSize, payloadType: 97, ssrc: session.rtxSsrc, firstSequence: 0, random: randomBytes });
  // the RTP socket is connected to the data port: packet-pair leaves from the RTCP one
  for (const p of packets) session.udp.rtcp.send(p, session.rtxPort, t.address, () => undefined);
}
