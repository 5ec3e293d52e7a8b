import test from '../helpers/test.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Migration } from '../../src/store/db.js';

const migrations: Migration[] = [
  { area: 'demo', version: 1, sql: 'CREATE TABLE demo (id INTEGER PRIMARY KEY, v TEXT)' },
  { area: 'demo', version: 2, sql: 'ALTER TABLE demo ADD COLUMN w INTEGER' },
];

test('a real SQLite file opens in WAL mode and each migration runs exactly once', (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'mss-store-')), 'sub', 'mss.db');
  const db = openStore(file, migrations);
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  db.prepare('INSERT INTO demo (v, w) VALUES (?, ?)').run('a', 1);
  db.close();
  const again = openStore(file, migrations);
  t.deepEqual(again.prepare('SELECT v, w FROM demo').all(), [{ v: 'a', w: 1 }]);
  t.is((again.prepare('SELECT count(*) n FROM schema_migrations').get() as { n: number }).n, 2);
  again.close();
});

test('a failing migration leaves nothing half-applied', (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'mss-store-')), 'mss.db');
  t.throws(() => openStore(file, [{ area: 'bad', version: 1, sql: 'CREATE TABLE ok1 (a); CREATE TABLE broken (' }]), {
    message: /migration bad@1 failed/,
  });
  const db = openStore(file, []);
  t.is((db.prepare("SELECT count(*) n FROM sqlite_master WHERE name = 'ok1'").get() as { n: number }).n, 0);
  db.close();
});
