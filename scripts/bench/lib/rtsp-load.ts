/**
 * RTSP live players for the fan-out load generator (wmsp-load.ts runs them when LoadOptions.protocol is rtsp-tcp or
 * rtsp-udp): each sends what ffmpeg 5.1 sends to a Windows Media server (OPTIONS, DESCRIBE, one SETUP per stream,
 * PLAY, GET_PARAMETER keep-alives) and counts RTP bytes and packets without copying them: interleaved `$` frames on
 * the RTSP connection, or datagrams on a UDP port pair of its own (with an RTCP receiver report every 5 s, as a
 * player must send to keep a UDP session). Packets missing by RTP sequence number count as gaps. Player 0 feeds its
 * RTP to the project's ASF depacketizer, so the payload format every player counts is checked by the real codec.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import net from 'node:net';
import { parseRtpPacket } from '../../../src/protocols/rtsp/rtp.js';
import { AsfRtpDepacketizer } from '../../../src/protocols/rtsp/rtp-asf.js';
import { buildReceiverReport } from '../../../src/protocols/rtsp/rtcp.js';
import { LivePlayer, openLoadSocket } from './load-player.js';

export interface RtspLoadOptions {
  host: string;
  port: number;
  path: string;
  transport: 'tcp' | 'udp';
}

export interface LoadHooks {
  joined(p: RtspLoadPlayer): void;
  windowActive(): boolean;
  now(): number;
}

const UA = 'Lavf59.27.100';
let nextUdpPort = 40000;

/** an even/odd local UDP pair from a range the server's own pairs do not use */
async function bindPair(host: string): Promise<{ rtp: DgramSocket; rtcp: DgramSocket; port: number }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = nextUdpPort;
    nextUdpPort = nextUdpPort >= 64000 ? 40000 : nextUdpPort + 2;
    const open = (p: number) =>
      new Promise<DgramSocket>((resolve, reject) => {
        // 1 MB (the kernel caps it at net.core.rmem_max): a load process busy with 2000 players falls behind for
        // a moment now and then, and a datagram its socket cannot hold is a gap the server did not make
        const s = createSocket({ type: 'udp4', recvBufferSize: 1024 * 1024 });
        s.once('error', (e) => {
          s.close();
          reject(e);
        });
        s.bind(p, host, () => resolve(s));
      });
    let rtp: DgramSocket | undefined;
    try {
      rtp = await open(port);
      return { rtp, rtcp: await open(port + 1), port };
    } catch {
      rtp?.close();
    }
  }
  throw new Error('no free local UDP pair');
}

export class RtspLoadPlayer extends LivePlayer {
  readonly counter = { bytes: 0, dataFrames: 0, gaps: 0, endFrames: 0, changeFrames: 0 };
  private socket: net.Socket | undefined;
  private udp: { rtp: DgramSocket; rtcp: DgramSocket; port: number } | undefined;
  private serverRtcp = 0;
  private cseq = 0;
  private session = '';
  private controls: string[] = [];
  private step = 0;
  /** text of an RTSP message being read (responses, and the server's EndOfStream) */
  private text = '';
  private bodyLeft = 0;
  /** interleaved frame state: header bytes collected, payload bytes left, channel */
  private frameHead = Buffer.alloc(4);
  private frameHeadLen = 0;
  private frameLeft = 0;
  private channel = 0;
  private seqBytes = Buffer.alloc(4);
  private seqLen = 0;
  private lastSeq = -1;
  private timers: NodeJS.Timeout[] = [];
  private readonly depacketizer: AsfRtpDepacketizer | undefined;

  constructor(
    readonly id: number,
    private readonly o: RtspLoadOptions,
    private readonly shared: Buffer,
    private readonly hooks: LoadHooks,
  ) {
    super();
    if (id === 0) this.depacketizer = new AsfRtpDepacketizer(65538);
  }

  private get url(): string {
    return `rtsp://${this.o.host}:${this.o.port}${this.o.path}`;
  }

  start(): void {
    this.phase = 'describe';
    const socket = openLoadSocket(this.o.host, this.o.port, this.shared, {
      read: (n, buf) => this.onRead(n, buf),
      connected: () => this.send('OPTIONS', this.url),
      error: (reason) => this.fail(reason),
    });
    this.socket = socket;
    socket.on('close', () => this.fail(this.phase === 'play' ? 'RTSP connection closed by server' : 'closed before PLAY'));
  }

  stop(): void {
    if (this.phase === 'play' || this.phase === 'describe') this.phase = 'done';
    for (const t of this.timers) clearInterval(t);
    this.socket?.destroy();
    this.udp?.rtp.close();
    this.udp?.rtcp.close();
  }

  /** stop() leaves a failed phase as it is */
  protected override close(): void {
    this.stop();
  }

  protected override settled(): void {
    this.hooks.joined(this);
  }

  private send(method: string, uri: string, extra = ''): void {
    this.socket?.write(`${method} ${uri} RTSP/1.0\r\nCSeq: ${++this.cseq}\r\nUser-Agent: ${UA}\r\n${this.session ? `Session: ${this.session}\r\n` : ''}${extra}\r\n`);
  }

  /** the next request of the setup sequence, after the answer to the previous one */
  private answered(status: number, head: string, body: string): void {
    if (this.phase !== 'describe') return; // answers to keep-alives
    if (status !== 200) return this.fail(`RTSP ${status} at step ${this.step}`);
    const session = /\r\nSession:\s*([^;\r\n]+)/i.exec(head);
    if (session) this.session = session[1]!.trim();
    const server = /server_port=(\d+)-(\d+)/i.exec(head);
    if (server) this.serverRtcp = Number(server[2]);
    this.step++;
    if (this.step === 1) return this.send('DESCRIBE', this.url, 'Accept: application/sdp\r\n');
    if (this.step === 2) {
      // stream controls in SDP order, the retransmission stream left out (as ffmpeg does over TCP)
      this.controls = body.split(/\r?\n/).filter((l) => l.startsWith('a=control:') && !/^a=control:(rtsp:|rtx$)/.test(l)).map((l) => l.slice(10));
      if (this.controls.length === 0) return this.fail('no stream controls in the SDP');
    }
    if (this.step >= 2 && this.step - 2 < this.controls.length) {
      const i = this.step - 2;
      void this.setupStream(i);
      return;
    }
    if (this.step === 2 + this.controls.length) return this.send('PLAY', this.url, 'Range: npt=0.000-\r\n');
    // PLAY answered: streaming
    this.phase = 'play';
    this.timers.push(setInterval(() => this.send('GET_PARAMETER', this.url), 25_000));
    if (this.udp && this.serverRtcp) {
      const rr = buildReceiverReport({ ssrc: 1000 + this.id, reports: [], cname: `load-${this.id}` });
      const report = () => this.udp!.rtcp.send(rr, this.serverRtcp, this.o.host, () => undefined);
      report();
      this.timers.push(setInterval(report, 5000));
    }
  }

  private async setupStream(i: number): Promise<void> {
    const uri = `${this.url}/${this.controls[i]}`;
    if (this.o.transport === 'tcp') return this.send('SETUP', uri, `Transport: RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}\r\n`);
    if (!this.udp) {
      try {
        this.udp = await bindPair(this.o.host);
      } catch (err) {
        return this.fail((err as Error).message);
      }
      this.udp.rtp.on('message', (msg) => this.onRtp(msg, 0, msg.length));
    }
    this.send('SETUP', uri, `Transport: RTP/AVP/UDP;unicast;client_port=${this.udp.port}-${this.udp.port + 1}\r\n`);
  }

  private onRead(n: number, buf: Buffer): boolean {
    if (this.phase !== 'describe' && this.phase !== 'play') return false;
    let i = 0;
    while (i < n) {
      if (this.frameLeft > 0) {
        const take = Math.min(this.frameLeft, n - i);
        if (this.channel % 2 === 0) this.rtpChunk(buf, i, i + take);
        this.frameLeft -= take;
        i += take;
        if (this.frameLeft === 0) this.frameDone();
        continue;
      }
      if (this.frameHeadLen > 0 || (this.text === '' && this.bodyLeft === 0 && buf[i] === 0x24)) {
        this.frameHead[this.frameHeadLen++] = buf[i++]!;
        if (this.frameHeadLen === 4) {
          this.channel = this.frameHead[1]!;
          this.frameLeft = this.frameHead.readUInt16BE(2);
          this.frameHeadLen = 0;
          this.seqLen = 0;
          if (this.frameLeft === 0) this.frameDone();
        }
        continue;
      }
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, n - i);
        this.text += buf.toString('latin1', i, i + take);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.message();
        continue;
      }
      // an RTSP message head, read up to its blank line (rare: answers to keep-alives, the server's EndOfStream)
      while (i < n && !this.text.endsWith('\r\n\r\n')) this.text += String.fromCharCode(buf[i++]!);
      if (this.text.length > 65536) {
        this.fail('RTSP message head too large');
        return false;
      }
      if (this.text.endsWith('\r\n\r\n')) {
        const len = /\r\nContent-Length:\s*(\d+)/i.exec(this.text);
        this.bodyLeft = len ? Number(len[1]) : 0;
        if (this.bodyLeft === 0) this.message();
      }
    }
    return true;
  }

  private message(): void {
    const text = this.text;
    this.text = '';
    const split = text.indexOf('\r\n\r\n');
    const head = text.slice(0, split);
    const m = /^RTSP\/1\.0 (\d{3})/.exec(head);
    if (m) this.answered(Number(m[1]), head, text.slice(split + 4));
    else if (/^SET_PARAMETER/.test(head) && /X-Notice:\s*2101/i.test(head)) this.counter.endFrames++;
    else if (/^ANNOUNCE/.test(head)) this.counter.changeFrames++;
  }

  private frameDone(): void {
    if (this.channel % 2 === 0) this.packetDone();
  }

  /** bytes of an interleaved RTP packet as they arrive (only the sequence number is looked at) */
  private rtpChunk(buf: Buffer, from: number, to: number): void {
    this.counter.bytes += to - from;
    for (let i = from; i < to && this.seqLen < 4; i++) this.seqBytes[this.seqLen++] = buf[i]!;
    if (this.depacketizer && !this.verified.error) this.verifyChunk(buf.subarray(from, to));
  }

  private pending: Buffer[] = [];

  private verifyChunk(part: Buffer): void {
    this.pending.push(Buffer.from(part));
  }

  private packetDone(): void {
    if (this.seqLen >= 4) this.sequence(this.seqBytes.readUInt16BE(2));
    if (this.depacketizer && this.pending.length > 0) {
      const whole = Buffer.concat(this.pending);
      this.pending = [];
      this.verify(whole);
    }
    this.tickPacket();
  }

  private onRtp(buf: Buffer, from: number, to: number): void {
    if (this.phase !== 'play' && this.phase !== 'describe') return;
    this.counter.bytes += to - from;
    if (to - from >= 4) this.sequence(buf.readUInt16BE(from + 2));
    if (this.depacketizer && !this.verified.error) this.verify(buf.subarray(from, to));
    this.tickPacket();
  }

  private verify(rtp: Buffer): void {
    try {
      this.verified.frames++;
      this.verified.dataFrames += this.depacketizer!.push(parseRtpPacket(rtp)).length;
    } catch (err) {
      this.verified.error = (err as Error).message;
    }
  }

  private sequence(seq: number): void {
    if (this.lastSeq >= 0) {
      const d = (seq - this.lastSeq) & 0xffff;
      if (d > 1 && d < 0x8000) this.counter.gaps += d - 1;
    }
    this.lastSeq = seq;
  }

  private tickPacket(): void {
    const now = this.hooks.now();
    if (this.lastDataAt > 0 && this.hooks.windowActive()) {
      const gap = now - this.lastDataAt;
      if (gap > this.maxStall) this.maxStall = gap;
    }
    this.lastDataAt = now;
    this.counter.dataFrames++;
    if (this.joinedAt === 0 && this.phase === 'play') {
      this.joinedAt = now;
      this.settled();
    }
  }
}
