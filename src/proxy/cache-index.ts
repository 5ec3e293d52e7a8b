/**
 * The on-demand cache's index in the appliance database: one row per origin URL with the ASF file it was
 * stored as, the origin's identity of the content (file id, creation date, a hash of the header it sent), the
 * state (partial: a fill was interrupted and can resume; complete: whole and hashed), size, creation date, last
 * access and hits. Structural changes are written at once; last access and hits are batched (flash-friendly).
 */
import type { Db, Migration } from '../store/db.js';

export const proxyMigrations: readonly Migration[] = [
  {
    area: 'proxy',
    version: 1,
    sql: `
      CREATE TABLE proxy_cache_entries (
        url TEXT PRIMARY KEY,
        file TEXT NOT NULL UNIQUE,
        file_id TEXT NOT NULL,
        creation_date TEXT NOT NULL,
        header_sha256 TEXT NOT NULL,
        packet_size INTEGER NOT NULL,
        packet_count INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('partial', 'complete')),
        packets INTEGER NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT,
        created_at INTEGER NOT NULL,
        last_access INTEGER NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX proxy_cache_lru ON proxy_cache_entries (last_access);
    `,
  },
];

export interface CacheRecord {
  url: string;
  /** file name inside the cache directory (the final name; a partial entry's data is in its part file) */
  file: string;
  /** the origin's ASF File ID (hex) */
  fileId: string;
  /** the origin's File Properties creation date (FILETIME, decimal) */
  creationDate: string;
  /** SHA-256 of the header (Header Object + Data Object head) the origin sent */
  headerSha256: string;
  packetSize: number;
  packetCount: number;
  state: 'partial' | 'complete';
  /** packets on disk: all of them when complete */
  packets: number;
  /** bytes on disk */
  size: number;
  /** SHA-256 of the whole file (complete entries) */
  sha256: string | null;
  createdAt: number;
  lastAccess: number;
  hits: number;
}

interface Row {
  url: string;
  file: string;
  file_id: string;
  creation_date: string;
  header_sha256: string;
  packet_size: number;
  packet_count: number;
  state: 'partial' | 'complete';
  packets: number;
  size: number;
  sha256: string | null;
  created_at: number;
  last_access: number;
  hits: number;
}

function fromRow(r: Row): CacheRecord {
  return {
    url: r.url,
    file: r.file,
    fileId: r.file_id,
    creationDate: r.creation_date,
    headerSha256: r.header_sha256,
    packetSize: r.packet_size,
    packetCount: r.packet_count,
    state: r.state,
    packets: r.packets,
    size: r.size,
    sha256: r.sha256,
    createdAt: r.created_at,
    lastAccess: r.last_access,
    hits: r.hits,
  };
}

export class CacheIndex {
  private readonly touched = new Set<CacheRecord>();
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly touchStmt;

  constructor(private readonly db: Db) {
    this.upsertStmt = db.prepare(`
      INSERT INTO proxy_cache_entries (url, file, file_id, creation_date, header_sha256, packet_size, packet_count, state, packets, size, sha256, created_at, last_access, hits)
      VALUES (@url, @file, @fileId, @creationDate, @headerSha256, @packetSize, @packetCount, @state, @packets, @size, @sha256, @createdAt, @lastAccess, @hits)
      ON CONFLICT (url) DO UPDATE SET file = excluded.file, file_id = excluded.file_id, creation_date = excluded.creation_date,
        header_sha256 = excluded.header_sha256, packet_size = excluded.packet_size, packet_count = excluded.packet_count,
        state = excluded.state, packets = excluded.packets, size = excluded.size, sha256 = excluded.sha256,
        created_at = excluded.created_at, last_access = excluded.last_access, hits = excluded.hits`);
    this.deleteStmt = db.prepare('DELETE FROM proxy_cache_entries WHERE url = ?');
    this.touchStmt = db.prepare('UPDATE proxy_cache_entries SET last_access = ?, hits = ? WHERE url = ?');
  }

  all(): CacheRecord[] {
    return (this.db.prepare('SELECT * FROM proxy_cache_entries ORDER BY last_access').all() as Row[]).map(fromRow);
  }

  /** writes the whole record now (new entries, state changes) */
  save(rec: CacheRecord): void {
    this.upsertStmt.run(rec);
    this.touched.delete(rec);
  }

  remove(url: string): void {
    this.deleteStmt.run(url);
    for (const r of this.touched) if (r.url === url) this.touched.delete(r);
  }

  /** a hit: last access and hits change in memory now and reach the database with the next flush */
  touch(rec: CacheRecord, now = Date.now()): void {
    rec.lastAccess = now;
    rec.hits++;
    this.touched.add(rec);
  }

  /** writes the batched access times and hits in one transaction */
  flush(): void {
    if (this.touched.size === 0) return;
    const batch = [...this.touched];
    this.touched.clear();
    this.db.transaction(() => {
      for (const r of batch) this.touchStmt.run(r.lastAccess, r.hits, r.url);
    })();
  }
}
