/**
 * The logs area's repository over the appliance database (better-sqlite3, WAL, synchronous=FULL): an insert
 * has reached the disk when it returns, so a log is acknowledged only after it is stored.
 */
import type { Db } from '../store/db.js';
import type { WmlogRecord } from '../protocols/wmlog/codec.js';
import type { LogEntry, LogSource, NewLogEntry } from './entry.js';

interface Row {
  id: number;
  received_at: number;
  source: LogSource;
  kind: string;
  protocol: string;
  encoding: string;
  remote_address: string;
  url: string;
  point: string | null;
  client_id: string | null;
  fields: string;
  extra: string | null;
}

function fromRow(r: Row): LogEntry {
  return {
    id: r.id,
    receivedAt: r.received_at,
    source: r.source,
    kind: r.kind,
    protocol: r.protocol,
    encoding: r.encoding,
    remoteAddress: r.remote_address,
    url: r.url,
    point: r.point ?? undefined,
    clientId: r.client_id ?? undefined,
    fields: JSON.parse(r.fields) as WmlogRecord,
    extra: r.extra ? (JSON.parse(r.extra) as Record<string, unknown>) : undefined,
  };
}

export interface LogQuery {
  /** entries received at or after this time (epoch ms) */
  since?: number;
  /** entries with an id above this (paging) */
  afterId?: number;
  source?: LogSource;
  limit: number;
}

export class LogStore {
  private readonly insertStmt;
  private readonly unexportedStmt;
  private readonly markStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO logs_entries (received_at, source, kind, protocol, encoding, remote_address, url, point, client_id, fields, extra)
       VALUES (@receivedAt, @source, @kind, @protocol, @encoding, @remoteAddress, @url, @point, @clientId, @fields, @extra)`,
    );
    this.unexportedStmt = db.prepare('SELECT * FROM logs_entries WHERE exported = 0 ORDER BY id LIMIT ?');
    this.markStmt = db.prepare('UPDATE logs_entries SET exported = 1 WHERE id <= ? AND exported = 0');
  }

  insert(e: NewLogEntry): LogEntry {
    const info = this.insertStmt.run({
      receivedAt: e.receivedAt,
      source: e.source,
      kind: e.kind,
      protocol: e.protocol,
      encoding: e.encoding,
      remoteAddress: e.remoteAddress,
      url: e.url,
      point: e.point ?? null,
      clientId: e.clientId ?? null,
      fields: JSON.stringify(e.fields),
      extra: e.extra ? JSON.stringify(e.extra) : null,
    });
    return { ...e, id: Number(info.lastInsertRowid) };
  }

  /** several entries in one transaction: one fsync for the batch (group commit) */
  insertMany(entries: readonly NewLogEntry[]): LogEntry[] {
    return this.db.transaction((list: readonly NewLogEntry[]) => list.map((e) => this.insert(e)))(entries);
  }

  query(q: LogQuery): LogEntry[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.since !== undefined) {
      where.push('received_at >= ?');
      args.push(q.since);
    }
    if (q.afterId !== undefined) {
      where.push('id > ?');
      args.push(q.afterId);
    }
    if (q.source) {
      where.push('source = ?');
      args.push(q.source);
    }
    const sql = `SELECT * FROM logs_entries ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as Row[]).map(fromRow);
  }

  count(source?: LogSource): number {
    const row = (source
      ? this.db.prepare('SELECT COUNT(*) AS n FROM logs_entries WHERE source = ?').get(source)
      : this.db.prepare('SELECT COUNT(*) AS n FROM logs_entries').get()) as { n: number };
    return row.n;
  }

  /** rows not yet in the W3C file, oldest first */
  unexported(limit: number): LogEntry[] {
    return (this.unexportedStmt.all(limit) as Row[]).map(fromRow);
  }

  markExported(upToId: number): void {
    this.markStmt.run(upToId);
  }

  /** drops rows older than `beforeMs` that are already exported; returns how many */
  prune(beforeMs: number): number {
    return this.db.prepare('DELETE FROM logs_entries WHERE received_at < ? AND exported = 1').run(beforeMs).changes;
  }
}
