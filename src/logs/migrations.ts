import type { Migration } from '../store/db.js';

/**
 * The logs area's tables in the appliance database. One row per log entry: a player's log (any carrier) or
 * the server's own record of a session. `fields` holds the MS-WMLOG fields as JSON (W3C tokens, server-filled
 * values already applied); `exported` marks rows already appended to the W3C file, so the file can be
 * rebuilt from the database after a crash without losing or (beyond the last batch) repeating lines.
 */
export const logsMigrations: readonly Migration[] = [
  {
    area: 'logs',
    version: 1,
    sql: `
      CREATE TABLE logs_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('player', 'server')),
        kind TEXT NOT NULL,
        protocol TEXT NOT NULL,
        encoding TEXT NOT NULL,
        remote_address TEXT NOT NULL,
        url TEXT NOT NULL,
        point TEXT,
        client_id TEXT,
        fields TEXT NOT NULL,
        extra TEXT,
        exported INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX logs_entries_received ON logs_entries (received_at);
      CREATE INDEX logs_entries_unexported ON logs_entries (exported, id);
    `,
  },
];
