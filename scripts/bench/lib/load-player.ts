/**
 * What the players of the load generators share (the live WMSP, MMS and RTSP players of wmsp-load.ts, the
 * on-demand sessions of ondemand-load.ts): the state their harness reads, how they fail, the ramp that starts
 * them, and how they open a connection.
 */
import net from 'node:net';

/**
 * A player's phase, when it joined and last got data, its byte and frame counts at the window's ends, and why it
 * failed. A failure before joining settles it for the ramp.
 */
export abstract class LoadPlayer {
  phase: 'idle' | 'describe' | 'play' | 'done' | 'failed' = 'idle';
  failure: string | undefined;
  joinedAt = 0;
  lastDataAt = 0;
  windowStartBytes = 0;
  windowStartFrames = 0;
  windowEndBytes = 0;
  windowEndFrames = 0;

  /** drops its connections (the phase is already 'failed') */
  protected abstract close(): void;
  /** tells the ramp this player settled: it joined, or failed before it could */
  protected abstract settled(): void;

  protected fail(reason: string): void {
    if (this.phase === 'failed' || this.phase === 'done') return;
    const wasJoined = this.joinedAt > 0;
    this.phase = 'failed';
    this.failure = reason;
    this.close();
    if (!wasJoined) this.settled(); // settled (failed) for the ramp
  }
}

/** a live player as the fan-out harness reads it: the longest stall in the window, and player 0's codec check */
export abstract class LivePlayer extends LoadPlayer {
  maxStall = 0;
  verified = { frames: 0, dataFrames: 0, headers: 0, error: undefined as string | undefined };
}

/**
 * Starts `count` players, at most `concurrency` of them connecting at a time: each settled() (the player joined,
 * or failed before it could) starts the next. run() resolves once all settled or at the timeout, with its time.
 */
export class Ramp<P extends { start(): void }> {
  readonly players: P[] = [];
  private inflight = 0;
  private settledCount = 0;
  private onAllSettled: () => void = () => {};

  constructor(
    private readonly count: number,
    private readonly concurrency: number,
    private readonly create: (index: number) => P,
  ) {}

  readonly settled = (): void => {
    this.inflight--;
    if (++this.settledCount === this.count) this.onAllSettled();
    else this.launch();
  };

  /** the ramp's time in ms */
  async run(timeoutMs: number): Promise<number> {
    const allSettled = new Promise<void>((r) => (this.onAllSettled = r));
    const start = Date.now();
    this.launch();
    await Promise.race([allSettled, new Promise((r) => setTimeout(r, timeoutMs))]);
    return Date.now() - start;
  }

  private launch(): void {
    while (this.inflight < this.concurrency && this.players.length < this.count) {
      const p = this.create(this.players.length);
      this.players.push(p);
      this.inflight++;
      p.start();
    }
  }
}

/**
 * A load player's TCP connection: reads land in `buffer` (one for many sockets: each read is handled at once) and
 * go to read() (the buffer itself, so a Buffer), false stopping them; connected() sends the first request; a socket error goes to error() as
 * "socket <code>". The close is the caller's to handle.
 */
export function openLoadSocket(
  host: string,
  port: number,
  buffer: Buffer,
  on: { read(n: number, buf: Buffer): boolean; connected(socket: net.Socket): void; error(reason: string): void },
): net.Socket {
  const socket = net.connect({ host, port, onread: { buffer, callback: on.read } });
  socket.setNoDelay(true);
  socket.on('connect', () => on.connected(socket));
  socket.on('error', (err) => on.error(`socket ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  return socket;
}
