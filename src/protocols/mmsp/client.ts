/**
 * MS-MMSP client (the player side, MS-MMSP 3.1): `mmst://` (Data packets on the TCP control connection) and
 * `mmsu://` (Data packets over UDP to a port of ours, resend requests for lost ones). Connect, FunnelInfo (with
 * packet-pair when asked), ConnectFunnel, OpenFile (with Basic credentials when the server challenges), ReadBlock
 * for the ASF header, StreamSwitch, StartPlaying at a time or packet, then media until ReportEndOfStream; pings
 * are answered, playlist stream changes followed, and close() stops, sends the log (if any) and closes the file.
 *
 * Sockets, timers and state live here; every byte goes through the pure codec.
 */
import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { MssError, toMssError } from '../../core/errors.js';
import { parseHeaderObject, type AsfHeader } from '../../asf/header.js';
import { FILE_ATTRIBUTES, HRESULT, MmsStreamReader, PACKET_PAIR, SESSION_ID, encodeTcpMessage, errorCodeForHresult, formatFunnelName, hex32, type MmsDataPacket } from './codec.js';
import { POSITION_UNSET, decodeMac, encodeViewer, type MacMessage, type MacType, type OpenFileReport, type ViewerMessage } from './messages.js';
import { HeaderAssembler, chooseStreams, streamSwitchEntries, type MmsClientCredentials } from './client-parts.js';
import { UdpReceiver } from './client-udp.js';

export const DEFAULT_MMS_PORT = 1755;
export const DEFAULT_SUBSCRIBER = 'NSPlayer/9.0.0.2980';
const MAX_REDIRECTS = 5;
/** how long close() keeps the connection for a last Logging message */
const LOG_GRACE_MS = 1500;

export interface MmsOpenOptions {
  startMs?: number;
  /** resume at this ASF packet number (wins over startMs) */
  packetNumber?: number;
  streams?: readonly number[];
  maxBitrate?: number;
  credentials?: MmsClientCredentials;
  /** product token of subscriberName (NSPlayer/9.0.0.2980) */
  userAgent?: string;
  clientGuid?: string;
  timeoutMs?: number;
  /** default: udp for mmsu://, tcp otherwise */
  transport?: 'tcp' | 'udp';
  /** ask for packet-pair bandwidth estimation (FunnelInfo 0xF0F0F0F1 / 0xF0F0F901) */
  packetPair?: boolean;
  /** UDP: how long a gap waits for resent packets before they count as lost */
  reorderMs?: number;
}

export interface MmsDescribeInfo {
  url: URL;
  transport: 'tcp' | 'udp';
  clientId: number;
  serverVersion: string;
  broadcast: boolean;
  seekable: boolean;
  openFile: OpenFileReport;
  headerBytes: Buffer;
  header: AsfHeader;
  selectedStreams: number[];
  /** bits/s measured by packet-pair, when it ran */
  packetPairBps?: number;
}

export interface MmsStreamStats {
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  longestLossRun: number;
  lastLocationId: number | undefined;
  resendRequests: number;
  packetsRecovered: number;
}

export interface MmsStreamEvents {
  describe: [info: MmsDescribeInfo];
  header: [headerBytes: Buffer, header: AsfHeader];
  packet: [packet: Buffer, info: { locationId: number }];
  'stream-change': [];
  end: [reason: number];
  error: [err: MssError];
  close: [];
}

type Phase = 'connecting' | 'header' | 'ready' | 'starting' | 'streaming' | 'changing' | 'closing' | 'done';

/** the incarnation counters of the spec's client (3.1.1): headers 1..8, plays and opens 9..0xFE */
class Incarnations {
  private header = 1;
  private play = 9;
  nextHeader(): number {
    const v = this.header;
    this.header = v >= 8 ? 1 : v + 1;
    return v;
  }
  nextPlay(): number {
    const v = this.play;
    this.play = v >= 0xfe ? 9 : v + 1;
    return v;
  }
}

export class MmsStream extends EventEmitter<MmsStreamEvents> {
  readonly stats: MmsStreamStats = { bytesReceived: 0, packetsReceived: 0, packetsLost: 0, longestLossRun: 0, lastLocationId: undefined, resendRequests: 0, packetsRecovered: 0 };
  info: MmsDescribeInfo | undefined;
  readonly transport: 'tcp' | 'udp';
  private socket: Socket | null = null;
  private reader = new MmsStreamReader({ acceptData: true });
  private seq = 0;
  private readonly t0 = Date.now();
  private phase: Phase = 'connecting';
  private readonly inc = new Incarnations();
  private inbox: MacMessage[] = [];
  private waiter: { types: MacType[]; resolve(m: MacMessage): void; reject(e: MssError): void } | null = null;
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
  }

  start(): this {
    this.run().catch((err) => this.fail(toMssError(err, 'unavailable')));
    return this;
  }

  pause(): void {
    this.socket?.pause();
    this.udp?.pause();
  }

  resume(): void {
    this.socket?.resume();
    this.udp?.resume();
  }

  /** StopPlaying (when streaming), then CloseFile once a last log was sent or after a short grace period. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const streaming = this.phase === 'streaming' || this.phase === 'starting';
    this.phase = 'closing';
    this.udp?.close();
    if (!this.socket || this.socket.destroyed || !this.info) return this.teardown();
    if (streaming) this.send({ type: 'StopPlaying', openFileId: this.info.openFile.openFileId, playIncarnation: this.playIncarnation });
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
    const socket = this.socket;
    if (!socket || socket.destroyed || this.phase === 'done' || !this.info) return Promise.reject(new MssError('unavailable', 'MMS: no open control connection to send the log on'));
    const done = new Promise<void>((resolve, reject) => {
      const e = encodeViewer({ type: 'Logging', log: clientLog });
      socket.write(encodeTcpMessage(e.mid, e.fields, this.seq++, Date.now() - this.t0), (err) => (err ? reject(new MssError('unavailable', `MMS log: ${err.message}`)) : resolve()));
    });
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
      this.send({ type: 'StopPlaying', openFileId: info.openFile.openFileId, playIncarnation: this.playIncarnation });
      await this.expect(['ReportEndOfStream'], 'ReportEndOfStream after StopPlaying');
    }
    await this.play({ startMs: to.ms, packetNumber: to.packet });
  }

  // -- plumbing --------------------------------------------------------------------------------------------------

  private send(m: ViewerMessage): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    const e = encodeViewer(m);
    socket.write(encodeTcpMessage(e.mid, e.fields, this.seq++, Date.now() - this.t0));
  }

  private fail(err: MssError): void {
    if (this.finished) return;
    this.finished = true;
    this.waiter?.reject(err);
    this.waiter = null;
    this.teardown();
    if (!this.closed) this.emit('error', err);
  }

  private teardown(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.phase = 'done';
    this.udp?.close();
    this.socket?.destroy();
    this.emit('close');
  }

  private closeFile(): void {
    if (this.phase === 'done') return;
    if (this.info) this.send({ type: 'CloseFile', playIncarnation: 0, openFileId: this.info.openFile.openFileId });
    this.socket?.end();
    this.teardown();
  }

  private expect(types: MacType[], what: string): Promise<MacMessage> {
    const i = this.inbox.findIndex((m) => types.includes(m.type));
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new MssError('timeout', `MMS ${this.url.host}: no ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = {
        types,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private connect(): Promise<void> {
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const port = this.url.port ? Number(this.url.port) : DEFAULT_MMS_PORT;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      this.socket = socket;
      this.reader = new MmsStreamReader({ acceptData: true });
      this.seq = 0;
      socket.setNoDelay(true);
      socket.setTimeout(this.timeoutMs);
      socket.once('connect', () => resolve());
      socket.on('timeout', () => this.fail(new MssError('timeout', `MMS ${this.url.host}: no data for ${this.timeoutMs} ms`, { lostConnection: true })));
      socket.on('error', (err) => {
        reject(new MssError('unavailable', `MMS ${this.url.host}: ${err.message}`, { lostConnection: true }));
        this.fail(new MssError('unavailable', `MMS ${this.url.host}: ${err.message}`, { lostConnection: true }));
      });
      socket.on('close', () => {
        if (this.phase !== 'done' && !this.closed) this.fail(new MssError('unavailable', `MMS connection to ${this.url.host} closed by the server (${this.phase})`, { lostConnection: true }));
      });
      socket.on('data', (chunk: Buffer) => this.onBytes(socket, chunk));
    });
  }

  private onBytes(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket || this.finished) return;
    this.stats.bytesReceived += chunk.length;
    if (this.phase === 'connecting' && this.reader.buffered === 0 && chunk.length >= 8 && chunk.readUInt32LE(4) !== SESSION_ID) {
      // an HTTP or RTSP server on that port answers its own protocol: hand over to the next one at once
      const start = chunk.subarray(0, 24).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      this.fail(new MssError('unsupported', `${this.url.host} does not speak MMS (it answered ${JSON.stringify(start)})`));
      return;
    }
    try {
      for (const item of this.reader.push(chunk)) {
        if (this.finished) return;
        if (item.kind === 'data') this.onData(item.data, 'tcp');
        else for (const msg of item.packet.messages) this.onControl(decodeMac(msg));
      }
    } catch (err) {
      this.fail(toMssError(err, 'malformed'));
    }
  }

  private onControl(m: MacMessage): void {
    if (m.type === 'Ping') {
      this.send({ type: 'Pong', param1: 0, param2: 0 });
      return;
    }
    if ('hr' in m && m.hr !== HRESULT.ok && !(m.type === 'ReportEndOfStream' && m.hr === HRESULT.entryEnded)) {
      const access = m.type === 'ReportOpenFile' && m.hr >>> 0 === HRESULT.accessDenied;
      // access denied over MMS: a point MMS cannot authenticate to (or an address list); another protocol may
      const code = access ? 'unsupported' : errorCodeForHresult(m.hr);
      this.fail(new MssError(code, `MMS ${this.url.host}${this.url.pathname}: ${m.type} failed with ${hex32(m.hr)}${access ? ' (access denied)' : ''}`, { hr: m.hr >>> 0 }));
      return;
    }
    if (this.phase === 'streaming' || this.phase === 'changing') {
      if (m.type === 'ReportEndOfStream') return this.onEndOfStream(m.hr);
      if (m.type === 'ReportStreamChange') return this.onStreamChange(m);
    }
    if (m.type === 'ReportFunnelInfo' && m.playIncarnation === PACKET_PAIR.tcpHighEntropy) this.funnelPairs.push(performance.now());
    // media and the end of a short file may follow in the same read: streaming starts with this reply
    if (m.type === 'ReportStartedPlaying' && this.phase === 'starting') this.phase = 'streaming';
    if (this.waiter && this.waiter.types.includes(m.type)) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(m);
      return;
    }
    if (this.inbox.length < 16) this.inbox.push(m);
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
      this.socket?.destroy();
      this.socket = null;
      this.udp?.close();
      this.udp = null;
      this.url = redirect;
    }
    if (this.closed) return;
    await this.play({ startMs: this.opts.startMs, packetNumber: this.opts.packetNumber });
  }

  /** Connect … ReadBlock; resolves with a redirect URL when the server sends one */
  private async handshake(): Promise<URL | undefined> {
    this.phase = 'connecting';
    await this.connect();
    const socket = this.socket!;
    const local = (socket.localAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
    if (this.transport === 'udp') {
      this.udp = new UdpReceiver({
        localAddress: local,
        serverAddress: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
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
    this.send({ type: 'Connect', playIncarnation: pair ? PACKET_PAIR.use : PACKET_PAIR.disabled, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: `${product}; ${this.guid}; Host: ${this.url.host}`, extras: [] });
    const connected = (await this.expect(['ReportConnectedEX'], 'ReportConnectedEX')) as Extract<MacMessage, { type: 'ReportConnectedEX' }>;
    this.authScheme = connected.authenPackage.toUpperCase();
    const wantPair = pair && connected.playIncarnation === PACKET_PAIR.use;
    this.send({ type: 'FunnelInfo', playIncarnation: wantPair ? (this.transport === 'udp' ? PACKET_PAIR.udpHighEntropy : PACKET_PAIR.tcpHighEntropy) : PACKET_PAIR.disabled });
    let funnel = (await this.expect(['ReportFunnelInfo'], 'ReportFunnelInfo')) as Extract<MacMessage, { type: 'ReportFunnelInfo' }>;
    let packetPairBps: number | undefined;
    if (funnel.playIncarnation === PACKET_PAIR.tcpHighEntropy) {
      // three replies: the gap between the first two measures the path
      await this.expect(['ReportFunnelInfo'], 'second ReportFunnelInfo');
      funnel = (await this.expect(['ReportFunnelInfo'], 'third ReportFunnelInfo')) as typeof funnel;
      const [a, b] = this.funnelPairs;
      if (a !== undefined && b !== undefined) packetPairBps = (512 * 8 * 1000) / Math.max(0.5, b - a);
    }
    const clientId = funnel.clientId;
    const port = this.transport === 'udp' ? this.udp!.port : socket.localPort ?? 0;
    this.send({ type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0x00989680, funnelMode: 2, funnelName: formatFunnelName({ address: local, transport: this.transport === 'udp' ? 'UDP' : 'TCP', port }) });
    const f = await this.expect(['ReportConnectedFunnel', 'ReportDisconnectedFunnel'], 'ReportConnectedFunnel');
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
    this.send({ type: 'OpenFile', playIncarnation: this.inc.nextPlay(), spare: 0, fileName, token: basic && this.authScheme === 'BASIC' ? basic : Buffer.alloc(0) });
    for (let attempt = 0; ; attempt++) {
      const m = await this.expect(['ReportOpenFile', 'SecurityChallenge', 'ReportRedirect'], 'ReportOpenFile');
      if (m.type === 'ReportOpenFile') return m;
      if (m.type === 'ReportRedirect') return new URL(m.location);
      if (m.type !== 'SecurityChallenge') continue;
      const ntlm = m.token.length >= 2 && m.token[0] === 0 && m.token[1] === 0;
      if (!basic || ntlm || attempt >= 1) {
        throw new MssError('unauthorized', `MMS ${this.url.host}${this.url.pathname}: the server asks for ${ntlm ? 'NTLM' : 'Basic'} credentials${basic && !ntlm ? ' and refused the ones given' : ''}`);
      }
      this.send({ type: 'SecurityResponse', playIncarnation: m.playIncarnation, cookie: m.cookie, token: basic });
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
      this.send({ type: 'ReadBlock', openFileId: openFile.openFileId, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: this.headerIncarnation, playSequence: 0 });
      await this.expect(['ReportReadBlock'], 'ReportReadBlock');
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
      if (this.transport === 'udp') this.send({ type: 'CancelReadBlock', playIncarnation: this.headerIncarnation });
    }
    throw new MssError('timeout', `MMS ${this.url.host}${this.url.pathname}: the ASF header did not arrive${this.transport === 'udp' ? ' over UDP (a firewall or NAT may drop it)' : ''}`);
  }

  private lastHeader: Buffer | undefined;

  /** StreamSwitch + StartPlaying at a position; resolves once ReportStartedPlaying came */
  private async play(pos: { startMs?: number; packetNumber?: number }): Promise<void> {
    const info = this.info!;
    this.phase = 'starting';
    this.send({ type: 'StreamSwitch', entries: streamSwitchEntries(info.header, info.selectedStreams) });
    const byPacket = pos.packetNumber !== undefined && !info.broadcast;
    this.playIncarnation = this.inc.nextPlay();
    this.mediaIncarnations = new Set([this.playIncarnation]);
    this.udp?.restart();
    const link = this.opts.maxBitrate ?? (info.packetPairBps ? Math.round(info.packetPairBps) : 0);
    this.send({
      type: 'StartPlaying',
      openFileId: info.openFile.openFileId,
      position: byPacket ? POSITION_UNSET : Math.max(0, (pos.startMs ?? 0) / 1000),
      asfOffset: 0xffffffff,
      locationId: byPacket ? pos.packetNumber! : 0xffffffff,
      frameOffset: 0,
      playIncarnation: this.playIncarnation,
      accel: Number.parseInt(info.serverVersion, 10) >= 9 ? { bandwidth: 0, durationMs: 0, linkBandwidth: Math.min(0xffffffff, link) } : undefined,
    });
    await this.expect(['ReportStreamSwitch'], 'ReportStreamSwitch');
    await this.expect(['ReportStartedPlaying'], 'ReportStartedPlaying');
  }

  private onEndOfStream(hr: number): void {
    if (hr === HRESULT.entryEnded) {
      this.phase = 'changing'; // a ReportStreamChange follows
      return;
    }
    this.finished = true;
    this.udp?.drain();
    this.emitHeader();
    this.emit('end', hr);
    this.linger();
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
    this.send({ type: 'ReadBlock', openFileId: this.info!.openFile.openFileId, fileBlockId: 0, offset: 0, length: 0x8000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: this.headerIncarnation, playSequence: 0 });
  }

  /** UDP after a playlist change: select streams of the new entry and start it */
  private async restartAfterChange(): Promise<void> {
    const info = this.info!;
    this.info = { ...info, selectedStreams: chooseStreams(info.header, this.opts.streams?.filter((n) => info.header.streams.some((s) => s.number === n)), this.opts.maxBitrate, this.url) };
    this.inbox = this.inbox.filter((m) => m.type !== 'ReportReadBlock');
    await this.play({ startMs: 0 });
  }
}

/** Opens an MMS stream (mmst:// or mmsu://) and starts it; listen for `describe`, `header`, `packet`, `end`, `error`. */
export function openMmsStream(url: string | URL, opts: MmsOpenOptions = {}): MmsStream {
  const u = new URL(String(url));
  if (u.protocol !== 'mmst:' && u.protocol !== 'mmsu:' && u.protocol !== 'mms:') throw new MssError('invalid-argument', `MMS needs an mmst://, mmsu:// or mms:// URL, got ${u.protocol}//`);
  return new MmsStream(u, opts).start();
}
