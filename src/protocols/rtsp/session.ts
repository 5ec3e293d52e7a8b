/**
 * One RTSP session (MS-RTSP 3.2): INIT → READY (streams set up) → PLAYING ⇄ READY (PAUSE), gone on TEARDOWN or
 * Idle-Timeout. It owns its transport (interleaved channels on the control connection, or a UDP port pair), the
 * playback handle the media core gave it, and tells the player what the data path cannot: the end of the stream
 * (EndOfStream, a SET_PARAMETER of the server's) and a new header (ANNOUNCE). RTCP sender reports go out on the
 * core's clock; receiver reports (and requests) keep a UDP session alive. One SessionSummary when it ends.
 */
import type { ContentDescription, MediaTarget, PlayerSink, PlayHandle, PlayOptions } from '../../contracts/media.js';
import type { SessionSummary } from '../../contracts/sessions.js';
import { MssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { SocketSink } from '../shared/socket-sink.js';
import { UdpSink } from '../shared/udp-sink.js';
import { buildEndOfStreamBody, type EndOfStreamKind } from './bodies.js';
import { frameInterleaved } from './codec.js';
import type { RtspConnection } from './conn.js';
import { controlOfStream, describeTarget, infoFromHeader, pathOf } from './describe.js';
import { LivePacketizers, randomSequence, randomSsrc, rtspFramer } from './framer.js';
import { END_OF_STREAM_NOTICE, formatRtpInfo } from './headers.js';
import { buildBye, buildSenderReport, parseRtcp } from './rtcp.js';
import { AsfRtpPacketizer, type LengthMode } from './rtp-asf.js';
import type { UdpPair } from './udp-ports.js';

export type SessionTransport = { kind: 'tcp'; channel: number; rtcpChannel: number } | { kind: 'udp'; address: string; rtpPort: number; rtcpPort: number };

export interface SessionDeps {
  log: Logger;
  live: LivePacketizers;
  serverName: string;
  /** RTP packets are at most this over UDP */
  udpMaxPacket: number;
  /** bits/s a UDP player gets at most (fast start included) */
  udpMaxBitrate: number;
  lengthMode: LengthMode;
  stripPadding: boolean;
  onSessionEnd(summary: SessionSummary): void;
}

const PAYLOAD_TYPE = 96;
const SR_EVERY_MS = 5000;
/** the least time the UDP BYEs trail the last data datagram (see goodbye) */
const UDP_BYE_DELAY_MS = 400;

export interface StartOptions extends Pick<PlayOptions, 'startTimeMs' | 'startPacket' | 'maxDurationMs' | 'accel' | 'linkBandwidth'> {}

export class RtspSession {
  lastSeen = Date.now();
  state: 'INIT' | 'READY' | 'PLAYING' = 'INIT';
  features: Set<string>;
  transport: SessionTransport | undefined;
  /** the client's RTP port of the retransmission stream (packet-pair goes there) */
  rtxPort: number | undefined;
  udp: UdpPair | undefined;
  readonly selected = new Set<number>();
  readonly rtxSsrc = randomSsrc();
  playlistGenId = 0;
  /** the header the player has (from DESCRIBE or the last ANNOUNCE) */
  private clientHeader: Buffer;
  private readonly ownSsrc = randomSsrc();
  private packetizer: AsfRtpPacketizer | undefined;
  private ownPacketizer: AsfRtpPacketizer | undefined;
  private handle: PlayHandle | null = null;
  /** bumped by every start and stop: the data-path callbacks of an older playback are ignored */
  private generation = 0;
  private readonly folded = new WeakSet<PlayHandle>();
  private endReason: 'finished' | 'error' | undefined;
  /** ANNOUNCE sent to a player that did not allow predictive stream selection: it must PLAY again */
  private awaitingPlay = false;
  private lastSrAt = 0;
  private readonly totals = { bytes: 0, packets: 0 };
  private status = 200;
  private readonly startedAt = Date.now();
  private gone = false;
  /** the UDP BYEs still owed for the end of a playback generation (see goodbye) */
  private bye: { generation: number; dueAt: number } | undefined;

  constructor(
    readonly id: string,
    readonly target: MediaTarget,
    /** the presentation URL as the player named it */
    readonly url: string,
    public info: ContentDescription,
    public conn: RtspConnection | null,
    readonly remote: string,
    readonly userAgent: string,
    private readonly deps: SessionDeps,
  ) {
    this.features = new Set(conn?.features ?? []);
    this.clientHeader = info.headerBytes;
  }

  get numericId(): number {
    return Number(this.id);
  }

  get playing(): boolean {
    return this.state === 'PLAYING' && this.handle !== null;
  }

  /** what the listener and the session table must not time out: an interleaved stream on a live connection */
  get busy(): boolean {
    return this.playing && this.transport?.kind === 'tcp' && this.conn !== null && !this.conn.isClosed;
  }

  /** the SSRC announced in SETUP: a live point's per transport (its players share RTP packets), else the session's */
  ssrcFor(transport: SessionTransport): number {
    return this.target.kind === 'broadcast' ? this.deps.live.ssrc(this.target.point, this.form(transport)) : this.ownSsrc;
  }

  private form(t: SessionTransport): string {
    return t.kind === 'tcp' ? `tcp:${t.channel}` : `udp:${this.deps.udpMaxPacket}`;
  }

  streamUrl(stream: number): string {
    return `${this.url}/${controlOfStream(this.info, stream)}`;
  }

  /** RTP-Info of the selected streams: one RTP session carries them all, so one sequence number */
  rtpInfo(): string {
    const seq = this.packetizer?.nextSequence;
    return formatRtpInfo([...this.selected].map((n) => ({ url: this.streamUrl(n), seq, rtptime: 0 })));
  }

  /**
   * Starts (or restarts at a new position) the playback. `response` is the PLAY response: over TCP it goes out
   * as the head of the stream, before the first RTP packet; over UDP once the core accepted the player.
   */
  async start(opts: StartOptions, response: () => Buffer): Promise<void> {
    const transport = this.transport;
    const conn = this.conn;
    if (!transport || !conn) throw new MssError('unavailable', 'session has no transport', { status: 455 });
    this.stop('restarted');
    const streams = this.target.chooseStreams(this.info, this.selected.size > 0 ? this.selected : undefined, opts.linkBandwidth);
    const locid = this.features.has('com.microsoft.wm.locid');
    const base = {
      payloadType: PAYLOAD_TYPE,
      ssrc: this.ssrcFor(transport),
      maxPacketSize: transport.kind === 'tcp' ? 0xffff : this.deps.udpMaxPacket,
      lengthMode: this.deps.lengthMode,
      locationId: locid,
      stripPadding: this.deps.stripPadding,
      interleavedChannel: transport.kind === 'tcp' ? transport.channel : undefined,
    };
    const selection = streams ? [...streams].sort((a, b) => a - b).join(',') : '*';
    const packetKey = `rtsp|${this.form(transport)}|${locid ? 'l' : ''}`;
    // an on-demand session keeps its numbering across seeks: packets of the old position still on their way then
    // look late to the player (FFmpeg drops an RTP packet numbered below the last one it took)
    this.packetizer =
      this.target.kind === 'broadcast'
        ? this.deps.live.get(`${this.target.point}|${packetKey}|${selection}`, base)
        : (this.ownPacketizer ??= new AsfRtpPacketizer({ ...base, initialSequence: randomSequence() }));
    const framer = rtspFramer({
      name: `rtsp:${this.id}`,
      packetKey,
      datagram: transport.kind === 'udp',
      packetizer: this.packetizer,
      events: { onHeader: (h) => this.onHeader(h), onStreamChange: () => this.onStreamChange(), onEnd: (r) => (this.endReason = r) },
    });
    const gen = ++this.generation;
    this.endReason = undefined;
    this.awaitingPlay = false;
    let sink: PlayerSink;
    let tcp: SocketSink | undefined;
    if (transport.kind === 'tcp') {
      tcp = new SocketSink(conn.socket, { head: response(), keepOpen: true, onEnd: () => this.sinkDone(gen) });
      sink = tcp;
    } else {
      const udp = new UdpSink({ socket: this.udp!.rtp, address: transport.address, port: transport.rtpPort, connected: true, onError: () => undefined });
      udp.onClose(() => this.sinkDone(gen));
      sink = udp;
    }
    // UDP cannot push back: its fast start and catch-up are paced so a burst fits the player's socket buffer
    const maxBandwidth = transport.kind === 'udp' ? this.deps.udpMaxBitrate : undefined;
    const handle = await this.target.play({ ...opts, streams, sendHeader: false, maxBandwidth }, framer, sink, {
      protocol: 'rtsp',
      remote: this.remote,
      userAgent: this.userAgent,
      url: this.url,
      clientId: this.numericId,
    });
    this.handle = handle;
    this.state = 'PLAYING';
    this.status = 200;
    if (tcp) tcp.start();
    else conn.write(response());
    void handle.ended.then(() => this.fold(handle));
  }

  /** a finished playback's bytes and packets go into the session's totals, once */
  private fold(h: PlayHandle): void {
    if (this.folded.has(h)) return;
    this.folded.add(h);
    this.totals.bytes += h.stats.bytesSent;
    this.totals.packets += h.stats.packetsSent;
  }

  /** a PLAY the core refused: the session's status for its summary */
  refused(status: number): void {
    this.status = status;
  }

  /** PAUSE: on-demand holds the clock; a broadcast cannot wait, so the player leaves it and joins again on PLAY */
  pause(): void {
    if (this.handle?.pause && this.target.kind === 'ondemand') this.handle.pause();
    else this.stop('paused');
    this.state = 'READY';
  }

  /** PLAY without a Range after PAUSE: the on-demand clock goes on where it stood */
  resume(): boolean {
    if (!this.handle?.resume) return false;
    this.handle.resume();
    this.state = 'PLAYING';
    return true;
  }

  /** whether a paused on-demand playback can just continue */
  get resumable(): boolean {
    return this.state === 'READY' && this.handle !== null && this.handle.resume !== undefined && !this.awaitingPlay;
  }

  selectStreams(streams: ReadonlySet<number> | undefined): void {
    this.handle?.selectStreams?.(streams);
  }

  /** stops the playback (the player stays set up) */
  stop(why: string): void {
    const h = this.handle;
    if (!h) return;
    this.generation++;
    this.handle = null;
    h.stop(why);
    this.fold(h);
    if (this.state === 'PLAYING') this.state = 'READY';
  }

  /** the data path finished: EndOfStream unless the session stopped it itself */
  private sinkDone(gen: number): void {
    if (gen !== this.generation || this.gone) return;
    this.generation++;
    this.state = 'READY';
    if (this.handle) this.fold(this.handle);
    this.handle = null;
    this.endOfStream(this.endReason ? 'finished' : 'administrative');
    this.goodbye();
    this.conn?.settle();
  }

  /**
   * RTCP BYE at the end of the data: FFmpeg ignores EndOfStream requests (it answers them and reads on) and ends an
   * RTSP input only once it has counted one BYE per media description of the SDP, so one goes for each.
   * Over UDP the BYEs wait a moment (sent by a later sweep of the core's clock): FFmpeg polls its RTCP socket before
   * its RTP socket, so a busy player would read BYEs sent at once before the last data datagrams queued for it, and
   * drop those. A PLAY in the meantime (a seek after the end) cancels them.
   */
  private goodbye(): void {
    const t = this.transport;
    if (!this.packetizer || !t) return;
    if (t.kind === 'udp') {
      this.bye = { generation: this.generation, dueAt: performance.now() + UDP_BYE_DELAY_MS };
      return;
    }
    const bye = frameInterleaved(t.rtcpChannel, this.byeReport(this.packetizer));
    for (let i = 0; i < this.info.streams.length + 1; i++) this.conn?.write(bye);
  }

  /** the last sender report and the BYE, one compound RTCP packet */
  private byeReport(p: AsfRtpPacketizer): Buffer {
    return Buffer.concat([this.senderReport(p), buildBye(p.ssrc)]);
  }

  private senderReport(p: AsfRtpPacketizer): Buffer {
    return buildSenderReport({ ssrc: p.ssrc, unixMs: Date.now(), rtpTimestamp: p.lastTimestamp, packetCount: p.packetCount, octetCount: p.octetCount, cname: `mss-${this.id}` });
  }

  private endOfStream(kind: EndOfStreamKind): void {
    const conn = this.conn;
    if (!conn || conn.isClosed) return;
    conn.request('SET_PARAMETER', this.url, {
      Session: this.id,
      'Content-Type': 'application/x-wms-extension-cmd',
      'X-Notice': END_OF_STREAM_NOTICE,
      'RTP-Info': this.selected.size > 0 ? this.rtpInfo() : undefined,
      'X-Playlist-Gen-Id': this.playlistGenId || undefined,
      'User-Agent': this.deps.serverName,
      Date: new Date().toUTCString(),
    }, buildEndOfStreamBody({ sessionId: this.id, kind }));
  }

  private onStreamChange(): void {
    this.endOfStream('playlist-entry');
  }

  /** the core shows the header of the packets that follow: a new one is announced */
  private onHeader(headerBytes: Buffer): void {
    if (headerBytes.equals(this.clientHeader)) return;
    try {
      this.info = infoFromHeader(headerBytes, this.info);
    } catch (err) {
      this.deps.log.warn('rtsp.bad-header', { remote: this.remote, session: this.id, error: err });
      return;
    }
    this.clientHeader = headerBytes;
    this.playlistGenId = (this.playlistGenId % 0xfffffffe) + 1;
    const sdp = Buffer.from(describeTarget(this.target, this.info, this.url, this.playlistGenId), 'utf8');
    this.conn?.request('ANNOUNCE', this.url, {
      Session: this.id,
      'Content-Type': 'application/sdp',
      'X-Playlist-Gen-Id': this.playlistGenId,
      'User-Agent': this.deps.serverName,
      Date: new Date().toUTCString(),
    }, sdp);
    // without predictive stream selection the player chooses again and PLAYs: nothing is sent until then
    if (!this.features.has('com.microsoft.wm.predstrm')) {
      this.awaitingPlay = true;
      queueMicrotask(() => this.stop('new header announced'));
    }
  }

  /** RTCP from the player (UDP, or an odd interleaved channel): a report keeps the session alive */
  rtcp(data: Buffer): void {
    try {
      const packets = parseRtcp(data);
      if (packets.some((p) => p.type === 'rr' || p.type === 'sr' || p.type === 'sdes')) this.lastSeen = Date.now();
    } catch {
      // not RTCP (a NAT punch packet): ignored
    }
  }

  /** the core's clock: a sender report every few seconds while playing */
  tick(now: number): void {
    if (this.bye && now >= this.bye.dueAt) this.udpGoodbye();
    if (!this.playing || !this.packetizer || now - this.lastSrAt < SR_EVERY_MS) return;
    this.lastSrAt = now;
    const sr = this.senderReport(this.packetizer);
    const t = this.transport;
    if (t?.kind === 'tcp') this.conn?.write(frameInterleaved(t.rtcpChannel, sr));
    else if (t?.kind === 'udp' && this.udp) this.udp.rtcp.send(sr, t.rtcpPort, t.address, () => undefined);
  }

  private udpGoodbye(): void {
    const gen = this.bye?.generation;
    this.bye = undefined;
    const t = this.transport;
    if (gen !== this.generation || this.gone || !this.udp || !this.packetizer || t?.kind !== 'udp') return;
    const bye = this.byeReport(this.packetizer);
    for (let i = 0; i < this.info.streams.length + 1; i++) this.udp.rtcp.send(bye, t.rtcpPort, t.address, () => undefined);
  }

  /** the control connection closed: an interleaved stream cannot go on; a UDP one may (RTCP keeps it) */
  connectionClosed(conn: RtspConnection): void {
    if (this.conn !== conn) return;
    this.conn = null;
    if (this.transport?.kind !== 'udp') this.stop('connection closed');
  }

  /** the end: stop, free the ports, close the connection if asked, one summary */
  end(why: string, closeConnection: boolean): void {
    if (this.gone) return;
    this.stop(why);
    this.gone = true;
    this.udp?.release();
    if (closeConnection) this.conn?.end();
    this.deps.onSessionEnd({
      protocol: 'rtsp',
      remoteAddress: this.remote,
      url: pathOf(this.url),
      point: this.target.point,
      userAgent: this.userAgent,
      clientId: this.numericId,
      start: this.startedAt,
      durationMs: Date.now() - this.startedAt,
      bytesSent: this.totals.bytes,
      packetsSent: this.totals.packets,
      status: this.status,
      transport: this.transport?.kind === 'udp' ? 'UDP' : 'TCP',
    });
    this.deps.log.info('rtsp.session-ended', { remote: this.remote, point: this.target.point, session: this.id, reason: why, bytes: this.totals.bytes, packets: this.totals.packets });
  }
}
