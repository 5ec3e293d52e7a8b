/**
 * DESCRIBE (the SDP of a target, after its IP lists and credentials) and SETUP (SelectStream by SETUP: one stream, or
 * the retransmission stream, over RTP/AVP/TCP interleaved or RTP/AVP/UDP unicast). A SETUP without a Session header
 * starts a session (MS-RTSP 3.2.3). Over UDP every data stream shares one client port pair and one server pair
 * (from the configured range); RTP goes only to the address of the control connection, whatever `destination` says.
 */
import { randomInt } from 'node:crypto';
import type { ContentDescription, MediaTarget } from '../../contracts/media.js';
import { MssError } from '../../core/errors.js';
import { admitAccess } from '../shared/preamble.js';
import { NO_STREAM, parseSelectStreamBody } from './bodies.js';
import { describeTarget, pathOf, presentationOf, splitControl, streamOfControl } from './describe.js';
import { formatSession, formatTransport, parseContentType, parseTransport, type TransportSpec } from './headers.js';
import { MAX_SESSIONS_PER_CONNECTION, type RtspExchange, type RtspServerState } from './context.js';
import { RtspSession, type SessionTransport } from './session.js';

const CONTROL_NAME = /^(audio|video|application)\d*$|^rtx$/;

/** the target of a presentation URL after the access check (403, or 401 with the challenges) */
async function accessibleTarget(s: RtspServerState, x: RtspExchange, presentation: string): Promise<MediaTarget> {
  const path = pathOf(presentation);
  if (!s.resolver.owns(path)) throw new MssError('not-found', `no publishing point for ${JSON.stringify(path.slice(0, 100))}`);
  const target = await s.resolver.resolve(path);
  // a wrong password is answered late, and an address that keeps guessing refused, by the guard all protocols share
  const access = await admitAccess(target, { remote: x.conn.remote, method: x.req.method, uri: x.req.uri, authorization: x.req.headers.get('authorization') }, s.authGuard);
  if (!access.ok) {
    s.summarizeRefusal(x, target.point, access.status === 429 ? 503 : access.status);
    if (access.status === 403) throw new MssError('forbidden', access.reason);
    // RTSP has no 429: 503 with Retry-After says the same
    if (access.status === 429) throw new MssError('limit-reached', access.reason, { status: 503, retryAfterS: access.retryAfterS });
    throw new MssError('unauthorized', access.reason, { challenge: access.challenge });
  }
  return target;
}

function cacheControl(target: MediaTarget, info: ContentDescription): string {
  const directives = ['no-cache'];
  if (target.kind === 'ondemand' && info.fileSize > 0) directives.push(`x-wms-content-size=${info.fileSize}`);
  if (target.kind === 'broadcast') directives.push('x-wms-stream-type="broadcast"');
  directives.push('x-wms-event-subscription="remote-log"');
  return directives.join(', ');
}

export async function describe(s: RtspServerState, x: RtspExchange): Promise<void> {
  const url = presentationOf(x.req.uri);
  const target = await accessibleTarget(s, x, url);
  const info = await target.describe();
  const sdp = Buffer.from(describeTarget(target, info, url, info.generation + 1), 'utf8');
  s.reply(x, 200, { 'Content-Type': 'application/sdp', 'Content-Base': `${url}/`, 'Cache-Control': cacheControl(target, info) }, sdp);
}

/** the transport-spec of the client's list this server can serve, in the client's order */
function chooseTransport(s: RtspServerState, specs: TransportSpec[]): TransportSpec {
  for (const t of specs) {
    if (t.protocol !== 'RTP' || t.profile !== 'AVP' || t.unicast === false) continue;
    if (t.lower === 'TCP') return t;
    if (t.lower === 'UDP' && s.config.udp.enabled && t.clientPort) return t;
  }
  const offered = specs.map((t) => `${t.protocol}/${t.profile}/${t.lower}${t.unicast === false ? ' multicast' : ''}`).join(', ');
  throw new MssError('unsupported', `no transport this server offers in ${offered} (RTP/AVP/TCP interleaved${s.config.udp.enabled ? ', RTP/AVP/UDP unicast with client_port' : ''})`, { status: 461 });
}

/** SETUP without a Session: the presentation (the URL less its stream control) and a new session */
async function newSession(s: RtspServerState, x: RtspExchange): Promise<RtspSession> {
  if (s.sessionsOn(x.conn) >= MAX_SESSIONS_PER_CONNECTION) {
    throw new MssError('limit-reached', `this connection holds ${MAX_SESSIONS_PER_CONNECTION} sessions already`, { status: 453 });
  }
  const { parent, control } = splitControl(x.req.uri);
  const presentation = CONTROL_NAME.test(control) && parent !== '' && !/^rtsps?:\/\/[^/]*$/i.test(parent) ? parent : presentationOf(x.req.uri);
  const target = await accessibleTarget(s, x, presentation);
  const info = await target.describe();
  const session = s.sessions.create((id) => new RtspSession(id, target, presentation, info, x.conn, x.conn.remote, x.conn.userAgent, s.sessionDeps));
  s.counters.sessionsCreated++;
  s.bind(session, x.conn);
  return session;
}

export function newSessionId(taken: (id: string) => boolean): string {
  let id: string;
  // up to 16 decimal digits: a safe integer (the W3C client id) and within MS-RTSP's 20 characters
  do id = String(randomInt(1, 2 ** 48) * 32 + randomInt(0, 32));
  while (taken(id));
  return id;
}

export async function setup(s: RtspServerState, x: RtspExchange): Promise<void> {
  const raw = x.req.headers.get('transport');
  if (raw === undefined) throw new MssError('malformed', 'SETUP needs a Transport header', { status: 400 });
  const spec = chooseTransport(s, parseTransport(raw));
  let session = x.session;
  if (session) {
    const p = pathOf(session.url);
    const path = pathOf(presentationOf(x.req.uri));
    if (path !== p && pathOf(splitControl(x.req.uri).parent) !== p) throw new MssError('malformed', `${x.req.uri} is not a stream of the session's ${session.url}`, { status: 459 });
  } else {
    session = await newSession(s, x);
  }
  const path = pathOf(presentationOf(x.req.uri));
  const stream = path === pathOf(session.url) ? 'all' : streamOfControl(session.info, splitControl(x.req.uri).control);
  if (stream === undefined) throw new MssError('not-found', `${x.req.uri} names no stream of ${session.url}`);
  const transport = await bindTransport(s, x, session, spec, stream === 'rtx');
  if (stream === 'rtx') {
    session.rtxPort = spec.clientPort?.[0];
  } else {
    const thinned = thinLevelOf(x);
    const numbers = stream === 'all' ? session.info.streams.map((st) => st.number) : [stream];
    for (const n of numbers) if (thinned !== 2) session.selected.add(n);
    if (session.playing) session.selectStreams(session.target.chooseStreams(session.info, session.selected));
  }
  if (session.state === 'INIT') session.state = 'READY';
  x.session = session;
  const answer: TransportSpec = { protocol: 'RTP', profile: 'AVP', lower: spec.lower, unicast: true, mode: 'PLAY' };
  if (spec.lower === 'TCP') answer.interleaved = spec.interleaved ?? (transport.kind === 'tcp' ? [transport.channel, transport.rtcpChannel] : [0, 1]);
  else {
    answer.clientPort = spec.clientPort;
    answer.serverPort = [session.udp!.rtpPort, session.udp!.rtcpPort];
  }
  answer.ssrc = stream === 'rtx' ? session.rtxSsrc : session.ssrcFor(transport);
  s.reply(x, 200, { Transport: formatTransport(answer), Session: formatSession({ id: session.id, timeout: s.announcedTimeout }) });
}

/** SETUP with an x-wms-streamswitch body: thin level 2 selects nothing (1, key frames only, is served as 0) */
function thinLevelOf(x: RtspExchange): number {
  const ct = x.req.headers.get('content-type');
  if (!ct || x.req.body.length === 0 || parseContentType(ct).mediaType !== 'application/x-wms-streamswitch') return 0;
  const entry = parseSelectStreamBody(x.req.body).find((e) => e.newStream !== NO_STREAM);
  return entry?.thinLevel ?? 0;
}

/** the session's data transport: fixed by its first data stream; the rtx stream only records its port */
async function bindTransport(s: RtspServerState, x: RtspExchange, session: RtspSession, spec: TransportSpec, rtx: boolean): Promise<SessionTransport> {
  const current = session.transport;
  if (current && (current.kind === 'tcp') !== (spec.lower === 'TCP')) {
    throw new MssError('unsupported', `the session's streams go over ${current.kind.toUpperCase()}; one cannot use ${spec.lower}`, { status: 461 });
  }
  if (spec.lower === 'TCP') {
    if (rtx) throw new MssError('unsupported', 'the retransmission stream needs UDP', { status: 461 });
    const [a, b] = spec.interleaved ?? [0, 1];
    session.transport ??= { kind: 'tcp', channel: a, rtcpChannel: b === a ? a + 1 : b };
    return session.transport;
  }
  if (!session.udp) {
    session.udp = await s.ports.allocate();
    const pair = session.udp;
    pair.rtcp.on('message', (msg, rinfo) => {
      const t = session.transport;
      if (t?.kind === 'udp' && rinfo.address.replace(/^::ffff:/, '') === t.address) session.rtcp(msg);
    });
  }
  const [rtpPort, rtcpPort] = spec.clientPort!;
  const udp: SessionTransport = { kind: 'udp', address: x.conn.remote, rtpPort, rtcpPort: rtcpPort === rtpPort ? rtpPort + 1 : rtcpPort };
  if (!rtx && !session.transport) {
    // the RTP socket serves this one player: connected, it sends without an address lookup per datagram
    await new Promise<void>((resolve, reject) => session.udp!.rtp.connect(rtpPort, udp.address, (err?: Error) => (err ? reject(new MssError('unavailable', `UDP connect to ${udp.address}:${rtpPort}: ${err.message}`)) : resolve())));
    session.transport = udp;
  }
  return session.transport ?? udp;
}
