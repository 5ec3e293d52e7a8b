/**
 * Player connect bursts: a module whose telemetry reports a `players` count (the media server) is sampled,
 * and a rise of at least `threshold` players within `windowMs` becomes one event (then quiet for a window).
 */
export interface Burst {
  module: string;
  from: number;
  to: number;
  windowSec: number;
}

export class BurstDetector {
  private readonly samples = new Map<string, Array<{ at: number; players: number }>>();
  private readonly quietUntil = new Map<string, number>();

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  /** Records a sample; returns a burst when the rise within the window reaches the threshold. */
  sample(module: string, players: number, now = Date.now()): Burst | undefined {
    if (this.threshold <= 0 || !Number.isFinite(players)) return undefined;
    const list = this.samples.get(module) ?? [];
    list.push({ at: now, players });
    while (list.length > 0 && list[0].at < now - this.windowMs) list.shift();
    this.samples.set(module, list);
    if ((this.quietUntil.get(module) ?? 0) > now) return undefined;
    const low = Math.min(...list.map((s) => s.players));
    if (players - low < this.threshold) return undefined;
    this.quietUntil.set(module, now + this.windowMs);
    return { module, from: low, to: players, windowSec: Math.round(this.windowMs / 1000) };
  }
}
