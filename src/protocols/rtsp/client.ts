/**
 * RTSP-WME client (MS-RTSP 3.1), the way `mss play` talks to a Windows Media server: OPTIONS, DESCRIBE (the ASF
 * header from the SDP), one SETUP per selected stream (RTP/AVP/TCP interleaved, or RTP/AVP/UDP with a local port
 * pair; RTCP receiver reports over UDP), PLAY from a time or an ASF packet number, keep-alives within the session
 * timeout, EndOfStream and ANNOUNCE from the server, the LogPlay log, TEARDOWN. Emits the ASF packets padded back to
 * the packet size, with their LocationId (asked for with com.microsoft.wm.locid), in the events a WMSP stream has.
 */
import type { ClientStreamEvents } from '../shared/client-stream.js';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { parseHeaderObject, type AsfHeader } from '../../asf/header.js';
import { restorePadding } from '../../asf/packet-facts.js';
import { MssError, toMssError } from '../../core/errors.js';
import { chooseRequestedStreams } from '../shared/stream-choice.js';
import { parseEndOfStreamBody } from './bodies.js';
import { RtspControl, type Credentials } from './client-control.js';
import type { InterleavedFrame, RtspRequest, RtspResponse } from './codec.js';
import { formatRange, parseSession, parseTransport } from './headers.js';
import { buildReceiverReport } from './rtcp.js';
import { parseRtpPacket, sequenceDelta } from './rtp.js';
import { AsfRtpDepacketizer } from './rtp-asf.js';
import { parseWmsSdp, resolveControl, type WmsSdp } from './sdp.js';

export const DEFAULT_RTSP_PORT = 554;
const CLIENT_FEATURES = 'com.microsoft.wm.eosmsg, com.microsoft.wm.sswitch, com.microsoft.wm.locid, com.microsoft.wm.predstrm';
const RR_EVERY_MS = 5000;
/** packets held while the consumer asked for a pause over UDP (which cannot push back); more are dropped */
const MAX_HELD = 4096;

export interface RtspOpenOptions {
  startMs?: number;
  /** resume at this ASF packet number (on-demand); wins over startMs */
  packetNumber?: number;
  streams?: readonly number[];
  maxBitrate?: number;
  credentials?: Credentials;
  userAgent?: string;
  /** the player's GUID, sent in the User-Agent as MS-RTSP 2.2.6.12 asks */
  clientGuid?: string;
  timeoutMs?: number;
  /** RTP interleaved on the RTSP connection (default) or over UDP */
  transport?: 'tcp' | 'udp';
}

export interface RtspDescribeInfo {
  /** the presentation URL */
  url: URL;
  sessionId: string | undefined;
  broadcast: boolean;
  seekable: boolean;
  headerBytes: Buffer;
  header: AsfHeader;
  server: string | undefined;
  selectedStreams: number[];
}

export type RtspStreamEvents = ClientStreamEvents<RtspDescribeInfo>;

/** rtsp://, rtspt:// (TCP) and rtspu:// (UDP) all speak RTSP; requests name rtsp:// */
export function toRtspUrl(input: string | URL): { url: URL; transport: 'tcp' | 'udp' | undefined } {
  const u = new URL(String(input));
  if (!['rtsp:', 'rtspt:', 'rtspu:'].includes(u.protocol)) throw new MssError('invalid-argument', `RTSP needs an rtsp://, rtspt:// or rtspu:// URL, got ${u.protocol}//`);
  const transport = u.protocol === 'rtspu:' ? 'udp' : u.protocol === 'rtspt:' ? 'tcp' : undefined;
  const url = new URL(`rtsp://${u.host}${u.pathname}${u.search}`);
  url.username = u.username;
  url.password = u.password;
  return { url, transport };
}

function statusError(res: RtspResponse, what: string): MssError {
  const s = res.status;
  const text = `${what}: RTSP ${s} ${res.reason}`;
  if (s === 401 || s === 407) return new MssError('unauthorized', `${text}, credentials missing or refused`, { status: s });
  if (s === 403) return new MssError('forbidden', text, { status: s });
  if (s === 404) return new MssError('not-found', `${text}, no such content`, { status: s });
  if (s === 453 || s === 503) return new MssError('limit-reached', `${text}, server busy or at its player limit`, { status: s });
  if (s === 461) return new MssError('unsupported', `${text}, the transport was refused`, { status: s });
  return new MssError('unavailable', text, { status: s });
}

/** a local even/odd UDP port pair for RTP and RTCP */
async function bindPair(host: string): Promise<{ rtp: DgramSocket; rtcp: DgramSocket; port: number }> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  for (let attempt = 0; attempt < 32; attempt++) {
    const port = 2 * randomInt(10000, 30000);
    const bind = (p: number) =>
      new Promise<DgramSocket>((resolve, reject) => {
        const s = createSocket(type);
        s.once('error', (e) => {
          s.close();
          reject(e);
        });
        s.bind(p, () => resolve(s));
      });
    let rtp: DgramSocket | undefined;
    try {
      rtp = await bind(port);
      const rtcp = await bind(port + 1);
      return { rtp, rtcp, port };
    } catch {
      rtp?.close();
    }
  }
  throw new MssError('unavailable', 'RTSP: no free local UDP port pair for RTP/RTCP');
}

export class RtspStream extends EventEmitter<RtspStreamEvents> {
  readonly stats = { bytesReceived: 0, packetsReceived: 0, packetsLost: 0, lastLocationId: undefined as number | undefined };
  info: RtspDescribeInfo | undefined;
  private readonly control: RtspControl;
  private readonly transport: 'tcp' | 'udp';
  private readonly timeoutMs: number;
  private readonly credentials: Credentials | undefined;
  private readonly userAgent: string;
  private session: string | undefined;
  private sessionTimeoutS = 60;
  private sdp: WmsSdp | undefined;
  /** what stream control URLs are relative to */
  private base = '';
  private header: AsfHeader | undefined;
  private depacketizer: AsfRtpDepacketizer | undefined;
  private udp: { rtp: DgramSocket; rtcp: DgramSocket; port: number; serverRtcp?: number; serverAddress: string } | undefined;
  private channels = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private lastDataAt = 0;
  private lastRrAt = 0;
  private lastSeq: number | undefined;
  private ssrc = randomInt(1, 0xffffffff);
  private nextLocationId = 0;
  private paused = false;
  private held: Array<[Buffer, number]> = [];
  private closed = false;
  private finished = false;
  private ending: NodeJS.Timeout | null = null;

  constructor(
    readonly url: URL,
    private readonly opts: RtspOpenOptions = {},
    transport?: 'tcp' | 'udp',
  ) {
    super();
    this.transport = transport ?? opts.transport ?? 'tcp';
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    const ua = `${opts.userAgent ?? 'WMPlayer/9.0.0.2980 mss-play/0.1'}${opts.clientGuid ? ` guid/${opts.clientGuid.replace(/[{}]/g, '')}` : ''}`;
    this.credentials = opts.credentials ?? (url.username ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined);
    this.userAgent = ua;
    this.control = new RtspControl(url.hostname.replace(/^\[|\]$/g, ''), url.port ? Number(url.port) : DEFAULT_RTSP_PORT, ua, this.timeoutMs, this.credentials, {
      serverRequest: (req) => this.onServerRequest(req),
      interleaved: (frame) => this.onInterleaved(frame),
      lost: (err) => this.fail(err),
    });
  }

  /** the URL requests name (no credentials in it) */
  private get presentation(): string {
    return `rtsp://${this.url.host}${this.url.pathname.replace(/\/+$/, '')}${this.url.search}`;
  }

  start(): this {
    this.run().catch((err) => this.fail(toMssError(err, 'unavailable')));
    return this;
  }

  pause(): void {
    this.paused = true;
    if (this.transport === 'tcp') this.control.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.transport === 'tcp') this.control.resume();
    const held = this.held;
    this.held = [];
    for (const [p, loc] of held) this.emit('packet', p, { locationId: loc });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.ending) clearTimeout(this.ending);
    if (this.session && this.control.isOpen) void this.control.request('TEARDOWN', this.presentation, { Session: this.session }).catch(() => undefined);
    setTimeout(() => this.control.close(), 200).unref();
    this.udp?.rtp.close();
    this.udp?.rtcp.close();
    this.emit('close');
  }

  /** LogPlay (MS-RTSP 2.2.7.7) on the session's connection, or on a connection of its own once that is gone */
  async sendLog(xml: string): Promise<number> {
    const body = Buffer.from(xml, 'utf8');
    const headers = { 'Content-Type': 'application/x-wms-Logplaystats;charset=UTF-8', ...(this.session && this.control.isOpen ? { Session: this.session } : {}) };
    if (this.control.isOpen && !this.closed) return (await this.control.request('SET_PARAMETER', this.presentation, headers, body)).status;
    const one = new RtspControl(this.url.hostname.replace(/^\[|\]$/g, ''), this.url.port ? Number(this.url.port) : DEFAULT_RTSP_PORT, this.userAgent, this.timeoutMs, this.credentials, { serverRequest: () => undefined, interleaved: () => undefined, lost: () => undefined });
    await one.connect();
    try {
      return (await one.request('SET_PARAMETER', this.presentation, { 'Content-Type': 'application/x-wms-Logplaystats;charset=UTF-8' }, body)).status;
    } finally {
      one.close();
    }
  }

  private fail(err: MssError): void {
    if (this.closed || this.finished) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    this.control.close();
    this.emit('error', err);
  }

  private async run(): Promise<void> {
    await this.control.connect();
    const options = await this.control.request('OPTIONS', this.presentation, { Supported: CLIENT_FEATURES });
    if (options.status === 401) throw statusError(options, `OPTIONS ${this.url.host}${this.url.pathname}`);
    const described = await this.describe();
    if (this.closed) return;
    this.info = described;
    this.emit('describe', described);
    await this.setup(described);
    if (this.closed) return;
    await this.play(described);
  }

  private async describe(): Promise<RtspDescribeInfo> {
    const where = `DESCRIBE ${this.url.host}${this.url.pathname}`;
    const res = await this.control.request('DESCRIBE', this.presentation, { Accept: 'application/sdp', Supported: CLIENT_FEATURES, 'X-Accept-Authentication': 'Digest, Basic' });
    if (res.status !== 200) throw statusError(res, where);
    const sdp = parseWmsSdp(res.body.toString('utf8'));
    if (!sdp.asfHeader) throw new MssError('unsupported', `${where}: not a Windows Media RTSP server (no ASF header in the SDP; Server: ${this.control.server ?? 'none'})`);
    const header = parseHeaderObject(sdp.asfHeader, 0);
    this.sdp = sdp;
    this.header = header;
    this.depacketizer = new AsfRtpDepacketizer(header.fileProperties.packetSize + 2);
    this.base = sdp.control && /^rtsp:/i.test(sdp.control) ? sdp.control : (res.headers.get('content-base') ?? this.presentation);
    const broadcast = sdp.features.includes('broadcast') || header.fileProperties.broadcast;
    return {
      url: this.url,
      sessionId: undefined,
      broadcast,
      seekable: !broadcast && !sdp.features.includes('notseekable'),
      headerBytes: sdp.asfHeader,
      header,
      server: this.control.server,
      selectedStreams: chooseRequestedStreams(header, this.opts, this.url.pathname),
    };
  }

  private async setup(info: RtspDescribeInfo): Promise<void> {
    const sdp = this.sdp!;
    if (this.transport === 'udp') {
      const pair = await bindPair(this.url.hostname);
      this.udp = { ...pair, serverAddress: '' };
      pair.rtp.on('message', (msg) => this.onRtp(msg));
      pair.rtcp.on('message', () => (this.lastDataAt = Date.now()));
    }
    let index = 0;
    for (const media of sdp.media) {
      if (media.stream === undefined || !info.selectedStreams.includes(media.stream)) continue;
      const ch = 2 * index++;
      const transport = this.udp ? `RTP/AVP/UDP;unicast;client_port=${this.udp.port}-${this.udp.port + 1};mode=PLAY` : `RTP/AVP/TCP;unicast;interleaved=${ch}-${ch + 1};mode=PLAY`;
      const res = await this.control.request('SETUP', resolveControl(this.base, media.control), { Transport: transport, ...(this.session ? { Session: this.session } : {}) });
      if (res.status !== 200) throw statusError(res, `SETUP ${media.control ?? media.stream}`);
      const s = res.headers.get('session');
      if (!s) throw new MssError('malformed', 'RTSP SETUP: the answer has no Session');
      const parsed = parseSession(s);
      this.session = parsed.id;
      if (parsed.timeout) this.sessionTimeoutS = parsed.timeout;
      const answered = parseTransport(res.headers.get('transport') ?? '')[0];
      if (this.udp && answered?.serverPort) {
        this.udp.serverRtcp = answered.serverPort[1];
        this.udp.serverAddress = this.url.hostname.replace(/^\[|\]$/g, '');
      }
      if (!this.udp) this.channels.add(answered?.interleaved?.[0] ?? ch);
    }
    if (!this.session) throw new MssError('invalid-argument', `none of the streams ${info.selectedStreams.join(', ')} is in the SDP`);
    info.sessionId = this.session;
  }

  private async play(info: RtspDescribeInfo): Promise<void> {
    const headers: Record<string, string> = { Session: this.session! };
    if (info.seekable && this.opts.packetNumber !== undefined) headers.Range = `x-asf-packet=${this.opts.packetNumber}-`;
    else headers.Range = formatRange({ unit: 'npt', start: info.seekable ? Math.max(0, this.opts.startMs ?? 0) : 0 });
    if (this.opts.maxBitrate) headers.Bandwidth = String(this.opts.maxBitrate);
    this.nextLocationId = info.seekable ? (this.opts.packetNumber ?? 0) : 0;
    // the packets that follow are of the DESCRIBE's header (an ANNOUNCE says when that changes)
    this.emit('header', info.headerBytes, info.header);
    this.lastDataAt = Date.now();
    const res = await this.control.request('PLAY', this.presentation, headers);
    if (res.status !== 200) throw statusError(res, `PLAY ${this.url.pathname}`);
    this.lastDataAt = Date.now();
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  /** keep-alives, receiver reports, and the inactivity limit */
  private tick(): void {
    const now = Date.now();
    if (this.session && now - this.control.lastRequestAt > (this.sessionTimeoutS * 1000) / 2) {
      void this.control.request('GET_PARAMETER', this.presentation, { Session: this.session }).catch(() => undefined);
    }
    if (this.udp?.serverRtcp && now - this.lastRrAt > RR_EVERY_MS) {
      this.lastRrAt = now;
      const rr = buildReceiverReport({ ssrc: this.ssrc, cname: `mss-play-${this.ssrc}`, reports: [] });
      this.udp.rtcp.send(rr, this.udp.serverRtcp, this.udp.serverAddress, () => undefined);
    }
    if (!this.paused && !this.ending && now - this.lastDataAt > this.timeoutMs) {
      this.fail(new MssError('timeout', `RTSP: no media from ${this.url.host} for ${this.timeoutMs} ms`, { lostConnection: true }));
    }
  }

  private onInterleaved(frame: InterleavedFrame): void {
    if (frame.channel % 2 === 1) return; // RTCP sender reports: nothing a player needs here
    this.onRtp(frame.data);
  }

  private onRtp(data: Buffer): void {
    if (this.finished || this.closed || !this.depacketizer || !this.header) return;
    this.lastDataAt = Date.now();
    this.stats.bytesReceived += data.length;
    let rtp;
    try {
      rtp = parseRtpPacket(data);
    } catch {
      return; // not RTP (a stray datagram): ignored
    }
    // late or duplicate (a jump far back is a new numbering, e.g. after the server restarted the stream)
    if (this.lastSeq !== undefined) {
      const d = sequenceDelta(this.lastSeq, rtp.sequence);
      if (d <= 0 && d > -1000) return;
    }
    this.lastSeq = rtp.sequence;
    const size = this.header.fileProperties.packetSize;
    try {
      for (const got of this.depacketizer.push(rtp)) {
        const locationId = got.locationId ?? this.nextLocationId;
        this.nextLocationId = locationId + 1;
        const packet = restorePadding(got.packet, size);
        const last = this.stats.lastLocationId;
        if (last !== undefined && locationId > last + 1 && this.info && this.info.selectedStreams.length >= this.header.streams.length) this.stats.packetsLost += locationId - last - 1;
        this.stats.lastLocationId = locationId;
        this.stats.packetsReceived++;
        if (this.paused) {
          if (this.held.length < MAX_HELD) this.held.push([packet, locationId]);
          else this.stats.packetsLost++;
        } else this.emit('packet', packet, { locationId });
      }
    } catch (err) {
      this.fail(toMssError(err, 'malformed'));
    }
  }

  private onServerRequest(req: RtspRequest): void {
    if (req.method === 'SET_PARAMETER' && /x-wms-extension-cmd/i.test(req.headers.get('content-type') ?? '')) {
      let kind = 'finished';
      try {
        kind = parseEndOfStreamBody(req.body).kind;
      } catch {
        // an EndOfStream with a body we cannot read still ends the stream
      }
      if (kind === 'playlist-entry') return; // an ANNOUNCE follows with the next entry's header
      // over UDP the last RTP packets may still be on their way: wait until they stop coming
      if (this.transport === 'udp') this.settleThenEnd();
      else this.finish();
      return;
    }
    if (req.method === 'ANNOUNCE') {
      try {
        const sdp = parseWmsSdp(req.body.toString('utf8'));
        if (!sdp.asfHeader) return;
        const header = parseHeaderObject(sdp.asfHeader, 0);
        this.header = header;
        this.depacketizer = new AsfRtpDepacketizer(header.fileProperties.packetSize + 2);
        this.emit('stream-change');
        this.emit('header', sdp.asfHeader, header);
      } catch (err) {
        this.fail(toMssError(err, 'malformed'));
      }
    }
  }

  private settleThenEnd(): void {
    const started = Date.now();
    const check = () => {
      if (Date.now() - this.lastDataAt > 300 || Date.now() - started > 3000) this.finish();
      else this.ending = setTimeout(check, 100);
    };
    this.ending = setTimeout(check, 100);
  }

  private finish(): void {
    if (this.finished || this.closed) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    if (this.paused && this.held.length > 0) {
      // the consumer gets what it was holding back before the end
      const held = this.held;
      this.held = [];
      for (const [p, loc] of held) this.emit('packet', p, { locationId: loc });
    }
    this.emit('end', 0);
  }
}

/** Opens an RTSP stream (DESCRIBE, SETUP, PLAY) and starts it. */
export function openRtspStream(input: string | URL, opts: RtspOpenOptions = {}): RtspStream {
  const { url, transport } = toRtspUrl(input);
  return new RtspStream(url, opts, transport).start();
}
