import test from '../helpers/test.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigService } from '../../src/app/config-service.js';
import { validateConfig } from '../../src/config/index.js';
import { ConfigSync } from '../../src/device/config-sync.js';
import { DeviceKv } from '../../src/device/kv.js';
import { deviceMigrations } from '../../src/device/store.js';
import { openStore } from '../../src/store/db.js';
import { memoryLogger } from '../helpers/memory-log.js';

test('two doors, one config: an API change made after a desired document survives that document coming again', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-config-sync-'));
  const db = openStore(':memory:', deviceMigrations);
  const initial = validateConfig({ dataDir: dir, mqtt: { url: 'mqtt://127.0.0.1:1' } });
  const service = new ConfigService({ initial, modules: () => [], log: memoryLogger() });
  t.teardown(async () => {
    service.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const sync = new ConfigSync({ kv: new DeviceKv(db), service, log: memoryLogger() });
  const desired = { version: 3, config: { server: { maxPlayers: 100 } } };
  t.like(await sync.applyDesired(desired), { status: 'pending-restart', appliedVersion: 3 });
  t.is(service.running().server.maxPlayers, 100);
  await service.update((c) => void (c.server.maxPlayers = 250), { source: 'api' });
  // the retained document is delivered again after a reconnect
  const again = await sync.applyDesired(desired);
  t.is(again.appliedVersion, 3);
  t.is(service.running().server.maxPlayers, 250, 'the API change stays');
  t.is(again.config.server.maxPlayers, 250, 'config/reported shows what runs');
  // a new document from the operator is applied as usual
  await sync.applyDesired({ version: 4, config: { server: { maxPlayers: 90 } } });
  t.is(service.running().server.maxPlayers, 90);
  const refused = await sync.applyDesired({ version: 5, config: { server: { maxPlayers: 90 }, mqtt: { url: '' } } });
  t.is(refused.status, 'rejected');
  t.is(refused.errors[0]?.path, 'mqtt.url');
});
