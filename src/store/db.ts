import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MssError } from '../core/errors.js';

export type Db = Database.Database;

/** the appliance database file in dataDir (shared by the modules that keep state, each with its own tables) */
export const DATABASE_FILE = 'mss.db';

/** One schema step of one area; `version`s of an area run in order, each exactly once. */
export interface Migration {
  area: string;
  version: number;
  sql: string;
}

/**
 * Opens (creating if needed) the appliance's one SQLite database in WAL mode and applies the migrations
 * that have not run yet. Each area (logs, device, ...) owns its migrations, so modules stay independent.
 */
export function openStore(file: string, migrations: readonly Migration[] = []): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new MssError('unavailable', `cannot open database ${file}: ${(err as Error).message}`);
  }
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; FULL adds an fsync per commit for power loss.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    applyMigrations(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function applyMigrations(db: Db, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (area TEXT NOT NULL, version INTEGER NOT NULL, applied_at INTEGER NOT NULL, PRIMARY KEY (area, version))');
  const applied = new Set(
    (db.prepare('SELECT area, version FROM schema_migrations').all() as Array<{ area: string; version: number }>).map((r) => `${r.area}@${r.version}`),
  );
  const pending = migrations
    .filter((m) => !applied.has(`${m.area}@${m.version}`))
    .sort((a, b) => a.area.localeCompare(b.area) || a.version - b.version);
  const record = db.prepare('INSERT INTO schema_migrations (area, version, applied_at) VALUES (?, ?, ?)');
  for (const m of pending) {
    try {
      db.transaction(() => {
        db.exec(m.sql);
        record.run(m.area, m.version, Date.now());
      })();
    } catch (err) {
      throw new MssError('internal', `database migration ${m.area}@${m.version} failed: ${(err as Error).message}`);
    }
  }
}
