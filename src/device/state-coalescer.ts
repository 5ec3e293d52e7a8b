/**
 * Retained `state/<module>` messages: sent when a module's state changes, coalesced to the latest value and
 * at most once per interval per module; while offline only the latest value is kept (nothing queues up).
 */
export class StateCoalescer {
  private readonly latest = new Map<string, string>();
  private readonly sent = new Map<string, string>();
  private readonly lastSentAt = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly intervalMs: number,
    private readonly send: (module: string, json: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a module's current state; sends it now or when its interval allows. */
  update(module: string, state: unknown): void {
    const json = JSON.stringify(state);
    this.latest.set(module, json);
    if (this.sent.get(module) === json) return;
    this.trySend(module);
  }

  /** After a reconnect every module's latest state goes out again, regardless of the interval. */
  republishAll(): void {
    this.sent.clear();
    for (const module of this.latest.keys()) this.flush(module);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private trySend(module: string): void {
    if (this.timers.has(module)) return; // a send is already scheduled and will take the latest value
    const wait = (this.lastSentAt.get(module) ?? -Infinity) + this.intervalMs - this.now();
    if (wait <= 0) {
      this.flush(module);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(module);
      if (this.sent.get(module) !== this.latest.get(module)) this.flush(module);
    }, wait);
    t.unref();
    this.timers.set(module, t);
  }

  private flush(module: string): void {
    const json = this.latest.get(module);
    if (json === undefined) return;
    clearTimeout(this.timers.get(module));
    this.timers.delete(module);
    if (this.send(module, json)) {
      this.sent.set(module, json);
      this.lastSentAt.set(module, this.now());
    }
  }
}
