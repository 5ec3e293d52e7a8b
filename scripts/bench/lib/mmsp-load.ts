/**
 * An MMS/TCP player for the live fan-out load generator (wmsp-load.ts runs it instead of its WMSP player when
 * the options say protocol "mmsp"): FFmpeg's request sequence (Connect, FunnelInfo, ConnectFunnel TCP, OpenFile,
 * ReadBlock, StreamSwitch, StartPlaying), sent at once, then Data packets counted as they stream in (LocationId
 * continuity checked) and the server's Pings answered. It keeps the same counters as the WMSP player, so the
 * harness, the starvation verdict and the table are the same for both protocols. Player 0 is also checked by the
 * real codec (MmsStreamReader).
 */
import net from 'node:net';
import { MmsStreamReader, SESSION_ID, decodeTcpMessage, encodeTcpMessage } from '../../../src/protocols/mmsp/codec.js';
import { decodeMac, encodeViewer, type ViewerMessage } from '../../../src/protocols/mmsp/messages.js';
import { LivePlayer, openLoadSocket } from './load-player.js';
import type { LoadOptions } from './wmsp-load.js';

const MEDIA_INCARNATION = 4;
const MAX_CONTROL = 64 * 1024;
const shared = Buffer.allocUnsafe(256 * 1024);

function packet(m: ViewerMessage, seq: number): Buffer {
  const e = encodeViewer(m);
  return encodeTcpMessage(e.mid, e.fields, seq);
}

/** what FFmpeg sends to play `path` with every stream, joined into one write */
function requests(path: string, streams: number[]): Buffer {
  const msgs: ViewerMessage[] = [
    { type: 'Connect', playIncarnation: 0, macToViewerRevision: 0x0004000b, viewerToMacRevision: 0x0003001c, subscriberName: 'NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: bench', extras: [] },
    { type: 'FunnelInfo', playIncarnation: 0x00f0f0f0 },
    { type: 'ConnectFunnel', playIncarnation: 0, maxBlockBytes: 0xffffffff, maxFunnelBytes: 0, maxBitRate: 0x00989680, funnelMode: 2, funnelName: '\\\\192.168.0.129\\TCP\\1037' },
    { type: 'OpenFile', playIncarnation: 1, spare: 0xffffffff, fileName: path.replace(/^\//, ''), token: Buffer.alloc(0) },
    { type: 'ReadBlock', openFileId: 1, fileBlockId: 0, offset: 0, length: 0x00800000, flags: 0xffffffff, tEarliest: 0, tDeadline: 3600, playIncarnation: 2, playSequence: 0 },
    { type: 'StreamSwitch', entries: streams.map((n) => ({ source: 0xffff, destination: n, thinning: 0 })) },
    { type: 'StartPlaying', openFileId: 1, position: 0, asfOffset: 0xffffffff, locationId: 0xffffffff, frameOffset: 0x00ffffff, playIncarnation: MEDIA_INCARNATION },
  ];
  return Buffer.concat(msgs.map((m, i) => packet(m, i)));
}

/** Counts an MMS TCP stream: 8 bytes decide control or Data; Data payloads are skipped, control packets decoded. */
class MmsCounter {
  bytes = 0;
  dataFrames = 0;
  headerFrames = 0;
  endFrames = 0;
  changeFrames = 0;
  gaps = 0;
  error: string | undefined;
  private head = Buffer.alloc(12);
  private headLen = 0;
  private skip = 0;
  private control: Buffer | null = null;
  private controlLen = 0;
  private lastLocation = -1;

  constructor(private readonly onControl: (p: Buffer) => void) {}

  scan(buf: Buffer, start: number, end: number): boolean {
    this.bytes += end - start;
    let i = start;
    while (i < end) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, end - i);
        this.skip -= take;
        i += take;
        continue;
      }
      if (this.control) {
        const take = Math.min(this.control.length - this.controlLen, end - i);
        buf.copy(this.control, this.controlLen, i, i + take);
        this.controlLen += take;
        i += take;
        if (this.controlLen === this.control.length) {
          const p = this.control;
          this.control = null;
          this.onControl(p);
        }
        continue;
      }
      this.head[this.headLen++] = buf[i++]!;
      if (this.headLen === 8 && this.head.readUInt32LE(4) !== SESSION_ID) {
        // a Data packet: preheader read, skip the payload
        const size = this.head.readUInt16LE(6);
        if (size < 8) {
          this.error = `Data packet of ${size} bytes`;
          return false;
        }
        if (this.head[4] === MEDIA_INCARNATION) {
          this.dataFrames++;
          const loc = this.head.readUInt32LE(0);
          if (this.lastLocation >= 0 && loc > this.lastLocation + 1) this.gaps += loc - this.lastLocation - 1;
          this.lastLocation = loc;
        } else this.headerFrames++;
        this.skip = size - 8;
        this.headLen = 0;
      } else if (this.headLen === 12) {
        const total = this.head.readUInt32LE(8) + 16;
        if (total < 40 || total > MAX_CONTROL) {
          this.error = `control packet of ${total} bytes`;
          return false;
        }
        this.control = Buffer.allocUnsafe(total);
        this.head.copy(this.control, 0, 0, 12);
        this.controlLen = 12;
        this.headLen = 0;
      }
    }
    return true;
  }

  noteEnd(hr: number): void {
    if (hr === 1) this.changeFrames++;
    else this.endFrames++;
  }
}

export interface MmsPlayerHooks {
  joined(p: MmsPlayer): void;
  windowActive(): boolean;
}

/** One MMS/TCP player with the counters the load harness reads. */
export class MmsPlayer extends LivePlayer {
  socket: net.Socket | undefined;
  counter: MmsCounter;
  private readonly verifier: MmsStreamReader | undefined;
  private seq = 7;

  constructor(
    readonly id: number,
    private readonly opts: LoadOptions,
    private readonly hooks: MmsPlayerHooks,
  ) {
    super();
    this.counter = new MmsCounter((p) => this.onControl(p));
    if (id === 0) this.verifier = new MmsStreamReader({ acceptData: true });
  }

  start(): void {
    this.phase = 'play';
    const socket = openLoadSocket(this.opts.host, this.opts.mmsPort ?? this.opts.port, shared, {
      read: (n, buf) => this.onRead(n, buf),
      connected: (s) => s.write(requests(this.opts.path, this.opts.streams)),
      error: (reason) => this.fail(reason),
    });
    this.socket = socket;
    socket.on('close', () => {
      if (this.socket === socket && this.phase === 'play') this.fail(this.counter.endFrames > 0 ? 'stream ended (ReportEndOfStream)' : 'connection closed by server');
    });
  }

  stop(): void {
    if (this.phase === 'play') this.phase = 'done';
    this.socket?.destroy();
  }

  protected override close(): void {
    this.socket?.destroy();
  }

  protected override settled(): void {
    this.hooks.joined(this);
  }

  private onControl(p: Buffer): void {
    try {
      for (const msg of decodeTcpMessage(p).messages) {
        const m = decodeMac(msg);
        if (m.type === 'Ping') this.socket?.write(packet({ type: 'Pong', param1: 0, param2: 0 }, this.seq++));
        else if (m.type === 'ReportEndOfStream') this.counter.noteEnd(m.hr);
        else if ('hr' in m && m.hr !== 0) this.fail(`${m.type} hr 0x${(m.hr >>> 0).toString(16)}`);
      }
    } catch (err) {
      this.fail(`control: ${(err as Error).message}`);
    }
  }

  private onRead(n: number, buf: Buffer): boolean {
    if (this.phase !== 'play') return false;
    const now = Date.now();
    if (this.lastDataAt > 0 && this.hooks.windowActive()) this.maxStall = Math.max(this.maxStall, now - this.lastDataAt);
    this.lastDataAt = now;
    if (!this.counter.scan(buf, 0, n)) {
      this.fail(`framing: ${this.counter.error}`);
      return false;
    }
    if (this.verifier && !this.verified.error) {
      try {
        for (const item of this.verifier.push(Buffer.from(buf.subarray(0, n)))) {
          this.verified.frames++;
          if (item.kind === 'data' && item.data.incarnation === MEDIA_INCARNATION) this.verified.dataFrames++;
          else if (item.kind === 'data') this.verified.headers++;
        }
      } catch (err) {
        this.verified.error = (err as Error).message;
      }
    }
    if (this.joinedAt === 0 && this.counter.dataFrames > 0) {
      this.joinedAt = now;
      this.settled();
    }
    return true;
  }
}
