/**
 * On-demand load generator: N paced on-demand sessions in one process, as ffmpeg plays and seeks an mmsh:// URL
 * (./wmsp-wire.ts: a Describe connection, then a Play connection from 0; a seek closes the Play and opens the URL
 * again, Describe then Play with stream-time = the target in ms). Run by scripts/bench/ondemand.ts:
 *
 *   tsx scripts/bench/lib/ondemand-load.ts '<json OnDemandLoadOptions>'
 *
 * Sessions are spread round-robin over the files. Each ramps up (concurrency-limited), settles, and on the
 * orchestrator's `go` line the measurement window starts; every session seeks `seeks` times at random moments of
 * the window (one in each equal slice of its middle 80%), to a random position that leaves at least `tailMs` of
 * the file and enough media to play to the window's end. Lines on stdout: {"event":"joined"}, {"event":"ready"},
 * {"event":"window-start"}, {"event":"window-end"}, then {"event":"result", ...}.
 *
 * Per session: bytes in the window against the file's rate (data packet bytes per second of media), the longest
 * gap between two reads of data inside the window (the reconnect of a seek is not a gap: it is the seek's
 * latency), and every seek's latency: Play request written → first $D (and from the seek's start, Describe
 * included). Seeds are fixed (--seed): the same command seeks the same sessions to the same places.
 */
import net from 'node:net';
import { clock, emit, finish, readyForWindow } from './load-child.js';
import { LoadPlayer, openLoadSocket, Ramp } from './load-player.js';
import { DESCRIBE, FrameCounter, PLAY, ResponseHead, sharedReadBuffer } from './wmsp-wire.js';

export interface OnDemandFile {
  /** request path, e.g. /vod/f000.wmv */
  path: string;
  streams: number[];
  /** data packet bytes per second of media */
  bytesPerSecond: number;
  durationMs: number;
}

export interface OnDemandLoadOptions {
  host: string;
  port: number;
  files: OnDemandFile[];
  /** this process's sessions */
  sessions: number;
  /** global index of this process's first session (round-robin over the files, seeds) */
  firstSession: number;
  seconds: number;
  settleSeconds: number;
  concurrency: number;
  seeks: number;
  /** a seek target leaves at least this much of the file after it */
  tailMs: number;
  /** a session whose data stops this long inside the window (seeks excluded) is starved */
  stallMs: number;
  /** a session that gets less than this share of its file's rate over the window is starved */
  minRateShare: number;
  /** a seek without data this long fails the session */
  seekTimeoutMs: number;
  rampTimeoutMs: number;
  seed: number;
}

export interface OnDemandLoadResult {
  event: 'result';
  sessions: number;
  joined: number;
  failed: number;
  failures: Record<string, number>;
  starved: number;
  starvedByRate: number;
  starvedByStall: number;
  seeksPlanned: number;
  seeksDone: number;
  /** every completed seek: Play request written → first $D, ms */
  seekPlayMs: number[];
  /** every completed seek: the old connection closed → first $D (Describe + Play), ms */
  seekWholeMs: number[];
  windowSeconds: number;
  windowBytes: number;
  totalBytes: number;
  windowDataFrames: number;
  /** every session's window bytes over its file's bytes in the window */
  rateShares: number[];
  maxGapMs: number;
  /** packets missing by $D LocationId inside one Play connection (a seek starts a new count) */
  locationGaps: number;
  loadCpuSeconds: number;
  rampMs: number;
}

/** mulberry32: a small seeded generator, so a run's seeks can be repeated */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Hooks {
  settled(): void;
  windowActive(): boolean;
}

class Session extends LoadPlayer {
  /** play-connection bytes over the whole run */
  bytes = 0;
  dataFrames = 0;
  locationGaps = 0;
  maxGap = 0;
  readonly seekPlayMs: number[] = [];
  readonly seekWholeMs: number[] = [];
  private socket: net.Socket | undefined;
  private head = new ResponseHead();
  private headDone = false;
  private counter = new FrameCounter();
  /** where the next Play starts, ms of media */
  private startAtMs = 0;
  /** performance.now() when the current seek closed the old Play (0: not seeking) */
  private seekStartedAt = 0;
  private playSentAt = 0;
  /** a Play was sent and no $D came back yet */
  private awaitingData = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly file: OnDemandFile,
    private readonly opts: OnDemandLoadOptions,
    private readonly hooks: Hooks,
    private readonly rand: () => number,
  ) {
    super();
  }

  start(): void {
    this.open();
  }

  /** schedules this session's seeks inside a window that starts now */
  planSeeks(windowMs: number): void {
    const slice = (0.8 * windowMs) / this.opts.seeks;
    for (let k = 0; k < this.opts.seeks; k++) {
      const at = 0.1 * windowMs + (k + this.rand()) * slice;
      // enough media after the target for the rest of the window (plus a margin), and never less than tailMs
      const keep = Math.max(this.opts.tailMs, windowMs - at + 15_000);
      const target = this.rand() * Math.max(0, this.file.durationMs - keep);
      this.timers.push(setTimeout(() => this.seek(target), at));
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    if (this.phase === 'play' || this.phase === 'describe') this.phase = 'done';
    this.socket?.destroy();
  }

  get seeking(): boolean {
    return this.seekStartedAt > 0;
  }

  private seek(targetMs: number): void {
    if (this.phase === 'failed' || this.phase === 'done') return; // a failure is counted where it happened
    if (this.seeking) {
      // the previous seek has not played yet: a player seeks again once it has
      this.timers.push(setTimeout(() => this.seek(targetMs), 500));
      return;
    }
    const started = (this.seekStartedAt = performance.now());
    this.startAtMs = targetMs;
    this.open();
    this.timers.push(
      setTimeout(() => {
        if (this.seekStartedAt === started) this.fail(`seek got no data within ${this.opts.seekTimeoutMs} ms`);
      }, this.opts.seekTimeoutMs),
    );
  }

  /** opens the URL as ffmpeg does: Describe first (its $H), then Play */
  private open(): void {
    this.phase = 'describe';
    this.connect(DESCRIBE(this.opts.host, this.opts.port, this.file.path));
  }

  private connect(request: string): void {
    const old = this.socket;
    this.socket = undefined;
    old?.destroy();
    this.head = new ResponseHead();
    this.headDone = false;
    this.counter = new FrameCounter();
    const socket = openLoadSocket(this.opts.host, this.opts.port, sharedReadBuffer, {
      read: (n, buf) => this.onRead(n, buf),
      connected: (s) => {
        if (this.phase === 'play') this.playSentAt = performance.now();
        s.write(request);
      },
      error: (reason) => this.fail(reason),
    });
    this.socket = socket;
    socket.on('close', () => {
      if (this.socket !== socket) return;
      if (this.phase === 'describe') this.fail('describe closed before a complete $H');
      else if (this.phase === 'play') this.fail(this.counter.endFrames > 0 ? 'file ended ($E) before the window did' : 'play connection closed by server');
    });
  }

  protected override close(): void {
    this.socket?.destroy();
  }

  protected override settled(): void {
    this.hooks.settled();
  }

  private onRead(n: number, buf: Buffer): boolean {
    if (this.phase !== 'describe' && this.phase !== 'play') return false;
    let start = 0;
    if (!this.headDone) {
      const body = this.head.feed(buf, n);
      if (typeof body === 'string') {
        this.fail(`${this.phase}: ${body}`);
        return false;
      }
      if (body < 0) return true;
      this.headDone = true;
      start = body;
    }
    const c = this.counter;
    const frames = c.dataFrames;
    const gaps = c.gaps;
    if (!c.scan(buf, start, n)) {
      this.fail(`${this.phase} framing: ${c.error}`);
      return false;
    }
    if (this.phase === 'describe') {
      // ffmpeg reads the first complete $H, then closes and sends the Play request
      if (c.headersCompleted > 0) {
        this.phase = 'play';
        this.awaitingData = true;
        this.connect(PLAY(this.opts.host, this.opts.port, this.file.path, this.file.streams, this.startAtMs));
      }
      return true;
    }
    this.bytes += n - start;
    this.dataFrames += c.dataFrames - frames;
    this.locationGaps += c.gaps - gaps;
    if (c.dataFrames > 0) this.onData();
    return true;
  }

  /** a read with $D in it: the first of a Play joins or completes a seek, later ones measure gaps */
  private onData(): void {
    const t = clock.now;
    if (this.awaitingData) {
      this.awaitingData = false;
      if (this.seeking) {
        const at = performance.now();
        this.seekPlayMs.push(at - this.playSentAt);
        this.seekWholeMs.push(at - this.seekStartedAt);
        this.seekStartedAt = 0;
      } else if (this.joinedAt === 0) {
        this.joinedAt = t;
        this.settled();
      }
    } else if (this.hooks.windowActive()) this.maxGap = Math.max(this.maxGap, t - this.lastDataAt);
    // the reconnect of a seek is the seek's latency, not a gap
    this.lastDataAt = t;
  }
}

/** window bytes and frames, gaps, and what a session's numbers say about it */
function verdicts(sessions: Session[], o: OnDemandLoadOptions, windowSeconds: number) {
  let starvedByRate = 0;
  let starvedByStall = 0;
  let starved = 0;
  const rateShares: number[] = [];
  const failures: Record<string, number> = {};
  for (const s of sessions) {
    const share = (s.windowEndBytes - s.windowStartBytes) / (s.file.bytesPerSecond * windowSeconds);
    rateShares.push(share);
    const low = share < o.minRateShare;
    const stalled = s.maxGap > o.stallMs;
    if (low) starvedByRate++;
    if (stalled) starvedByStall++;
    if (low || stalled || s.joinedAt === 0 || s.failure) starved++;
    if (s.failure) failures[s.failure] = (failures[s.failure] ?? 0) + 1;
  }
  rateShares.sort((a, b) => a - b);
  return { starved, starvedByRate, starvedByStall, rateShares, failures };
}

async function runLoad(o: OnDemandLoadOptions): Promise<OnDemandLoadResult> {
  const cpu0 = process.cpuUsage();
  let windowActive = false;
  const hooks: Hooks = {
    settled: () => ramp.settled(),
    windowActive: () => windowActive,
  };
  const ramp = new Ramp(o.sessions, o.concurrency, (k) => {
    const id = o.firstSession + k;
    return new Session(o.files[id % o.files.length]!, o, hooks, random(o.seed * 1_000_003 + id));
  });
  const sessions = ramp.players;
  const rampMs = await ramp.run(o.rampTimeoutMs);
  for (const s of sessions) if (s.joinedAt === 0 && !s.failure) s.failure = 'not joined within the ramp timeout';
  await readyForWindow(sessions.filter((s) => s.joinedAt > 0 && s.phase === 'play').length, rampMs, o.settleSeconds);

  clock.now = Date.now();
  for (const s of sessions) {
    s.windowStartBytes = s.bytes;
    s.windowStartFrames = s.dataFrames;
    s.maxGap = 0;
    if (s.lastDataAt > 0) s.lastDataAt = clock.now; // gaps are measured inside the window only
    if (s.joinedAt > 0 && !s.failure) s.planSeeks(o.seconds * 1000);
  }
  windowActive = true;
  const windowStart = Date.now();
  emit({ event: 'window-start', t: windowStart });
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  windowActive = false;
  clock.now = Date.now();
  const windowSeconds = (clock.now - windowStart) / 1000;
  for (const s of sessions) {
    s.windowEndBytes = s.bytes;
    s.windowEndFrames = s.dataFrames;
    // data stopped before the window ended (a seek still waiting is judged by its timeout)
    if (!s.seeking) s.maxGap = Math.max(s.maxGap, s.lastDataAt > 0 ? clock.now - s.lastDataAt : Infinity);
  }
  emit({ event: 'window-end', t: clock.now });
  const cpu = process.cpuUsage(cpu0);
  for (const s of sessions) s.stop();

  const v = verdicts(sessions, o, windowSeconds);
  // sessions never launched (the ramp timed out first) are starved too
  const unlaunched = o.sessions - sessions.length;
  if (unlaunched > 0) v.failures['never launched'] = unlaunched;
  const seekPlayMs = sessions.flatMap((s) => s.seekPlayMs).sort((a, b) => a - b);
  return {
    event: 'result',
    sessions: o.sessions,
    joined: sessions.filter((s) => s.joinedAt > 0).length,
    failed: sessions.filter((s) => s.phase === 'failed').length,
    failures: v.failures,
    starved: v.starved + unlaunched,
    starvedByRate: v.starvedByRate,
    starvedByStall: v.starvedByStall,
    seeksPlanned: o.sessions * o.seeks,
    seeksDone: seekPlayMs.length,
    seekPlayMs,
    seekWholeMs: sessions.flatMap((s) => s.seekWholeMs).sort((a, b) => a - b),
    windowSeconds,
    windowBytes: sessions.reduce((a, s) => a + s.windowEndBytes - s.windowStartBytes, 0),
    totalBytes: sessions.reduce((a, s) => a + s.bytes, 0),
    windowDataFrames: sessions.reduce((a, s) => a + s.windowEndFrames - s.windowStartFrames, 0),
    rateShares: v.rateShares,
    maxGapMs: Math.max(0, ...sessions.map((s) => (Number.isFinite(s.maxGap) ? s.maxGap : 0))),
    locationGaps: sessions.reduce((a, s) => a + s.locationGaps, 0),
    loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
    rampMs,
  };
}

finish(runLoad(JSON.parse(process.argv[2] ?? '{}') as OnDemandLoadOptions));
