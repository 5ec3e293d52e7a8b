/**
 * Fan-out load generator: N light live players in one process. WMSP players (the default) send ffmpeg 5.1's exact request
 * bytes (a Describe connection, then a Play connection; ./wmsp-wire.ts) and count the $-frames of the Play
 * response without copying them. Run by scripts/bench/wmsp-fanout.ts as a child process:
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
import { clock, emit, finish, readyForWindow } from './load-child.js';
import { LivePlayer, openLoadSocket, Ramp } from './load-player.js';
import { percentile } from './proc.js';
import { DESCRIBE, FrameCounter, PLAY, ResponseHead, sharedReadBuffer as shared } from './wmsp-wire.js';
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

class Player extends LivePlayer {
  socket: net.Socket | undefined;
  head = new ResponseHead();
  headDone = false;
  counter = new FrameCounter();
  describeCounter: FrameCounter | undefined;
  verifier: WmspFrameParser | undefined;

  constructor(
    readonly id: number,
    private readonly opts: LoadOptions,
    private readonly hooks: { joined(p: unknown): void; windowActive(): boolean },
  ) {
    super();
    if (id === 0) this.verifier = new WmspFrameParser();
  }

  start(): void {
    this.phase = 'describe';
    this.describeCounter = new FrameCounter();
    this.connect(DESCRIBE(this.opts.host, this.opts.port, this.opts.path));
  }

  private connect(request: string): void {
    this.head = new ResponseHead();
    this.headDone = false;
    const socket = openLoadSocket(this.opts.host, this.opts.port, shared, {
      read: (n, buf) => this.onRead(n, buf),
      connected: (s) => s.write(request),
      error: (reason) => this.fail(reason),
    });
    this.socket = socket;
    socket.on('close', () => {
      if (this.socket !== socket) return;
      if (this.phase === 'describe') this.fail('describe closed before a complete $H');
      else if (this.phase === 'play') this.fail(this.counter.endFrames > 0 ? 'stream ended ($E)' : 'play connection closed by server');
    });
  }

  protected override close(): void {
    this.socket?.destroy();
  }

  protected override settled(): void {
    this.hooks.joined(this);
  }

  stop(): void {
    if (this.phase === 'play' || this.phase === 'describe') this.phase = 'done';
    this.socket?.destroy();
  }

  private onRead(n: number, buf: Buffer): boolean {
    if (this.phase !== 'describe' && this.phase !== 'play') return false;
    let start = 0;
    if (!this.headDone) {
      const body = this.head.feed(buf, n);
      if (typeof body === 'string') {
        this.fail(body);
        return false;
      }
      if (body < 0) return true;
      this.headDone = true;
      start = body;
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
      const gap = clock.now - this.lastDataAt;
      if (gap > this.maxStall) this.maxStall = gap;
    }
    this.lastDataAt = clock.now;
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
      this.joinedAt = clock.now;
      this.settled();
    }
    return true;
  }
}

async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  let windowActive = false;
  const hooks = {
    joined: () => ramp.settled(),
    windowActive: () => windowActive,
    now: () => clock.now,
  };
  const ramp = new Ramp<Player | MmsPlayer | RtspLoadPlayer>(opts.players, opts.concurrency, (id) =>
    opts.protocol === 'rtsp-tcp' || opts.protocol === 'rtsp-udp'
      ? new RtspLoadPlayer(id, { host: opts.host, port: opts.rtspPort ?? 554, path: opts.path, transport: opts.protocol === 'rtsp-udp' ? 'udp' : 'tcp' }, shared, hooks)
      : opts.protocol === 'mmsp'
        ? new MmsPlayer(id, opts, hooks)
        : new Player(id, opts, hooks),
  );
  const players = ramp.players;
  const rampMs = await ramp.run(opts.rampTimeoutMs);
  // whoever has not joined by now has failed
  for (const p of players) if (p.joinedAt === 0 && p.phase !== 'failed') p.failure = 'not joined within the ramp timeout';
  await readyForWindow(players.filter((p) => p.joinedAt > 0 && p.phase === 'play').length, rampMs, opts.settleSeconds);

  clock.now = Date.now();
  for (const p of players) {
    p.windowStartBytes = p.counter.bytes;
    p.windowStartFrames = p.counter.dataFrames;
    p.maxStall = 0;
    if (p.lastDataAt > 0) p.lastDataAt = clock.now; // a stall is measured inside the window only
  }
  windowActive = true;
  const windowStart = Date.now();
  emit({ event: 'window-start', t: windowStart });
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  windowActive = false;
  clock.now = Date.now();
  const windowSeconds = (clock.now - windowStart) / 1000;
  for (const p of players) {
    p.windowEndBytes = p.counter.bytes;
    p.windowEndFrames = p.counter.dataFrames;
    const tailGap = p.lastDataAt > 0 ? clock.now - p.lastDataAt : Infinity;
    if (tailGap > p.maxStall) p.maxStall = tailGap;
  }
  emit({ event: 'window-end', t: clock.now });
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

finish(runLoad(JSON.parse(process.argv[2] ?? '{}') as LoadOptions));
