/**
 * A protocol's table of sessions (WMSP client-ids, RTSP Session ids, ...): bounded in size, idle sessions expire on
 * the core's one clock (a Sweeper) instead of a timer per session, and a full table forgets its stalest idle
 * session rather than grow. Busy sessions (streaming) never expire by idleness: their transport watches them.
 */
import type { Sweeper } from '../../contracts/media.js';
import { MssError } from '../../core/errors.js';

export interface TableEntry {
  /** ms (Date.now()) of the last request or keep-alive */
  lastSeen: number;
}

export interface SessionTableOptions<K, S extends TableEntry> {
  /** a session idle this long is forgotten */
  idleMs: number;
  maxSessions: number;
  /** a fresh, unused id */
  newId: (taken: (id: K) => boolean) => K;
  /** streaming sessions are never expired for idleness */
  isBusy?: (s: S) => boolean;
  /** called when a session leaves the table by expiry, eviction or stop (not by delete) */
  onExpire?: (s: S, why: 'idle' | 'evicted' | 'stopped') => void;
  /** how often the table looks for idle sessions (default 1 s) */
  sweepEveryMs?: number;
}

export class SessionTable<K, S extends TableEntry> {
  private readonly sessions = new Map<K, S>();
  private removeSweep: (() => void) | null = null;
  private lastSweep = 0;

  constructor(private readonly o: SessionTableOptions<K, S>) {}

  /** starts the idle sweep on the core's clock */
  start(sweeper: Sweeper): void {
    if (this.removeSweep) return;
    this.removeSweep = sweeper.addSweep((now) => this.sweep(now));
  }

  /** stops the sweep and forgets every session (each gets onExpire 'stopped') */
  stop(): void {
    this.removeSweep?.();
    this.removeSweep = null;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) this.o.onExpire?.(s, 'stopped');
  }

  get size(): number {
    return this.sessions.size;
  }

  values(): IterableIterator<S> {
    return this.sessions.values();
  }

  get(id: K): S | undefined {
    return this.sessions.get(id);
  }

  /** the session, its lastSeen refreshed */
  touch(id: K): S | undefined {
    const s = this.sessions.get(id);
    if (s) s.lastSeen = Date.now();
    return s;
  }

  /** adds a session made for a fresh id; a full table evicts its stalest idle session, or refuses (limit-reached) */
  create(make: (id: K) => S): S {
    if (this.sessions.size >= this.o.maxSessions && !this.evictStalest()) {
      throw new MssError('limit-reached', `the server has ${this.sessions.size} sessions, its limit`, { limit: 'sessions' });
    }
    const id = this.o.newId((k) => this.sessions.has(k));
    const s = make(id);
    this.sessions.set(id, s);
    return s;
  }

  delete(id: K): boolean {
    return this.sessions.delete(id);
  }

  /** forgets idle sessions (also callable directly, e.g. by tests) */
  sweep(now = Date.now()): void {
    const every = this.o.sweepEveryMs ?? 1000;
    if (now - this.lastSweep < every && now >= this.lastSweep) return;
    this.lastSweep = now;
    const wall = Date.now();
    // forEach, not for-of over entries: no [id, session] array per session per sweep (thousands of players)
    let expired: K[] | null = null;
    this.sessions.forEach((s, id) => {
      if (wall - s.lastSeen > this.o.idleMs && !this.o.isBusy?.(s)) (expired ??= []).push(id);
    });
    for (const id of expired ?? []) {
      const s = this.sessions.get(id)!;
      this.sessions.delete(id);
      this.o.onExpire?.(s, 'idle');
    }
  }

  private evictStalest(): boolean {
    let stalest: [K, S] | undefined;
    for (const entry of this.sessions) {
      if (this.o.isBusy?.(entry[1])) continue;
      if (!stalest || entry[1].lastSeen < stalest[1].lastSeen) stalest = entry;
    }
    if (!stalest) return false;
    this.sessions.delete(stalest[0]);
    this.o.onExpire?.(stalest[1], 'evicted');
    return true;
  }
}
