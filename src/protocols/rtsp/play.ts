/**
 * PLAY (with Range: npt or smpte time, x-asf-packet, x-asf-byte; seeks on-demand content, joins a broadcast at its
 * Fast Start position), fast start (X-Accelerate-Streaming, X-Burst-Streaming: the values answered are the ones
 * used, never more than asked), PAUSE and resume, and TEARDOWN of a session or of one of its streams.
 */
import { MssError, toMssError } from '../../core/errors.js';
import type { RtspExchange, RtspServerState } from './context.js';
import { rtspStatusFor } from './context.js';
import { pathOf, presentationOf, splitControl, streamOfControl } from './describe.js';
import { formatAccelerate, formatBurst, formatRange, formatSession, parseAccelerate, parseBandwidth, parseBurst, parseRange, type RangeSpec } from './headers.js';
import type { RtspSession, StartOptions } from './session.js';

function needSession(x: RtspExchange): RtspSession {
  if (!x.session) throw new MssError('not-found', `${x.req.method} needs the Session header of a SETUP`, { status: 454 });
  return x.session;
}

/** where an on-demand PLAY starts and stops */
function position(session: RtspSession, range: RangeSpec | undefined): Pick<StartOptions, 'startTimeMs' | 'startPacket' | 'maxDurationMs'> {
  if (!range || session.target.kind !== 'ondemand') return {};
  const info = session.info;
  const packets = info.packetCount;
  switch (range.unit) {
    case 'npt':
    case 'smpte': {
      const start = range.start === 'now' ? 0 : range.start;
      if (info.durationMs > 0 && start > info.durationMs) throw new MssError('malformed', `Range starts at ${start} ms, after the end of the ${info.durationMs} ms content`, { status: 457 });
      return { startTimeMs: start, maxDurationMs: range.end !== undefined && range.end > start ? range.end - start : undefined };
    }
    case 'x-asf-packet':
      if (range.start >= packets) throw new MssError('malformed', `Range starts at packet ${range.start}; the content has ${packets}`, { status: 457 });
      return { startPacket: range.start };
    case 'x-asf-byte': {
      const first = info.headerBytes.length;
      const packet = Math.floor(Math.max(0, range.start - first) / info.packetSize);
      if (packet >= packets) throw new MssError('malformed', `Range starts at byte ${range.start}, past the last packet`, { status: 457 });
      return { startPacket: packet };
    }
  }
}

function rangeAnswer(session: RtspSession, range: RangeSpec | undefined): string {
  if (session.target.kind !== 'ondemand') return 'npt=0.000-';
  const start = range && (range.unit === 'npt' || range.unit === 'smpte') && range.start !== 'now' ? range.start : 0;
  return formatRange({ unit: 'npt', start, end: session.info.durationMs || undefined });
}

export async function play(s: RtspServerState, x: RtspExchange): Promise<void> {
  const session = needSession(x);
  if (session.selected.size === 0 || !session.transport) throw new MssError('conflict', 'PLAY before any stream was set up', { status: 455 });
  if (session.transport.kind === 'tcp' && session.conn !== x.conn) {
    if (session.conn && !session.conn.isClosed) throw new MssError('conflict', 'the session streams over another RTSP connection', { status: 455 });
    s.bind(session, x.conn);
  }
  // the SDP offers no skipforward/skipbackward: playlist entries are not skipped on request
  if (x.req.headers.has('x-playlist')) throw new MssError('unsupported', 'X-Playlist (skipping playlist entries) is not offered by this server', { status: 400 });
  const rangeText = x.req.headers.get('range');
  const range = rangeText !== undefined ? parseRange(rangeText) : undefined;
  const accelText = x.req.headers.get('x-accelerate-streaming');
  const burstText = x.req.headers.get('x-burst-streaming');
  const accel = accelText !== undefined ? parseAccelerate(accelText) : undefined;
  const burst = burstText !== undefined ? parseBurst(burstText) : undefined;
  const bandwidth = x.req.headers.get('bandwidth');
  const link = bandwidth !== undefined ? parseBandwidth(bandwidth) : undefined;
  const fast = [accel, burst].find((a) => a && a.bandwidth > 0 && a.durationMs > 0);
  const headers = (): Record<string, string | undefined> => ({
    Session: formatSession({ id: session.id, timeout: s.announcedTimeout }),
    Range: rangeAnswer(session, range),
    'RTP-Info': session.rtpInfo(),
    'X-Accelerate-Streaming': accel && fast === accel ? formatAccelerate(accel) : undefined,
    'X-Burst-Streaming': burst && fast === burst ? formatBurst(burst) : undefined,
  });
  s.counters.plays++;
  // PLAY after PAUSE without a new position: the on-demand clock goes on
  if (!range && session.resumable && session.resume()) {
    s.reply(x, 200, headers());
    return;
  }
  if (session.playing && !range) {
    s.reply(x, 200, headers());
    return;
  }
  const opts: StartOptions = { ...position(session, range), linkBandwidth: link && link < 2147483647 ? link : undefined, accel: fast ? { bandwidth: fast.bandwidth, durationMs: fast.durationMs } : undefined };
  try {
    await session.start(opts, () => s.response(x, 200, headers()));
  } catch (err) {
    const e = toMssError(err);
    session.refused(rtspStatusFor(e));
    throw e;
  }
  x.conn.settle();
}

export function pause(s: RtspServerState, x: RtspExchange): void {
  const session = needSession(x);
  if (x.req.headers.has('range')) throw new MssError('malformed', 'PAUSE must not carry a Range (MS-RTSP 2.2.7.8)', { status: 457 });
  if (session.state !== 'PLAYING') throw new MssError('conflict', `PAUSE in state ${session.state}`, { status: 455 });
  session.pause();
  s.reply(x, 200, { Session: formatSession({ id: session.id, timeout: s.announcedTimeout }) });
  x.conn.settle();
}

/** TEARDOWN of the presentation ends the session (and the connection after the answer); of a stream, deselects it */
export function teardown(s: RtspServerState, x: RtspExchange): void {
  const session = needSession(x);
  const path = pathOf(presentationOf(x.req.uri));
  if (path !== pathOf(session.url)) {
    const stream = streamOfControl(session.info, splitControl(x.req.uri).control);
    if (stream === undefined) throw new MssError('not-found', `${x.req.uri} names no stream of ${session.url}`);
    if (stream !== 'rtx') session.selected.delete(stream);
    if (session.selected.size > 0) {
      if (session.playing) session.selectStreams(session.target.chooseStreams(session.info, session.selected));
      s.reply(x, 200, { Session: session.id });
      return;
    }
  }
  s.sessions.delete(session.id);
  s.unbind(session);
  session.end('teardown', false);
  s.reply(x, 200, {});
  // MS-RTSP 3.2.5.17: the connection closes after the answer, unless it carries other sessions
  if (![...s.sessions.values()].some((o) => o.conn === x.conn)) x.conn.end();
}
