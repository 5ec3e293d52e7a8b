/**
 * MS-MMSP client (the player side, MS-MMSP 3.1): `mmst://` (Data packets on the TCP control connection) and
 * `mmsu://` (Data packets over UDP to a port of ours, resend requests for lost ones). Connect, FunnelInfo (with
 * packet-pair when asked), ConnectFunnel, OpenFile (with Basic credentials when the server challenges), ReadBlock
 * for the ASF header, StreamSwitch, StartPlaying at a time or packet, then media until ReportEndOfStream; pings
 * are answered, playlist stream changes followed, and close() stops, sends the log (if any) and closes the file.
 *
 * The session's state machine lives here, its control connection in client-control.ts, the UDP side in
 * client-udp.ts; every byte goes through the pure codec.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { MssError, toMssError } from '../../core/errors.js';
import { parseHeaderObject, type AsfHeader } from '../../asf/header.js';
import { FILE_ATTRIBUTES, HRESULT, PACKET_PAIR, errorCodeForHresult, formatFunnelName, hex32, type MmsDataPacket } from './codec.js';
import { POSITION_UNSET, type MacMessage, type OpenFileReport } from './messages.js';
import { HeaderAssembler, Incarnations, chooseStreams, streamSwitchEntries } from './client-parts.js';
import type { MmsDescribeInfo, MmsOpenOptions, MmsStreamEvents, MmsStreamStats } from './client-types.js';
import { ControlChannel, DEFAULT_MMS_PORT } from './client-control.js';
import { UdpReceiver } from './client-udp.js';

export { DEFAULT_MMS_PORT };
export type { MmsDescribeInfo, MmsOpenOptions, MmsStreamEvents, MmsStreamStats } from './client-types.js';
export const DEFAULT_SUBSCRIBER = 'NSPlayer/9.0.0.2980';
const MAX_REDIRECTS = 5;
/** how long close() keeps the connection for a last Logging message */
const LOG_GRACE_MS = 1500;

type Phase = 'connecting' | 'header' | 'ready' | 'starting' | 'streaming' | 'changing' | 'closing' | 'done';

export class MmsStream extends EventEmitter<MmsStreamEvents> {
  readonly stats: MmsStreamStats = { bytesReceived: 0, packetsReceived: 0, packetsLost: 0, longestLossRun: 0, lastLocationId: undefined, resendRequests: 0, packetsRecovered: 0 };
  info: MmsDescribeInfo | undefined;
  readonly transport: 'tcp' | 'udp';
  private ctl: ControlChannel;
  private phase: Phase = 'connecting';
  private readonly inc = new Incarnations();
  private header: HeaderAssembler | null = null;
  private headerIncarnation = 0;
  private mediaIncarnations = new Set<number>();
  private playIncarnation = 0;
  private udp: UdpReceiver | null = null;
  private finished = false;
  private closed = false;
  private url: URL;
  private readonly timeoutMs: number;
  private readonly guid: string;
  private authScheme = '';
  private funnelPairs: number[] = [];
  private packetSize = 0;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(url: URL, private readonly opts: MmsOpenOptions = {}) {
    super();
    this.url = url;
    this.transport = opts.transport ?? (url.protocol === 'mmsu:' ? 'udp' : 'tcp');
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.guid = opts.clientGuid ?? `{${randomUUID().toUpperCase()}}`;
    this.ctl = this.channel();
  }

  start(): this {
    this.run().catch((err) => this.fail(toMssError(err, 'unavailable')));
    return this;
  }

  pause(): void {
    this.ctl.pause();
    this.udp?.pause();
  }

  resume(): void {
    this.ctl.resume();
    this.udp?.resume();
  }

  /** StopPlaying (when streaming), then CloseFile once a last log was sent or after a short grace period. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const streaming = this.phase === 'streaming' || this.phase === 'starting';
    this.phase = 'closing';
    this.udp?.close();
    if (!this.ctl.open || !this.info) return this.teardown();
    if (streaming) this.ctl.send({ type: 'StopPlaying', openFileId: this.info.openFile.openFileId, playIncarnation: this.playIncarnation });
    this.linger();
  }

  /** keeps the control connection a moment for a last log, then closes the file */
  private linger(): void {
    if (this.closeTimer || this.phase === 'done') return;
    this.closeTimer = setTimeout(() => this.closeFile(), LOG_GRACE_MS);
    this.closeTimer.unref();
  }

  /**
   * Sends a CLIENT_LOG (LinkViewerToMacLogging) on the control connection, also in the grace period after close().
   * MMS has no reply to it: resolves once the bytes are handed to the socket.
   */
  sendLogging(clientLog: Buffer): Promise<void> {
    if (!this.ctl.open || this.phase === 'done' || !this.info) return Promise.reject(new MssError('unavailable', 'MMS: no open control connection to send the log on'));
    const done = this.ctl.sendFlushed({ type: 'Logging', log: clientLog });
    if (this.closed || this.finished) void done.then(() => this.closeFile(), () => this.closeFile());
    return done;
  }

  /** a new start position on the same connection: StopPlaying, ReportEndOfStream, StreamSwitch, StartPlaying */
  async seek(to: { ms?: number; packet?: number }): Promise<void> {
    if (this.phase !== 'streaming' && this.phase !== 'ready') throw new MssError('invalid-argument', `MMS seek: not playing (${this.phase})`);
    const info = this.info!;
    if (this.phase === 'streaming') {
      this.phase = 'ready';
      this.mediaIncarnations.clear();
      this.ctl.send({ type: 'StopPlaying', openFileId: info.openFile.openFileId, playIncarnation: this.playIncarnation });
      await this.ctl.expect(['ReportEndOfStream'], 'ReportEndOfStream after StopPlaying');
    }
    await this.play({ startMs: to.ms, packetNumber: to.packet });
  }

  // -- plumbing --------------------------------------------------------------------------------------------------

  private channel(): ControlChannel {
    return new ControlChannel(this.url, this.timeoutMs, {
      onMessage: (m) => this.onControl(m),
      onData: (d) => this.onData(d, 'tcp'),
      onBytes: (n) => (this.stats.bytesReceived += n),
      onFailure: (err) => {
        if (this.phase !== 'done' && !this.closed) this.fail(err);
      },
    });
  }

  private fail(err: MssError): void {
    if (this.finished) return;
    this.finished = true;
    this.teardown();
    if (!this.closed) this.emit('error', err);
  }

  private teardown(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.phase = 'done';
    this.udp?.close();
    this.ctl.destroy();
    this.emit('close');
  }

  private closeFile(): void {
    if (this.phase === 'done') return;
    if (this.info) this.ctl.send({ type: 'CloseFile', playIncarnation: 0, openFileId: this.info.openFile.openFileId });
    this.phase = 'done';
    this.ctl.end();
    this.teardown();
  }

  /** every message the server sends, first: true when handled here (else a waiting expect() gets it) */
  private onControl(m: MacMessage): boolean {
    if (this.finished) return true;
    if (m.type === 'Ping') {
      this.ctl.send({ type: 'Pong', param1: 0, param2: 0 });
      return true;
    }
    if ('hr' in m && m.hr !== HRESULT.ok && !(m.type === 'ReportEndOfStream' && m.hr === HRESULT.entryEnded)) {
      const access = m.type === 'ReportOpenFile' && m.hr >>> 0 === HRESULT.accessDenied;
      // access denied over MMS: a point MMS cannot authenticate to (or an address list); another protocol may
      const code = access ? 'unsupported' : errorCodeForHresult(m.hr);
      this.fail(new MssError(code, `MMS ${this.url.host}${this.url.pathname}: ${m.type} failed with ${hex32(m.hr)}${access ? ' (access denied)' : ''}`, { hr: m.hr >>> 0 }));
      return true;
    }
    if (this.phase === 'streaming' || this.phase === 'changing') {
      if (m.type === 'ReportEndOfStream') return this.onEndOfStream(m.hr), true;
      if (m.type === 'ReportStreamChange') return this.onStreamChange(m), true;
    }
    if (m.type === 'ReportFunnelInfo' && m.playIncarnation === PACKET_PAIR.tcpHighEntropy) this.funnelPairs.push(performance.now());
    // media and the end of a short file may follow in the same read: streaming starts with this reply
    if (m.type === 'ReportStartedPlaying' && this.phase === 'starting') this.phase = 'streaming';
    return false;
  }

  /** Data packets from the TCP stream or the UDP receiver */
  private onData(d: MmsDataPacket, from: 'tcp' | 'udp'): void {
    if (this.header && (d.incarnation === this.headerIncarnation || (this.phase === 'changing' && d.incarnation === 0xff))) {
      try {
        if (this.header.add(d)) this.onHeaderComplete();
      } catch (err) {
        this.fail(toMssError(err, 'malformed'));
      }
      return;
    }
    if (!this.mediaIncarnations.has(d.incarnation)) return; // an old play's packet
    if (from === 'udp') return; // the UDP receiver orders and delivers through emitPacket
    this.emitPacket(d.payload, d.locationId);
  }

  private headerDone: (() => void) | null = null;

  private onHeaderComplete(): void {
    const bytes = this.header!.bytes();
    this.header = null;
    if (this.phase === 'changing') {
      const header = parseHeaderObject(bytes, 0);
      this.packetSize = header.fileProperties.packetSize;
      this.info = { ...this.info!, headerBytes: bytes, header };
      this.emit('stream-change');
      this.headerEmitted = true;
      this.emit('header', bytes, header);
      if (this.transport === 'udp') void this.restartAfterChange().catch((err) => this.fail(toMssError(err)));
      else this.phase = 'streaming';
      return;
    }
    this.lastHeader = bytes;
    this.headerDone?.();
  }

  private headerEmitted = false;

  private emitHeader(): void {
    if (this.headerEmitted || !this.info) return;
    this.headerEmitted = true;
    this.emit('header', this.info.headerBytes, this.info.header);
  }

  private emitPacket(payload: Buffer, locationId: number): void {
    this.emitHeader();
    const size = this.packetSize;
    if (payload.length > size) {
      this.fail(new MssError('malformed', `MMS Data packet ${locationId}: ${payload.length} bytes, the header's packet size is ${size}`));
      return;
    }
    // servers strip padding; players put it back
    const packet = payload.length === size ? Buffer.from(payload) : Buffer.concat([payload, Buffer.alloc(size - payload.length)]);
    const last = this.stats.lastLocationId;
    const thinned = this.info !== undefined && this.info.selectedStreams.length < this.info.header.streams.length;
    if (!thinned && this.transport === 'tcp' && last !== undefined && locationId > last + 1) {
      const run = locationId - last - 1;
      this.stats.packetsLost += run;
      this.stats.longestLossRun = Math.max(this.stats.longestLossRun, run);
    }
    this.stats.lastLocationId = locationId;
    this.stats.packetsReceived++;
    this.emit('packet', packet, { locationId });
  }

  // -- the session -----------------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    for (let hop = 0; ; hop++) {
      const redirect = await this.handshake();
      if (!redirect) break;
      if (hop >= MAX_REDIRECTS) throw new MssError('unavailable', `MMS ${this.url.host}: more than ${MAX_REDIRECTS} redirects`);
      this.ctl.destroy();
      this.udp?.close();
      this.udp = null;
      this.url = redirect;
      this.ctl = this.channel();
    }
    if (this.closed) return;
    await this.play({ startMs: this.opts.startMs, packetNumber: this.opts.packetNumber });
  }

  /** Connect … ReadBlock; resolves with a redirect URL when the server sends one */
  private async handshake(): Promise<URL | undefined> {
    this.phase = 'connecting';
    await this.ctl.connect();
    const local = this.ctl.localAddress;
    if (this.transport === 'udp') {
      this.udp = new UdpReceiver({
        localAddress: local,
        serverAddress: this.ctl.remoteAddress,
        serverPort: this.url.port ? Number(this.url.port) : DEFAULT_MMS_PORT,
        reorderMs: this.opts.reorderMs ?? 400,
        onData: (d) => this.onData(d, 'udp'),
        onMedia: (d) => this.emitPacket(d.payload, d.locationId),
        isMedia: (d) => this.mediaIncarnations.has(d.incarnation),
        stats: this.stats,
      });
      await this.udp.bind();
    }
    const product = this.opts.userAgent?.split(' ')[0] ?? DEFAULT_SUBSCRIBER;
    const pair = this.opts.packetPair === true;
    this.ctl.send({ type: 'Connect', playIncarnation: pair ? PACKET_PAIR.use : PACKET_PAIR.disabled, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: `${product}; ${this.guid}; Host: ${this.url.host}`, extras: [] });
    const connected = (await this.ctl.expect(['ReportConnectedEX'], 'ReportConnectedEX')) as Extract<MacMessage, { type: 'ReportConnectedEX' }>;
    this.authScheme = connected.authenPackage.toUpperCase();
    const wantPair = pair && connected.playIncarnation === PACKET_PAIR.use;
    this.ctl.send({ type: 'FunnelInfo', playIncarnation: wantPair ? (this.transport === 'udp' ? PACKET_PAIR.udpHighEntropy : PACKET_PAIR.tcpHighEntropy) : PACKET_PAIR.disabled });
    let funnel = (await this.ctl.expect(['ReportFunnelInfo'], 'ReportFunnelInfo')) as Extract<MacMessage, { type: 'ReportFunnelInfo' }>;
    let packetPairBps: number | undefined;
    if (funnel.playIncarnation === PACKET_PAIR.tcpHighEntropy) {
      // three replies: the gap between the first two measures the path
      await this.ctl.expect(['ReportFunnelInfo'], 'second ReportFunnelInfo');
      funnel = (await this.ctl.expect(['ReportFunnelInfo'], 'third ReportFunnelInfo')) as typeof funnel;
      const [a, b] = this.funnelPairs;
      if (a !== undefined && b !== undefined) packetPairBps = (512 * 8 * 1000) / Math.max(0.5, b - a);
    }
    const clientId = funnel.clientId;
    const port = this.transport === 'udp' ? this.udp!.port : this.ctl.localPort;
    this.ctl.send({ type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0x00989680, funnelMode: 2, funnelName: formatFunnelName({ address: local, transport: this.transport === 'udp' ? 'UDP' : 'TCP', port }) });
    const f = await this.ctl.expect(['ReportConnectedFunnel', 'ReportDisconnectedFunnel'], 'ReportConnectedFunnel');
    if (f.type === 'ReportDisconnectedFunnel') throw new MssError('unsupported', `MMS ${this.url.host}: the server refused ${this.transport.toUpperCase()} data (${hex32(f.hr)})`);
    const openFile = await this.openFile();
    if (openFile instanceof URL) return openFile;
    this.udp?.setIds(clientId, openFile.openFileId & 0xffff);
    this.packetSize = openFile.filePacketSize;
    const { bytes, header } = await this.readHeader(openFile);
    if (this.closed) return undefined;
    const broadcast = (openFile.fileAttributes & FILE_ATTRIBUTES.broadcast) !== 0 || header.fileProperties.broadcast;
    const selected = chooseStreams(header, this.opts.streams, this.opts.maxBitrate, this.url);
    this.info = {
      url: this.url,
      transport: this.transport,
      clientId,
      serverVersion: connected.serverVersion,
      broadcast,
      seekable: !broadcast && (openFile.fileAttributes & FILE_ATTRIBUTES.canSeek) !== 0,
      openFile,
      headerBytes: bytes,
      header,
      selectedStreams: selected,
      packetPairBps: packetPairBps ?? this.udp?.packetPairBps,
    };
    this.phase = 'ready';
    // the header event comes with the first packet: by then whoever took the describe listens
    this.headerEmitted = false;
    this.emit('describe', this.info);
    return undefined;
  }

  private async openFile(): Promise<OpenFileReport | URL> {
    const fileName = decodeURIComponent(this.url.pathname.replace(/^\//, '')) + this.url.search;
    const creds = this.opts.credentials ?? (this.url.username ? { user: decodeURIComponent(this.url.username), password: decodeURIComponent(this.url.password) } : undefined);
    const basic = creds ? Buffer.from(`${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}\0`, 'latin1') : undefined;
    // credentials go along at once only when the server said it authenticates with Basic
    this.ctl.send({ type: 'OpenFile', playIncarnation: this.inc.nextPlay(), spare: 0, fileName, token: basic && this.authScheme === 'BASIC' ? basic : Buffer.alloc(0) });
    for (let attempt = 0; ; attempt++) {
      const m = await this.ctl.expect(['ReportOpenFile', 'SecurityChallenge', 'ReportRedirect'], 'ReportOpenFile');
      if (m.type === 'ReportOpenFile') return m;
      if (m.type === 'ReportRedirect') return new URL(m.location);
      if (m.type !== 'SecurityChallenge') continue;
      const ntlm = m.token.length >= 2 && m.token[0] === 0 && m.token[1] === 0;
      if (!basic || ntlm || attempt >= 1) {
        throw new MssError('unauthorized', `MMS ${this.url.host}${this.url.pathname}: the server asks for ${ntlm ? 'NTLM' : 'Basic'} credentials${basic && !ntlm ? ' and refused the ones given' : ''}`);
      }
      this.ctl.send({ type: 'SecurityResponse', playIncarnation: m.playIncarnation, cookie: m.cookie, token: basic });
    }
  }

  /** ReadBlock → ReportReadBlock + header Data packets (TCP: on the connection; UDP: datagrams, with retries) */
  private async readHeader(openFile: OpenFileReport): Promise<{ bytes: Buffer; header: AsfHeader }> {
    const tries = this.transport === 'udp' ? 5 : 1;
    for (let attempt = 0; attempt < tries; attempt++) {
      this.header = new HeaderAssembler(openFile.fileHeaderSize);
      this.headerIncarnation = this.inc.nextHeader();
      const headerDone = new Promise<void>((resolve) => (this.headerDone = resolve));
      this.phase = 'header';
      this.ctl.send({ type: 'ReadBlock', openFileId: openFile.openFileId, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: this.headerIncarnation, playSequence: 0 });
      await this.ctl.expect(['ReportReadBlock'], 'ReportReadBlock');
      // UDP header timer (3.1.5.9.1): 1 s plus the header's transfer time at the content rate
      const waitMs = this.transport === 'udp' ? 1000 + Math.ceil((openFile.fileHeaderSize * 8 * 1000) / Math.max(1, openFile.fileBitRate)) : this.timeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([headerDone.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), waitMs)))]);
      clearTimeout(timer);
      this.headerDone = null;
      if (!timedOut) {
        const bytes = this.lastHeader!;
        return { bytes, header: parseHeaderObject(bytes, 0) };
      }
      this.header = null;
      if (this.transport === 'udp') this.ctl.send({ type: 'CancelReadBlock', playIncarnation: this.headerIncarnation });
    }
    throw new MssError('timeout', `MMS ${this.url.host}${this.url.pathname}: the ASF header did not arrive${this.transport === 'udp' ? ' over UDP (a firewall or NAT may drop it)' : ''}`);
  }

  private lastHeader: Buffer | undefined;

  /** StreamSwitch + StartPlaying at a position; resolves once ReportStartedPlaying came */
  private async play(pos: { startMs?: number; packetNumber?: number }): Promise<void> {
    const info = this.info!;
    this.phase = 'starting';
    this.ctl.send({ type: 'StreamSwitch', entries: streamSwitchEntries(info.header, info.selectedStreams) });
    const byPacket = pos.packetNumber !== undefined && !info.broadcast;
    this.playIncarnation = this.inc.nextPlay();
    this.mediaIncarnations = new Set([this.playIncarnation]);
    this.udp?.restart();
    const link = this.opts.maxBitrate ?? (info.packetPairBps ? Math.round(info.packetPairBps) : 0);
    this.ctl.send({
      type: 'StartPlaying',
      openFileId: info.openFile.openFileId,
      position: byPacket ? POSITION_UNSET : Math.max(0, (pos.startMs ?? 0) / 1000),
      asfOffset: 0xffffffff,
      locationId: byPacket ? pos.packetNumber! : 0xffffffff,
      frameOffset: 0,
      playIncarnation: this.playIncarnation,
      accel: Number.parseInt(info.serverVersion, 10) >= 9 ? { bandwidth: 0, durationMs: 0, linkBandwidth: Math.min(0xffffffff, link) } : undefined,
    });
    await this.ctl.expect(['ReportStreamSwitch'], 'ReportStreamSwitch');
    await this.ctl.expect(['ReportStartedPlaying'], 'ReportStartedPlaying');
  }

  private onEndOfStream(hr: number): void {
    if (hr === HRESULT.entryEnded) {
      this.phase = 'changing'; // a ReportStreamChange follows
      return;
    }
    this.finished = true;
    const finish = () => {
      this.udp?.drain();
      this.emitHeader();
      this.emit('end', hr);
      this.linger();
    };
    // over UDP the last datagrams may still be on their way when the end arrives on TCP
    if (this.udp) setTimeout(finish, Math.min(300, this.opts.reorderMs ?? 400));
    else finish();
  }

  private onStreamChange(m: Extract<MacMessage, { type: 'ReportStreamChange' }>): void {
    this.phase = 'changing';
    this.header = new HeaderAssembler(m.headerSize);
    if (this.transport === 'tcp') {
      // the new header follows on the connection with playIncarnation 0xFF, then the media (0xFF too)
      this.headerIncarnation = 0xff;
      this.mediaIncarnations.add(0xff);
      return;
    }
    this.headerIncarnation = this.inc.nextHeader();
    this.ctl.send({ type: 'ReadBlock', openFileId: this.info!.openFile.openFileId, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: this.headerIncarnation, playSequence: 0 });
  }

  /** UDP after a playlist change: select streams of the new entry and start it */
  private async restartAfterChange(): Promise<void> {
    const info = this.info!;
    this.info = { ...info, selectedStreams: chooseStreams(info.header, this.opts.streams?.filter((n) => info.header.streams.some((s) => s.number === n)), this.opts.maxBitrate, this.url) };
    this.ctl.drop('ReportReadBlock');
    await this.play({ startMs: 0 });
  }
}

/** Opens an MMS stream (mmst:// or mmsu://) and starts it; listen for `describe`, `header`, `packet`, `end`, `error`. */
export function openMmsStream(url: string | URL, opts: MmsOpenOptions = {}): MmsStream {
  const u = new URL(String(url));
  if (u.protocol !== 'mmst:' && u.protocol !== 'mmsu:' && u.protocol !== 'mms:') throw new MssError('invalid-argument', `MMS needs an mmst://, mmsu:// or mms:// URL, got ${u.protocol}//`);
  return new MmsStream(u, opts).start();
}
