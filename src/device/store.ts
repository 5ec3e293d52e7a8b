import type { Migration } from '../store/db.js';

/**
 * The device agent's tables in the appliance database:
 * - device_kv: small durable facts (generated device id, outbox dropped count, applied desired config)
 * - device_outbox: events and log lines waiting for the broker, in order (seq), bounded
 * - device_jobs: long-running jobs and where each one is in its state machine
 * - device_log: the agent's own bounded copy of log entries, used by log-query and log uploads when no
 *   logs module offers a query
 */
export const deviceMigrations: readonly Migration[] = [
  {
    area: 'device',
    version: 1,
    sql: `
      CREATE TABLE device_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE device_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE device_jobs (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        doc TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        attempt INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        checkpoint TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE device_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        line TEXT NOT NULL
      );
      CREATE INDEX device_log_ts ON device_log (ts);
    `,
  },
];
