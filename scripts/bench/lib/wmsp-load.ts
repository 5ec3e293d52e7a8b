/**
 * Fan-out load generator: N light live players in one process. WMSP players (the default) send ffmpeg 5.1's exact request
 * bytes (a Describe connection, then a Play connection; see /work/shared/traces/) and counting the $-frames of
 * the Play response without copying them. Run by scripts/bench/wmsp-fanout.ts as a child process:
 *
 *   tsx scripts/bench/lib/wmsp-load.ts '<json LoadOptions>'
 *
 * It prints JSON lines on stdout: {"event":"joined"}, then {"event":"ready"} once its players settled, and waits
 * for a line `go` on stdin (the orchestrator starts every load process's window at once and samples server CPU
 * then); then {"event":"window-start"}, {"event":"window-end"} and finally {"event":"result", ...}. Several of
 * these processes together drive more players than one can (the orchestrator's --load-procs).
 *
 * Efficiency matters (the server shares two cores with this process): every socket reads into one shared
 * buffer (`onread`), frames are scanned by a tiny state machine, and the clock is a coarse timer variable.
 * Player 0 additionally feeds its bytes to the project's WmspFrameParser, so the framing every player counts
 * is checked by the real codec too. With `protocol: 'rtsp-tcp' | 'rtsp-udp'` the players are RTSP ones (rtsp-load.ts),
 * counted the same way, so one orchestrator compares the protocols.
 */
import net from 'node:net';
import { percentile } from './proc.js';
import { WmspFrameParser } from '../../../src/protocols/wmsp/codec.js';
import { MmsPlayer } from './mmsp-load.js';
import { RtspLoadPlayer } from './rtsp-load.js';

export interface LoadOptions {
  /**
   * wmsp (default): ffmpeg's mmsh requests on `port`; mmsp: ffmpeg's mmst exchange (./mmsp-load.ts) on `mmsPort`;
   * rtsp-tcp / rtsp-udp: RTSP players (./rtsp-load.ts) on `rtspPort`
   */
  protocol?: 'wmsp' | 'mmsp' | 'rtsp-tcp' | 'rtsp-udp';
  host: string;
  port: number;
  /** request path, e.g. /live */
  path: string;
  players: number;
  /** measurement window, after everyone joined and settled */
  seconds: number;
  settleSeconds: number;
  /** players connecting at once during the ramp */
  concurrency: number;
  /** stream numbers for stream-switch-entry (ffmpeg lists every stream of the header) */
  streams: number[];
  /** bytes a healthy player receives per second (from an idle probe); 0 = unknown (no starvation verdict) */
  expectedBytesPerSecond: number;
  /** a player that got no data this long within the window is starved */
  stallMs: number;
  /** give up waiting for joins after this long */
  rampTimeoutMs: number;
  /** how many bytes each player got in the window is reported per player (to merge several load processes) */
  reportPerPlayer?: boolean;
  rtspPort?: number;
  mmsPort?: number;
}

export interface LoadResult {
  event: 'result';
  players: number;
  joined: number;
  failed: number;
  failures: Record<string, number>;
  windowSeconds: number;
  /** bytes received by all players inside the window */
  windowBytes: number;
  /** all bytes received by all players over the run (ramp + settle + window) */
  totalBytes: number;
  windowDataFrames: number;
  perPlayerWindowBytes: { min: number; p1: number; p50: number; max: number };
  /** with reportPerPlayer: every player's window bytes, sorted */
  perPlayer?: number[];
  maxStallMs: number;
  starved: number;
  starvedByBytes: number;
  starvedByStall: number;
  /** packets missing according to $D LocationId continuity (all players, whole run) */
  locationGaps: number;
  endFrames: number;
  changeFrames: number;
  /** player 0's bytes checked by WmspFrameParser */
  verified: { frames: number; dataFrames: number; headers: number; error?: string };
  loadCpuSeconds: number;
  rampMs: number;
}

const DESCRIBE = (host: string, port: number, path: string) =>
  `GET ${path} HTTP/1.1\r\nRange: bytes=0-\r\nIcy-MetaData: 1\r\nAccept: */*\r\nUser-Agent: NSPlayer/4.1.0.3856\r\nHost: ${host}:${port}\r\n` +
  'Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0\r\n' +
  'Pragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\nConnection: Close\r\n\r\n';

// ffmpeg's Play request, including its last Pragma line that runs into "Connection: Close" without a CRLF
const PLAY = (host: string, port: number, path: string, streams: number[]) =>
  `GET ${path} HTTP/1.1\r\nRange: bytes=0-\r\nConnection: close\r\nIcy-MetaData: 1\r\nAccept: */*\r\nUser-Agent: NSPlayer/4.1.0.3856\r\nHost: ${host}:${port}\r\n` +
  'Pragma: no-cache,rate=1.000000,request-context=2\r\nPragma: xPlayStrm=1\r\nPragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\n' +
  `Pragma: stream-switch-count=${streams.length}\r\nPragma: stream-switch-entry=${streams.map((s) => `ffff:${s}:0 `).join('')}\r\n` +
  'Pragma: no-cache,rate=1.000000,stream-time=0Connection: Close\r\n\r\n';

const MAX_RESPONSE_HEAD = 16 * 1024;
const FRAME_D = 0x44;
const FRAME_H = 0x48;
const FRAME_E = 0x45;
const FRAME_C = 0x43;

let now = Date.now();
const clock = setInterval(() => {
  now = Date.now();
}, 20);

// one read buffer for every socket: reads are handled synchronously, one at a time
const shared = Buffer.allocUnsafe(256 * 1024);

/** Scans a $-frame stream, counting frames; keeps only the 4-byte frame header and 4-byte LocationId across reads. */
class FrameCounter {
  bytes = 0;
  dataFrames = 0;
  headerFrames = 0;
  endFrames = 0;
  changeFrames = 0;
  /** $H frames received completely */
  headersCompleted = 0;
  gaps = 0;
  error: string | undefined;
  private need = 0; // body bytes left in the current frame
  private head = Buffer.alloc(8);
  private headLen = 0; // bytes of frame header (4) + LocationId (4 for $D) collected
  private type = 0;
  private lastLocation = -1;

  /** returns false on a framing error */
  scan(buf: Buffer, start: number, end: number): boolean {
    this.bytes += end - start;
    let i = start;
    while (i < end) {
      if (this.need > 0 && this.headLen >= 8) {
        const take = Math.min(this.need, end - i);
        this.need -= take;
        i += take;
        if (this.need === 0) this.frameDone();
        continue;
      }
      if (this.headLen < 4) {
        this.head[this.headLen++] = buf[i++]!;
        if (this.headLen === 4) {
          if ((this.head[0]! & 0x7f) !== 0x24) {
            this.error = `bad frame mark 0x${this.head[0]!.toString(16)}`;
            return false;
          }
          this.type = this.head[1]!;
          this.need = this.head.readUInt16LE(2);
          if (this.type === FRAME_D) this.dataFrames++;
          else if (this.type === FRAME_H) this.headerFrames++;
          else if (this.type === FRAME_E) this.endFrames++;
          else if (this.type === FRAME_C) this.changeFrames++;
          if (this.type !== FRAME_D || this.need < 4) this.headLen = 8; // nothing more to look at in this frame
          if (this.need === 0) this.frameDone();
        }
        continue;
      }
      // collecting the $D LocationId
      this.head[this.headLen++] = buf[i++]!;
      this.need--;
      if (this.headLen === 8) {
        const loc = this.head.readUInt32LE(4);
        if (this.lastLocation >= 0 && loc !== ((this.lastLocation + 1) >>> 0) && loc > this.lastLocation) this.gaps += loc - this.lastLocation - 1;
        this.lastLocation = loc;
        if (this.need === 0) this.frameDone();
      }
    }
    return true;
  }

  private frameDone(): void {
    if (this.type === FRAME_H) this.headersCompleted++;
    this.headLen = 0;
  }
}

type FailReason = string;

class Player {
  phase: 'idle' | 'describe' | 'play' | 'done' | 'failed' = 'idle';
  socket: net.Socket | undefined;
  headText = '';
  headDone = false;
  counter = new FrameCounter();
  describeCounter: FrameCounter | undefined;
  joinedAt = 0;
  lastDataAt = 0;
  maxStall = 0;
  windowStartBytes = 0;
  windowStartFrames = 0;
  windowEndBytes = 0;
  windowEndFrames = 0;
  failure: FailReason | undefined;
  verifier: WmspFrameParser | undefined;
  verified = { frames: 0, dataFrames: 0, headers: 0, error: undefined as string | undefined };

  constructor(
    readonly id: number,
    private readonly opts: LoadOptions,
    private readonly hooks: { joined(p: unknown): void; windowActive(): boolean },
  ) {
    if (id === 0) this.verifier = new WmspFrameParser();
  }

  start(): void {
    this.phase = 'describe';
    this.describeCounter = new FrameCounter();
    this.connect(DESCRIBE(this.opts.host, this.opts.port, this.opts.path));
  }

  private connect(request: string): void {
    this.headText = '';
    this.headDone = false;
    const socket = net.connect({
      host: this.opts.host,
      port: this.opts.port,
      onread: { buffer: shared, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf as Buffer) },
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(request));
    socket.on('error', (err) => this.fail(`socket ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      if (this.phase === 'describe') this.fail('describe closed before a complete $H');
      else if (this.phase === 'play') this.fail(this.counter.endFrames > 0 ? 'stream ended ($E)' : 'play connection closed by server');
    });
  }

  private fail(reason: FailReason): void {
    if (this.phase === 'failed' || this.phase === 'done') return;
    const wasJoined = this.joinedAt > 0;
    this.phase = 'failed';
    this.failure = reason;
    this.socket?.destroy();
    if (!wasJoined) this.hooks.joined(this); // counts as settled (failed) for the ramp
  }

  stop(): void {
    if (this.phase === 'play' || this.phase === 'describe') this.phase = 'done';
    this.socket?.destroy();
  }

  private onRead(n: number, buf: Buffer): boolean {
    if (this.phase !== 'describe' && this.phase !== 'play') return false;
    let start = 0;
    if (!this.headDone) {
      // response head: few hundred bytes, latin1 is exact for it
      this.headText += buf.toString('latin1', 0, n);
      const end = this.headText.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.headText.length > MAX_RESPONSE_HEAD) this.fail('response head too large');
        return true;
      }
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.headText);
      if (!status || status[1] !== '200') {
        this.fail(`HTTP ${status ? status[1] : 'garbage'}`);
        return false;
      }
      if (/\r\ntransfer-encoding:\s*chunked/i.test(this.headText.slice(0, end))) {
        this.fail('chunked response (load client reads HTTP/1.0 bodies only)');
        return false;
      }
      this.headDone = true;
      start = n - (this.headText.length - (end + 4));
      this.headText = '';
    }
    if (this.phase === 'describe') {
      const c = this.describeCounter!;
      if (!c.scan(buf, start, n)) {
        this.fail(`describe framing: ${c.error}`);
        return false;
      }
      // ffmpeg reads the first complete $H, then closes and sends the Play request
      if (c.headersCompleted > 0) {
        const old = this.socket!;
        this.socket = undefined;
        old.destroy();
        this.phase = 'play';
        this.connect(PLAY(this.opts.host, this.opts.port, this.opts.path, this.opts.streams));
      }
      return true;
    }
    // play
    if (this.lastDataAt > 0 && this.hooks.windowActive()) {
      const gap = now - this.lastDataAt;
      if (gap > this.maxStall) this.maxStall = gap;
    }
    this.lastDataAt = now;
    if (!this.counter.scan(buf, start, n)) {
      this.fail(`play framing: ${this.counter.error}`);
      return false;
    }
    if (this.verifier && !this.verified.error) {
      try {
        for (const f of this.verifier.push(Buffer.from(buf.subarray(start, n)))) {
          this.verified.frames++;
          if (f.type === 'D') this.verified.dataFrames++;
          if (f.type === 'H') this.verified.headers++;
        }
      } catch (err) {
        this.verified.error = (err as Error).message;
      }
    }
    if (this.joinedAt === 0 && this.counter.dataFrames > 0) {
      this.joinedAt = now;
      this.hooks.joined(this);
    }
    return true;
  }
}

/** resolves at the orchestrator's `go` line on stdin (or when stdin closes: run alone, start at once) */
function goSignal(): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('go')) done();
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', done);
  });
}


async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  const cpu0 = process.cpuUsage();
  const players: Array<Player | MmsPlayer | RtspLoadPlayer> = [];
  let settled = 0;
  let windowActive = false;
  let next = 0;
  let inflight = 0;
  let onAllSettled: () => void = () => {};
  const allSettled = new Promise<void>((r) => (onAllSettled = r));
  const launch = () => {
    while (inflight < opts.concurrency && next < opts.players) {
      const id = next++;
      const p =
        opts.protocol === 'rtsp-tcp' || opts.protocol === 'rtsp-udp'
          ? new RtspLoadPlayer(id, { host: opts.host, port: opts.rtspPort ?? 554, path: opts.path, transport: opts.protocol === 'rtsp-udp' ? 'udp' : 'tcp' }, shared, hooks)
          : opts.protocol === 'mmsp'
            ? new MmsPlayer(id, opts, hooks)
            : new Player(id, opts, hooks);
      players.push(p);
      inflight++;
      p.start();
    }
  };
  const hooks = {
    joined: () => {
      inflight--;
      settled++;
      if (settled === opts.players) onAllSettled();
      else launch();
    },
    windowActive: () => windowActive,
    now: () => now,
  };
  const rampStart = Date.now();
  launch();
  await Promise.race([allSettled, new Promise((r) => setTimeout(r, opts.rampTimeoutMs))]);
  const rampMs = Date.now() - rampStart;
  // whoever has not joined by now has failed
  for (const p of players) if (p.joinedAt === 0 && p.phase !== 'failed') p.failure = 'not joined within the ramp timeout';
  emit({ event: 'joined', joined: players.filter((p) => p.joinedAt > 0 && p.phase === 'play').length, rampMs });
  await new Promise((r) => setTimeout(r, opts.settleSeconds * 1000));
  emit({ event: 'ready' });
  await goSignal();

  now = Date.now();
  for (const p of players) {
    p.windowStartBytes = p.counter.bytes;
    p.windowStartFrames = p.counter.dataFrames;
    p.maxStall = 0;
    if (p.lastDataAt > 0) p.lastDataAt = now; // a stall is measured inside the window only
  }
  windowActive = true;
  const windowStart = Date.now();
  emit({ event: 'window-start', t: windowStart });
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  windowActive = false;
  now = Date.now();
  const windowSeconds = (now - windowStart) / 1000;
  for (const p of players) {
    p.windowEndBytes = p.counter.bytes;
    p.windowEndFrames = p.counter.dataFrames;
    const tailGap = p.lastDataAt > 0 ? now - p.lastDataAt : Infinity;
    if (tailGap > p.maxStall) p.maxStall = tailGap;
  }
  emit({ event: 'window-end', t: now });
  const cpu = process.cpuUsage(cpu0);

  const perBytes = players.map((p) => p.windowEndBytes - p.windowStartBytes).sort((a, b) => a - b);
  const expected = opts.expectedBytesPerSecond * windowSeconds;
  let starvedByBytes = 0;
  let starvedByStall = 0;
  let starved = 0;
  const failures: Record<string, number> = {};
  for (const p of players) {
    const got = p.windowEndBytes - p.windowStartBytes;
    const lowBytes = expected > 0 && got < 0.9 * expected;
    const stalled = p.maxStall > opts.stallMs;
    if (lowBytes) starvedByBytes++;
    if (stalled) starvedByStall++;
    if (lowBytes || stalled || p.joinedAt === 0) starved++;
    if (p.failure) failures[p.failure] = (failures[p.failure] ?? 0) + 1;
  }
  // players never started (ramp timeout before launch) are starved too
  starved += opts.players - players.length;
  if (opts.players > players.length) failures['never launched'] = opts.players - players.length;
  const result: LoadResult = {
    event: 'result',
    players: opts.players,
    joined: players.filter((p) => p.joinedAt > 0).length,
    failed: players.filter((p) => p.phase === 'failed').length,
    failures,
    windowSeconds,
    windowBytes: perBytes.reduce((a, b) => a + b, 0),
    totalBytes: players.reduce((a, p) => a + p.counter.bytes, 0),
    windowDataFrames: players.reduce((a, p) => a + (p.windowEndFrames - p.windowStartFrames), 0),
    perPlayerWindowBytes: { min: perBytes[0] ?? 0, p1: percentile(perBytes, 1), p50: percentile(perBytes, 50), max: perBytes[perBytes.length - 1] ?? 0 },
    perPlayer: opts.reportPerPlayer ? perBytes : undefined,
    maxStallMs: Math.max(0, ...players.map((p) => (Number.isFinite(p.maxStall) ? p.maxStall : 0))),
    starved,
    starvedByBytes,
    starvedByStall,
    locationGaps: players.reduce((a, p) => a + p.counter.gaps, 0),
    endFrames: players.reduce((a, p) => a + p.counter.endFrames, 0),
    changeFrames: players.reduce((a, p) => a + p.counter.changeFrames, 0),
    verified: players[0] ? players[0].verified : { frames: 0, dataFrames: 0, headers: 0, error: 'no player' },
    loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
    rampMs,
  };
  for (const p of players) p.stop();
  return result;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
runLoad(opts)
  .then((r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    clearInterval(clock);
    setTimeout(() => process.exit(0), 200);
  })
  .catch((err) => {
    process.stdout.write(JSON.stringify({ event: 'error', message: String((err as Error).stack ?? err) }) + '\n');
    process.exit(1);
  });
