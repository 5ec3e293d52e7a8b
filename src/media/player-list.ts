/**
 * A set of players that is walked several times a second (every live batch, every sweep) and changed far less
 * often: an array walked by index, so a walk over thousands of players allocates nothing, with O(1) add and delete
 * (the last item moves into the deleted one's place). Order is not kept. A delete during a walk (a sink that closes
 * while it is written to) leaves a hole that the walk skips and fills when it ends, so no other player is skipped.
 */
export class PlayerList<T> {
  private items: (T | undefined)[] = [];
  private readonly index = new Map<T, number>();
  private walking = 0;
  private holes = 0;

  get size(): number {
    return this.index.size;
  }

  has(item: T): boolean {
    return this.index.has(item);
  }

  add(item: T): void {
    if (this.index.has(item)) return;
    this.index.set(item, this.items.length);
    this.items.push(item);
  }

  delete(item: T): boolean {
    const i = this.index.get(item);
    if (i === undefined) return false;
    this.index.delete(item);
    if (this.walking > 0) {
      this.items[i] = undefined;
      this.holes++;
      return true;
    }
    const last = this.items.pop()!;
    if (last !== item) {
      this.items[i] = last;
      this.index.set(last, i);
    }
    return true;
  }

  /** calls fn for every item, including those added meanwhile; items deleted meanwhile are not visited */
  walk(fn: (item: T) => void): void {
    this.walking++;
    try {
      const items = this.items;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (item !== undefined) fn(item);
      }
    } finally {
      if (--this.walking === 0 && this.holes > 0) this.compact();
    }
  }

  /** a copy, for walks that end or move players as they go */
  snapshot(): T[] {
    const out: T[] = [];
    for (const item of this.items) if (item !== undefined) out.push(item);
    return out;
  }

  private compact(): void {
    this.items = this.snapshot();
    this.holes = 0;
    this.items.forEach((item, i) => this.index.set(item!, i));
  }
}
