import type { Db } from '../store/db.js';
import type { DeviceKv } from './kv.js';

export interface OutboxRow {
  seq: number;
  topic: string;
  /** the JSON text sent: the stored body with `seq` added */
  payload: string;
}

/**
 * The durable, bounded, ordered queue of what must reach the operator even across broker outages and agent
 * restarts (events, log lines). Rows are contiguous in `seq` because they leave only from the head (sent and
 * acknowledged, or dropped past the bound), so the count is max - min + 1 without a table scan.
 */
export class Outbox {
  private readonly insert;
  private readonly range;
  private readonly head;
  private readonly removeUpTo;
  private droppedCache: number;

  constructor(
    private readonly db: Db,
    private readonly kv: DeviceKv,
    private maxRows: number,
  ) {
    this.insert = db.prepare('INSERT INTO device_outbox (topic, payload, created_at) VALUES (?, ?, ?)');
    this.range = db.prepare('SELECT MIN(seq) AS first, MAX(seq) AS last FROM device_outbox');
    this.head = db.prepare('SELECT seq, topic, payload FROM device_outbox ORDER BY seq LIMIT ?');
    this.removeUpTo = db.prepare('DELETE FROM device_outbox WHERE seq <= ?');
    this.droppedCache = Number(kv.get('outbox-dropped') ?? '0');
  }

  setMaxRows(maxRows: number): void {
    this.maxRows = maxRows;
    this.db.transaction(() => this.enforceBound())();
  }

  /** Appends messages in one transaction (durable when it returns); returns their sequence numbers. */
  append(messages: ReadonlyArray<{ topic: string; body: Record<string, unknown> }>): number[] {
    if (messages.length === 0) return [];
    return this.db.transaction(() => {
      const now = Date.now();
      const seqs = messages.map((m) => Number(this.insert.run(m.topic, JSON.stringify(m.body), now).lastInsertRowid));
      this.enforceBound();
      return seqs;
    })();
  }

  /** The oldest rows, in order, ready to publish. */
  peek(limit: number): OutboxRow[] {
    const rows = this.head.all(limit) as Array<{ seq: number; topic: string; payload: string }>;
    return rows.map((r) => ({ seq: r.seq, topic: r.topic, payload: r.payload === '{}' ? `{"seq":${r.seq}}` : `{"seq":${r.seq},${r.payload.slice(1)}` }));
  }

  /** Removes rows the broker acknowledged (everything up to and including `seq`). */
  acknowledge(seq: number): void {
    this.removeUpTo.run(seq);
  }

  get pending(): number {
    const r = this.range.get() as { first: number | null; last: number | null };
    return r.first === null || r.last === null ? 0 : r.last - r.first + 1;
  }

  /** rows dropped past the bound since the device was installed */
  get dropped(): number {
    return this.droppedCache;
  }

  private enforceBound(): void {
    const r = this.range.get() as { first: number | null; last: number | null };
    if (r.first === null || r.last === null) return;
    const excess = r.last - r.first + 1 - this.maxRows;
    if (excess <= 0) return;
    const removed = this.removeUpTo.run(r.first + excess - 1).changes;
    this.droppedCache += removed;
    this.kv.set('outbox-dropped', String(this.droppedCache));
  }
}
