/**
 * The MMS server's playback (MS-MMSP 3.2.5.10-3.2.5.14, 3.2.4): StreamSwitch (the whole selection before a play,
 * changes while playing), StartPlaying at a time, packet or byte offset with an optional stop time and fast start,
 * StopPlaying, the end of a play (ReportEndOfStream) and header changes of a broadcast. The media core paces and
 * fans out; this file picks the framer and the sink (the control connection, or a datagram sink with a resend
 * buffer) and answers the player.
 */
import type { PlayOptions } from '../../contracts/media.js';
import { SocketSink } from '../shared/socket-sink.js';
import { UdpSink } from '../shared/udp-sink.js';
import { HRESULT, INCARNATION_SPECIAL } from './codec.js';
import { refusalOf, type ActivePlay, type MmsConnection } from './conn.js';
import { DataFramer, playFramer } from './framers.js';
import { POSITION_UNSET, type ViewerMessage } from './messages.js';
import { ResendingSink } from './resend.js';

type Msg<T extends ViewerMessage['type']> = Extract<ViewerMessage, { type: T }>;

const NONE = 0xffff;
const unset = (v: number) => v === 0 || v === 0xffffffff;

/** Ends the running play from the session's side (StopPlaying, a new play, the session's end). */
export function stopPlay(c: MmsConnection, reason: string): void {
  const p = c.play;
  if (!p) return;
  c.play = null;
  p.stoppedBySession = true;
  p.handle.stop(reason);
}

export function onStreamSwitch(c: MmsConnection, m: Msg<'StreamSwitch'>): void {
  const refuse = (hr: number, why: string) => c.refuse({ type: 'ReportStreamSwitch', hr }, why);
  if (c.state !== 'opened' && c.state !== 'ready' && c.state !== 'streaming') return refuse(HRESULT.invalidRequest, `StreamSwitch in state ${c.state}`);
  const info = c.info!;
  const all = info.streams.map((s) => s.number);
  // before a play the entries are the whole selection; while playing they change it (3.1.4.3)
  const chosen = c.state === 'streaming' ? new Set(c.selection ?? all) : new Set<number>();
  for (const e of m.entries) {
    if (e.destination !== NONE) {
      if (e.thinning === 2) chosen.delete(e.destination);
      else chosen.add(e.destination); // thinning 1 (key frames only) is served as all frames
      if (e.source !== NONE && e.source !== e.destination) chosen.delete(e.source);
    } else if (e.source !== NONE) {
      chosen.delete(e.source);
    }
  }
  let streams;
  try {
    streams = c.target!.chooseStreams(info, chosen);
  } catch (err) {
    return refuse(HRESULT.invalidStream, (err as Error).message);
  }
  c.selection = chosen;
  c.selectionGiven = true;
  // a running play switches too (new streams start at their next key frame)
  c.play?.handle.selectStreams?.(streams);
  c.send({ type: 'ReportStreamSwitch', hr: HRESULT.ok });
}

/** where an on-demand play starts: a time, else a packet (VLC sends locationId with position 0), else a byte offset */
function startOf(m: Msg<'StartPlaying'>, headerBytes: number, packetSize: number, packetCount: number): { startTimeMs?: number; startPacket?: number } {
  const time = Number.isFinite(m.position) && m.position > 0 && m.position !== POSITION_UNSET;
  if (time) return { startTimeMs: Math.round(m.position * 1000) };
  if (!unset(m.locationId)) return { startPacket: Math.min(m.locationId, packetCount) };
  if (!unset(m.asfOffset) && m.asfOffset >= headerBytes) return { startPacket: Math.min(Math.floor((m.asfOffset - headerBytes) / packetSize), packetCount) };
  return {};
}

/** frameOffset: 0 = to the end; low 31 bits a stop time (ms), relative to the start when the top bit is set */
function stopAfter(frameOffset: number, startTimeMs: number | undefined): number | undefined {
  if (frameOffset === 0) return undefined;
  const ms = frameOffset & 0x7fffffff;
  const duration = frameOffset & 0x80000000 ? ms : ms - (startTimeMs ?? 0);
  return duration > 0 ? duration : undefined;
}

export async function onStartPlaying(c: MmsConnection, m: Msg<'StartPlaying'>): Promise<void> {
  const refuse = (hr: number, why: string) => c.refuse({ type: 'ReportStartedPlaying', hr, playIncarnation: m.playIncarnation, tigerFileId: c.openFileId }, why);
  // while streaming the position fields are ignored (3.2.5.11)
  if (c.state === 'streaming') return c.send({ type: 'ReportStartedPlaying', hr: HRESULT.ok, playIncarnation: m.playIncarnation, tigerFileId: c.openFileId });
  if (c.state !== 'ready') return refuse(HRESULT.invalidRequest, `StartPlaying in state ${c.state}`);
  if (m.openFileId !== c.openFileId) return refuse(HRESULT.invalidRequest, `StartPlaying for openFileId ${m.openFileId}, the open file is ${c.openFileId}`);
  const target = c.target!;
  const ondemand = target.kind === 'ondemand';
  let info = c.info!;
  if (!ondemand) {
    try {
      info = await target.describe();
    } catch (err) {
      return refuse(refusalOf(err).hr, (err as Error).message);
    }
    if (c.state !== 'ready') return;
    c.info = info;
  }
  const inc = m.playIncarnation & 0xff;
  const link = m.accel?.linkBandwidth ?? 0;
  const requested = c.selectionGiven ? c.selection : undefined; // no StreamSwitch: every stream (FFmpeg and VLC always send one)
  try {
    target.chooseStreams(info, requested, link);
  } catch (err) {
    return refuse(HRESULT.invalidStream, (err as Error).message);
  }
  const start = ondemand ? startOf(m, info.headerBytes.length, info.packetSize, info.packetCount) : {};
  const accel = m.accel && m.accel.bandwidth > 0 && m.accel.durationMs > 0 ? { bandwidth: m.accel.bandwidth, durationMs: m.accel.durationMs } : undefined;
  const opts: PlayOptions = { ...start, streams: requested, linkBandwidth: link, accel, sendHeader: false, maxDurationMs: ondemand ? stopAfter(m.frameOffset, start.startTimeMs) : undefined };
  // a broadcast whose header changed since ReadBlock starts with a stream change
  const changed = !ondemand && info.generation !== c.headerGeneration;
  const udp = c.funnel?.transport === 'udp';
  if (changed && udp) {
    c.send({ type: 'ReportStartedPlaying', hr: HRESULT.ok, playIncarnation: m.playIncarnation, tigerFileId: c.openFileId });
    announceUdpChange(c, inc);
    return;
  }
  c.playCount++;
  const data = ondemand
    ? new DataFramer(`mmsp:od:${c.clientId}:${c.playCount}`, inc, udp)
    : c.ctx.framers.get(`mmsp:${udp ? 'udp' : 'tcp'}:${target.point}:${inc}:${info.generation}:${changed ? 'c' : 'n'}`, changed ? INCARNATION_SPECIAL : inc, udp);
  const play: ActivePlay = { handle: null!, playIncarnation: m.playIncarnation, transport: udp ? 'udp' : 'tcp', resend: null, stoppedBySession: false };
  const framer = playFramer({
    name: `mmsp:${c.clientId}:${c.playCount}`,
    transport: play.transport,
    data,
    playIncarnation: m.playIncarnation,
    hooks: { control: (msg) => c.control(msg), udpStreamChange: () => queueMicrotask(() => c.play === play && announceUdpChange(c, inc)) },
  });
  const mark = c.seqMark();
  let sink;
  let drained: Promise<void> = Promise.resolve();
  if (udp) {
    const f = c.funnel as { transport: 'udp'; port: number };
    const datagrams = new UdpSink({ socket: c.ctx.udp!, address: c.remote, port: f.port });
    drained = new Promise((resolve) => datagrams.onClose(resolve));
    play.resend = new ResendingSink(datagrams, c.ctx.config.resendBufferPackets, c.ctx.config.maxResendsPerSecond, () => data.incarnation);
    sink = play.resend;
  } else {
    // ReportStartedPlaying goes first, ahead of the first Data packet (and of a stream change at once)
    const head = [c.control({ type: 'ReportStartedPlaying', hr: HRESULT.ok, playIncarnation: m.playIncarnation, tigerFileId: c.openFileId })];
    if (changed) head.push(c.control({ type: 'ReportEndOfStream', hr: HRESULT.entryEnded, playIncarnation: m.playIncarnation }), ...framer.header(info.headerBytes));
    sink = new SocketSink(c.socket, { head: Buffer.concat(head), keepOpen: true });
  }
  c.starting = true;
  try {
    play.handle = await target.play(opts, framer, sink, { protocol: 'mmsp', remote: c.remote, userAgent: c.userAgent, url: c.url, clientId: c.clientId });
  } catch (err) {
    c.starting = false;
    const r = refusalOf(err);
    c.totals.status = r.status;
    if (sink instanceof SocketSink && sink.started) return c.close(`play failed after it began: ${r.message}`);
    c.seqRewind(mark); // the unsent ReportStartedPlaying gives its sequence number to the refusal
    return refuse(r.hr, r.message);
  }
  c.starting = false;
  if (c.state !== 'ready') {
    play.handle.stop('session closed');
    return;
  }
  if (sink instanceof SocketSink) sink.start();
  else c.send({ type: 'ReportStartedPlaying', hr: HRESULT.ok, playIncarnation: m.playIncarnation, tigerFileId: c.openFileId });
  c.play = play;
  c.state = 'streaming';
  c.ctx.counters.plays++;
  c.totals.firstPlayAt ||= Date.now();
  c.totals.status = 200;
  c.settleTimers();
  void watch(c, play, drained);
}

/** the end of a play the session did not end itself: ReportEndOfStream (TCP: the framer already sent it) */
async function watch(c: MmsConnection, play: ActivePlay, drained: Promise<void>): Promise<void> {
  const stats = await play.handle.ended;
  c.totals.bytes += stats.bytesSent;
  c.totals.packets += stats.packetsSent;
  if (play.stoppedBySession) return;
  if (c.play === play) c.play = null;
  if (c.isClosed) return;
  const reason = stats.endReason ?? 'finished';
  if (reason === 'slow-player' || reason === 'client-gone') return c.close(`play ended: ${reason}`);
  c.state = 'ready';
  c.lastSeen = Date.now();
  c.settleTimers();
  if (play.transport === 'udp') {
    // after the last datagram left, so the end does not overtake the media
    await drained;
    if (c.isClosed) return;
    c.send({ type: 'ReportEndOfStream', hr: reason === 'finished' ? HRESULT.ok : HRESULT.internal, playIncarnation: play.playIncarnation });
  }
}

/** UDP and a new header (playlist entry, new encoder header): the player is told on TCP and fetches it (3.2.4.2) */
function announceUdpChange(c: MmsConnection, playIncarnation: number): void {
  stopPlay(c, 'stream change');
  if (c.isClosed) return;
  c.state = 'ready';
  const target = c.target!;
  void target.describe().then(
    (info) => {
      if (c.isClosed) return;
      c.info = info;
      c.send({ type: 'ReportEndOfStream', hr: HRESULT.entryEnded, playIncarnation });
      c.send({ type: 'ReportStreamChange', hr: HRESULT.ok, packetSize: info.packetSize, headerSize: info.headerBytes.length, bitRate: info.bitrate });
    },
    (err) => {
      if (c.isClosed) return;
      c.send({ type: 'ReportEndOfStream', hr: refusalOf(err).hr, playIncarnation });
    },
  );
}

export function onStartStriding(c: MmsConnection, m: Msg<'StartStriding'>): void {
  // fast forward and rewind are not offered (no FILE_ATTRIBUTE_MMS_CANSTRIDE)
  c.refuse({ type: 'ReportStartStriding', hr: HRESULT.strideRefused, playIncarnation: m.playIncarnation }, 'striding is not supported');
}

export function onStopPlaying(c: MmsConnection, m: Msg<'StopPlaying'>): void {
  stopPlay(c, 'stopped');
  if (c.state === 'streaming') c.state = 'ready';
  c.send({ type: 'ReportEndOfStream', hr: HRESULT.ok, playIncarnation: m.playIncarnation });
}

