/**
 * A raw MMS peer for tests, built on the real codec: it sends exactly the messages a test names (also malformed
 * bytes), records everything the server sends (control messages and Data packets, from TCP and from its own UDP
 * socket), and waits for what a test expects. It answers nothing by itself (a test decides about Pongs).
 */
import dgram, { type Socket as UdpSocket } from 'node:dgram';
import net, { type Socket } from 'node:net';
import { MmsStreamReader, encodeTcpMessage, parseMmsDataPacket, type MmsDataPacket } from '../../../src/protocols/mmsp/codec.js';
import { decodeMac, encodeViewer, type MacMessage, type ViewerMessage } from '../../../src/protocols/mmsp/messages.js';

export type Received = { from: 'tcp'; message: MacMessage } | { from: 'tcp' | 'udp'; data: MmsDataPacket; raw: Buffer };

export const FFMPEG_SUBSCRIBER = 'NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: 127.0.0.1';

export class RawMms {
  readonly received: Received[] = [];
  private cursor = 0;
  private seq = 0;
  private readonly reader = new MmsStreamReader({ acceptData: true });
  private wake: (() => void) | null = null;
  udp: UdpSocket | null = null;
  closedByServer = false;
  parseError: string | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const item of this.reader.push(chunk)) {
          if (item.kind === 'data') this.received.push({ from: 'tcp', data: item.data, raw: Buffer.alloc(0) });
          else for (const m of item.packet.messages) this.received.push({ from: 'tcp', message: decodeMac(m) });
        }
      } catch (err) {
        this.parseError = (err as Error).message;
        socket.destroy();
      }
      this.wake?.();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.closedByServer = true;
      this.wake?.();
      resolve();
    }));
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawMms> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawMms(socket)));
      socket.once('error', reject);
    });
  }

  /** a UDP socket of ours on `address` (data comes here when the funnel names its port) */
  async bindUdp(address = '127.0.0.1'): Promise<number> {
    const udp = dgram.createSocket('udp4');
    this.udp = udp;
    udp.on('message', (msg) => {
      try {
        this.received.push({ from: 'udp', data: parseMmsDataPacket(msg), raw: Buffer.from(msg) });
      } catch {
        // not a Data packet: ignore
      }
      this.wake?.();
    });
    await new Promise<void>((resolve) => udp.bind(0, address, () => resolve()));
    return udp.address().port;
  }

  send(m: ViewerMessage): void {
    const e = encodeViewer(m);
    this.socket.write(encodeTcpMessage(e.mid, e.fields, this.seq++));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** the next received item (after the ones already taken) that matches, within timeoutMs */
  async next<T extends Received>(pred: (r: Received) => r is T, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = this.cursor; i < this.received.length; i++) {
        const r = this.received[i]!;
        if (pred(r)) {
          this.cursor = i + 1;
          return r;
        }
      }
      if (this.closedByServer) throw new Error(`connection closed while waiting for ${what}${this.parseError ? ` (${this.parseError})` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; got ${this.received.map(describe).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  message<T extends MacMessage['type']>(type: T, timeoutMs?: number): Promise<Extract<MacMessage, { type: T }>> {
    return this.next((r): r is { from: 'tcp'; message: MacMessage } => 'message' in r && r.message.type === type, type, timeoutMs).then((r) => r.message as Extract<MacMessage, { type: T }>);
  }

  /** the Connect … ReadBlock exchange FFmpeg makes (TCP data) or the UDP one; resolves with the OpenFile report */
  async open(path: string, opts: { udpPort?: number; funnelAddress?: string; subscriber?: string } = {}): Promise<Extract<MacMessage, { type: 'ReportOpenFile' }>> {
    this.send({ type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: opts.subscriber ?? FFMPEG_SUBSCRIBER, extras: [] });
    await this.message('ReportConnectedEX');
    this.send({ type: 'FunnelInfo', playIncarnation: 0x00f0f0f0 });
    await this.message('ReportFunnelInfo');
    const funnel = opts.udpPort ? `\\\\${opts.funnelAddress ?? '127.0.0.1'}\\UDP\\${opts.udpPort}` : '\\\\192.168.0.129\\TCP\\1037';
    this.send({ type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0x00989680, funnelMode: 2, funnelName: funnel });
    await this.message('ReportConnectedFunnel');
    this.send({ type: 'OpenFile', playIncarnation: 1, spare: 0xffffffff, fileName: path.replace(/^\//, ''), token: Buffer.alloc(0) });
    const open = await this.message('ReportOpenFile');
    if (open.hr !== 0) return open;
    this.send({ type: 'ReadBlock', openFileId: 1, fileBlockId: 0, offset: 0, length: 0x00800000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: 2, playSequence: 0 });
    await this.message('ReportReadBlock');
    return open;
  }

  /** the header pieces of ReadBlock incarnation `inc`, joined */
  async header(inc = 2): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const r = await this.next((x): x is { from: 'tcp' | 'udp'; data: MmsDataPacket; raw: Buffer } => 'data' in x && x.data.incarnation === inc, 'header piece');
      parts[r.data.locationId] = r.data.payload;
      if (r.data.afFlags === 0x08 || r.data.afFlags === 0x0c) return Buffer.concat(parts);
    }
  }

  streamAll(inc = 4, streams: number[] = [1, 2]): void {
    this.send({ type: 'StreamSwitch', entries: streams.map((n) => ({ source: 0xffff, destination: n, thinning: 0 })) });
    this.send({ type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x00ffffff, playIncarnation: inc });
  }

  /** media Data packets of incarnation `inc` received so far */
  media(inc = 4): MmsDataPacket[] {
    return this.received.filter((r): r is { from: 'tcp' | 'udp'; data: MmsDataPacket; raw: Buffer } => 'data' in r && r.data.incarnation === inc).map((r) => r.data);
  }

  close(): void {
    this.socket.destroy();
    this.udp?.close();
    this.udp = null;
  }
}

function describe(r: Received): string {
  return 'message' in r ? r.message.type : `data(${r.from},inc ${r.data.incarnation})`;
}
