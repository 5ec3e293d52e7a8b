/**
 * Per-address limit on log POSTs: a fixed one-minute window per address, in a bounded table (the oldest
 * address is forgotten first), so a flood from many addresses cannot grow memory.
 */
export class PerAddressRateLimit {
  private readonly windows = new Map<string, { start: number; count: number; refused: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** true when this request is within the address's allowance (and counts it) */
  take(address: string): boolean {
    const t = this.now();
    let w = this.windows.get(address);
    if (!w || t - w.start >= 60_000) {
      this.windows.delete(address);
      if (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
      w = { start: t, count: 0, refused: 0 };
      this.windows.set(address, w);
    }
    if (w.count >= this.perMinute) {
      w.refused++;
      return false;
    }
    w.count++;
    return true;
  }

  /** posts refused for this address in its current window (1 after the first refusal) */
  refused(address: string): number {
    return this.windows.get(address)?.refused ?? 0;
  }

  /** seconds until the address may post again */
  retryAfter(address: string): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    return Math.max(1, Math.ceil((w.start + 60_000 - this.now()) / 1000));
  }

  get size(): number {
    return this.windows.size;
  }
}
