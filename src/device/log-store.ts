import type { Db } from '../store/db.js';

export interface LogRecord {
  ts: number;
  level: string;
  /** "mss" for structured lines, "wmlog" (or the logs module's kind) for player/server entries */
  source: string;
  line: Record<string, unknown>;
}

export interface LogQuery {
  from?: number;
  to?: number;
  level?: string;
  source?: string;
  limit: number;
  /** continue after this row id (paging for uploads) */
  afterId?: number;
}

/**
 * What log-query and log uploads read. A logs module that keeps its own table may offer it structurally
 * (`queryLogs`); otherwise the agent's own bounded copy answers.
 */
export interface LogQuerySource {
  queryLogs(q: LogQuery): Promise<Array<LogRecord & { id: number }>> | Array<LogRecord & { id: number }>;
}

/** The agent's bounded copy of log lines and player/server log entries (device_log), written in batches. */
export class DeviceLogStore implements LogQuerySource {
  private readonly insert;
  private readonly trimBelow;
  private readonly lastId;
  private pending: LogRecord[] = [];
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly maxRows = 50_000,
    private readonly flushMs = 1000,
  ) {
    this.insert = db.prepare('INSERT INTO device_log (ts, level, source, line) VALUES (?, ?, ?, ?)');
    this.trimBelow = db.prepare('DELETE FROM device_log WHERE id <= ?');
    this.lastId = db.prepare('SELECT MAX(id) AS id FROM device_log');
  }

  /** Buffers a record; the batch is written within `flushMs` (one transaction, flash-friendly). */
  add(record: LogRecord): void {
    this.pending.push(record);
    if (this.pending.length >= 500) this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), this.flushMs);
      this.flushTimer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const r of batch) this.insert.run(r.ts, r.level, r.source, JSON.stringify(r.line));
      const last = (this.lastId.get() as { id: number | null }).id;
      if (last !== null && last > this.maxRows) this.trimBelow.run(last - this.maxRows);
    })();
  }

  queryLogs(q: LogQuery): Array<LogRecord & { id: number }> {
    this.flush();
    const where: string[] = ['id > ?'];
    const params: unknown[] = [q.afterId ?? 0];
    if (q.from !== undefined) (where.push('ts >= ?'), params.push(q.from));
    if (q.to !== undefined) (where.push('ts <= ?'), params.push(q.to));
    if (q.level !== undefined) (where.push('level = ?'), params.push(q.level));
    if (q.source !== undefined) (where.push('source = ?'), params.push(q.source));
    const rows = this.db
      .prepare(`SELECT id, ts, level, source, line FROM device_log WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`)
      .all(...params, q.limit) as Array<{ id: number; ts: number; level: string; source: string; line: string }>;
    return rows.map((r) => ({ id: r.id, ts: r.ts, level: r.level, source: r.source, line: JSON.parse(r.line) as Record<string, unknown> }));
  }
}

/** what the logs module offers structurally (its own table of player logs and session rows) */
export interface EntryQueryModule {
  query(q: { since?: number; afterId?: number; source?: string; limit: number }): Array<{ id: number; receivedAt: number } & Record<string, unknown>>;
}

/** The logs module's player or server entries seen as a LogQuerySource (time range, paging by id). */
export function entriesSource(m: EntryQueryModule, source: string): LogQuerySource {
  return {
    queryLogs(q) {
      const out: Array<LogRecord & { id: number }> = [];
      let afterId = q.afterId ?? 0;
      // entries are in id order, which follows receive time: stop at the first page that is past `to`
      for (let pages = 0; pages < 100 && out.length < q.limit; pages++) {
        const rows = m.query({ since: q.from, afterId, source, limit: q.limit });
        if (rows.length === 0) break;
        for (const r of rows) {
          if (q.to !== undefined && r.receivedAt > q.to) return out;
          const { id, receivedAt, ...rest } = r;
          out.push({ id, ts: receivedAt, level: 'info', source, line: rest });
          if (out.length >= q.limit) return out;
        }
        afterId = rows[rows.length - 1].id;
      }
      return out;
    },
  };
}
