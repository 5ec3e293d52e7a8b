/**
 * A value per player group, the first group's kept inline and the others in a Map made only when a second group
 * comes. Every packet in the live ring carries two of these (its framed copy, the batch it begins) for the ring's
 * whole span: they outlive the young generation, so each one the old generation has to mark and sweep. A Map per
 * entry cost ~180 bytes there; nearly every point has one group, and this costs one small object.
 */
export class GroupSlot<T> {
  private id = 0;
  private value: T | undefined = undefined;
  private more: Map<number, T> | undefined = undefined;

  /** group ids are positive */
  get(id: number): T | undefined {
    if (id === this.id) return this.value;
    return this.more?.get(id);
  }

  has(id: number): boolean {
    return id === this.id || (this.more?.has(id) ?? false);
  }

  set(id: number, value: T): void {
    if (this.id === 0 || this.id === id) {
      this.id = id;
      this.value = value;
    } else (this.more ??= new Map()).set(id, value);
  }

  clear(): void {
    this.id = 0;
    this.value = undefined;
    this.more = undefined;
  }
}
