import test from '../helpers/test.js';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createLogger } from '../../src/core/log.js';
import { DeviceAgent } from '../../src/device/agent.js';
import { JobRunner, type JobStatusReport } from '../../src/device/jobs.js';
import { DeviceLogStore } from '../../src/device/log-store.js';
import { logUploadJob } from '../../src/device/log-upload-job.js';
import { deviceMigrations } from '../../src/device/store.js';
import { FleetClient } from '../../src/fleet/client.js';
import { openStore } from '../../src/store/db.js';
import { agentConfig, tempDir } from '../helpers/device.js';
import { startMosquitto } from '../helpers/mosquitto.js';

/** A real HTTP upload target on loopback; answers `failFirst` requests with 503. */
async function uploadServer(failFirst = 0) {
  const bodies: Array<{ method: string; headers: http.IncomingHttpHeaders; body: Buffer }> = [];
  let requests = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      if (requests <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      bodies.push({ method: req.method!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as import('node:net').AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/upload`, bodies, requests: () => requests, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function runner(dir: string, db = openStore(':memory:', deviceMigrations)) {
  const statuses: Array<{ id: string; report: JobStatusReport | null }> = [];
  const logs = new DeviceLogStore(db);
  const jobs = new JobRunner(db, (id, report) => statuses.push({ id, report }), createLogger('test'), 50);
  jobs.register(logUploadJob({ dir, logs: () => ({ mss: logs }), deviceId: () => 'box-1' }));
  return { db, jobs, logs, statuses, last: (id: string) => statuses.filter((s) => s.id === id).at(-1)?.report };
}

test('a log upload job sends the logs of its time range gzip-compressed, retrying after server errors', async (t) => {
  const tmp = await tempDir();
  const target = await uploadServer(2);
  t.teardown(async () => {
    await target.close();
    await tmp.remove();
  });
  const { jobs, logs, last } = runner(tmp.dir);
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 2500; i++) logs.add({ ts: base + i * 1000, level: i % 2 ? 'warn' : 'info', source: 'mss', line: { event: `e${i}` } });
  jobs.start();
  t.teardown(() => jobs.stop());
  jobs.submit('up-1', { type: 'log-upload', url: target.url, from: base + 100_000, to: new Date(base + 1_299_000).toISOString(), maxAttempts: 5 });
  await waitUntil(() => last('up-1')?.status === 'successful' || last('up-1')?.status === 'failed', 20_000, 'job end');
  t.is(last('up-1')!.status, 'successful', last('up-1')!.reason);
  t.is(last('up-1')!.attempt, 3);
  t.is(target.bodies.length, 1);
  const { method, headers, body } = target.bodies[0];
  t.is(method, 'PUT');
  t.is(headers['content-type'], 'application/gzip');
  t.is(headers['x-mss-device'], 'box-1');
  const lines = gunzipSync(body).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string });
  t.is(lines.length, 1200);
  t.is(lines[0].event, 'e100');
  t.is(lines.at(-1)!.event, 'e1299');
});

test('invalid and unknown jobs are rejected with a reason; a 4xx answer fails without retrying', async (t) => {
  const tmp = await tempDir();
  const target = http.createServer((_req, res) => res.writeHead(403).end());
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    target.close();
    await tmp.remove();
  });
  const { jobs, last } = runner(tmp.dir);
  jobs.start();
  t.teardown(() => jobs.stop());
  jobs.submit('j1', { type: 'firmware-teleport' });
  t.is(last('j1')!.status, 'rejected');
  t.regex(last('j1')!.reason, /unknown job type/);
  jobs.submit('j2', { type: 'log-upload', url: 'ftp://x', from: 0 });
  t.is(last('j2')!.status, 'rejected');
  t.regex(last('j2')!.reason, /url/);
  jobs.submit('j3', null, new Error('payload is not JSON'));
  t.is(last('j3')!.status, 'rejected');
  const port = (target.address() as import('node:net').AddressInfo).port;
  jobs.submit('j4', { type: 'log-upload', url: `http://127.0.0.1:${port}/x`, from: 0, maxAttempts: 5 });
  await waitUntil(() => last('j4')?.status === 'failed', 10_000, 'failure');
  t.is(last('j4')!.attempt, 1);
  t.regex(last('j4')!.reason, /403/);
});

test('a job resumes after a restart of the agent, from SQLite', async (t) => {
  const tmp = await tempDir();
  const target = await uploadServer();
  t.teardown(async () => {
    await target.close();
    await tmp.remove();
  });
  const file = `${tmp.dir}/mss.db`;
  const first = runner(tmp.dir, openStore(file, deviceMigrations));
  first.jobs.start();
  first.jobs.submit('later', { type: 'log-upload', url: target.url, from: 0, notBefore: Date.now() + 1500 });
  t.is(first.last('later')!.status, 'queued');
  await first.jobs.stop();
  first.db.close();
  t.is(target.requests(), 0);

  const second = runner(tmp.dir, openStore(file, deviceMigrations));
  t.teardown(() => second.jobs.stop());
  second.jobs.start();
  await waitUntil(() => second.last('later')?.status === 'successful', 15_000, 'resumed job');
  t.is(target.bodies.length, 1);
  second.jobs.submit('later', { type: 'log-upload', url: target.url, from: 0 });
  t.is(second.last('later')!.status, 'successful', 'a retained job delivered again is not run twice');
  t.is(target.bodies.length, 1);
});

test('over MQTT: jobs/<id> runs and jobs/<id>/status is retained; removing the job clears it', async (t) => {
  const broker = await startMosquitto();
  const tmp = await tempDir();
  const target = await uploadServer();
  t.teardown(async () => {
    await target.close();
    await broker.stop();
    await tmp.remove();
  });
  const config = agentConfig({ url: broker.url, dataDir: tmp.dir });
  const agent: DeviceAgent = new DeviceAgent({ config, modules: () => [agent] });
  await agent.start();
  t.teardown(() => agent.stop());
  const fleet = await FleetClient.connect({ url: broker.url });
  t.teardown(() => fleet.close());
  const id = agent.id;
  await fleet.subscribe(`mss/v1/${id}/jobs/+/status`);
  const done = fleet.waitFor(`mss/v1/${id}/jobs/logs-1/status`, (v) => (v as { status?: string })?.status === 'successful', 20_000);
  await fleet.publishJob(id, 'logs-1', { type: 'log-upload', url: target.url, method: 'POST', from: Date.now() - 3600_000, sources: ['mss'] });
  await done;
  t.is(target.bodies[0].method, 'POST');
  const shown = await fleet.show(id);
  t.is((shown.jobs as Record<string, { status: { status: string } }>)['logs-1'].status.status, 'successful');
  const bad = fleet.waitFor(`mss/v1/${id}/jobs/bad-1/status`, (v) => (v as { status?: string })?.status === 'rejected', 10_000);
  await fleet.client.publishAsync(`mss/v1/${id}/jobs/bad-1`, 'not json', { qos: 1, retain: true });
  t.regex(((await bad) as { reason: string }).reason, /not JSON/);
  await fleet.publishJob(id, 'logs-1', null);
  await new Promise((r) => setTimeout(r, 500));
  const after = await fleet.show(id);
  t.is((after.jobs as Record<string, unknown>)['logs-1'], undefined);
});
