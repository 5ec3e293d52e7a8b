/**
 * Log collection in `mss serve` as a process: the web logging URL (validation page, POSTs), WMSP Log POSTs,
 * clear errors for malformed and oversized logs with nothing stored, /api/logs queries, and a flood of log
 * POSTs bounded by rate and size while a player keeps streaming.
 */
import test from '../helpers/test.js';
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildWebServerLog, buildXmlLog, type WmlogRecord } from '../../src/protocols/wmlog/codec.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');

const RECORD: WmlogRecord = {
  'c-ip': '0.0.0.0', date: '2024-03-01', time: '10:20:30', 'cs-uri-stem': 'http://192.0.2.7/vod/a.wmv', 'c-starttime': '0',
  'x-duration': '20', 'c-rate': '1', 'c-status': '200', 'c-playerid': '{3300AD50-2C39-46c0-AE0A-0123456789AB}',
  'c-playerversion': '9.0.0.3008', 'cs-User-Agent': 'NSPlayer/9.0', protocol: 'http', transport: 'TCP', 'c-bytes': '123456',
  'c-pkts-received': '300', 'c-quality': '100', 'cs-url': 'mms://192.0.2.7/vod/a.wmv',
};

function post(port: number, target: string, body: Buffer | string, headers: Record<string, string | string[]> = {}): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'POST', agent: false, headers: { 'Content-Length': String(data.length), ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function playerEntries(srv: RunningServe): Promise<number> {
  const res = await fetch(srv.http('/api/logs?source=player&limit=1000'));
  return ((await res.json()) as { entries: unknown[] }).entries.length;
}

let srv: RunningServe;

test.before(async () => {
  const av20 = await fixture(FIXTURES.av20);
  srv = await startServe({
    config: {
      logs: { maxPostBytes: 4096, postsPerMinute: 1000 },
      server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: path.dirname(av20) }] },
    },
  });
});

test.after.always(async () => {
  await srv?.stop();
});

test.serial('GET /logs answers the validation page players look for before logging', async (t) => {
  const res = await fetch(srv.http('/logs'));
  t.is(res.status, 200);
  t.regex(await res.text(), /<h1>WMS ISAPI Log Dll\/\d+\.\d+\.\d+\.\d+<\/h1>/);
});

test.serial('a web-server log POST is stored with c-ip from the socket and is queryable', async (t) => {
  const before = Date.now();
  const res = await post(srv.port, '/logs', buildWebServerLog(RECORD, 47), { 'Content-Type': 'text/plain;charset=UTF-8' });
  t.is(res.status, 200, res.text);
  const q = await fetch(srv.http(`/api/logs?since=${new Date(before - 1000).toISOString()}&source=player`));
  const { entries } = (await q.json()) as { entries: Array<{ encoding: string; fields: Record<string, string> }> };
  const mine = entries.find((e) => e.encoding === 'web')!;
  t.is(mine.fields['c-ip'], '127.0.0.1');
  t.is(mine.fields['cs-url'], 'mms://192.0.2.7/vod/a.wmv');
});

test.serial('malformed log POSTs get a clear 400 and store nothing', async (t) => {
  const before = await playerEntries(srv);
  const short = await post(srv.port, '/logs', 'MX_STATS_LogLine: \t0.0.0.0 2024-03-01 10:20:30', { 'Content-Type': 'text/plain' });
  t.is(short.status, 400);
  t.regex(short.text, /has 3 fields, expected 44, 47 or 52/);
  const badXml = await post(srv.port, '/logs', buildXmlLog(RECORD, { form: 47 }).replace('<c-bytes>123456</c-bytes>', '<c-bytes>lots</c-bytes>'), { 'Content-Type': 'application/x-wms-LogStats' });
  t.is(badXml.status, 400);
  t.regex(badXml.text, /<c-bytes> must be a whole number/);
  // over WMSP too: a clear 400 (where WMS would answer 204), and nothing is stored
  const wmsp = await post(srv.port, `/vod/${FIXTURES.av20}`, '<XML><Summary>not a log</Summary></XML>', { 'Content-Type': 'application/x-wms-LogStats', Pragma: 'client-id=1' });
  t.is(wmsp.status, 400, wmsp.text);
  t.regex(wmsp.text, /400 Bad Request: .+/);
  t.is(await playerEntries(srv), before);
});

test.serial('oversized log POSTs get 413 and store nothing', async (t) => {
  const before = await playerEntries(srv);
  const big = buildXmlLog(RECORD, { form: 47 }).replace('</XML>', `<Vendor><pad>${'x'.repeat(900)}</pad><pad2>${'y'.repeat(900)}</pad2><p3>${'z'.repeat(900)}</p3><p4>${'w'.repeat(900)}</p4><p5>${'v'.repeat(900)}</p5></Vendor></XML>`);
  const web = await post(srv.port, '/logs', big, { 'Content-Type': 'application/x-wms-LogStats' });
  t.is(web.status, 413, web.text);
  const wmsp = await post(srv.port, `/vod/${FIXTURES.av20}`, big, { 'Content-Type': 'application/x-wms-LogStats', Pragma: 'client-id=1' });
  t.is(wmsp.status, 413, wmsp.text);
  t.is(await playerEntries(srv), before);
});

test.serial('a WMSP Log POST (XML LogStats) is stored before its 204', async (t) => {
  const before = await playerEntries(srv);
  const res = await post(srv.port, `/vod/${FIXTURES.av20}`, buildXmlLog(RECORD, { form: 47 }), { 'Content-Type': 'application/x-wms-LogStats;charset=UTF-8', Pragma: 'client-id=77', 'User-Agent': 'NSPlayer/9.0.0.3008' });
  t.is(res.status, 204);
  t.is(await playerEntries(srv), before + 1);
});

test.serial('/api/logs refuses a bad since or limit with 400', async (t) => {
  t.is((await fetch(srv.http('/api/logs?since=yesterday'))).status, 400);
  t.is((await fetch(srv.http('/api/logs?limit=0'))).status, 400);
  const page = await fetch(srv.http('/api/logs?since=0&limit=1'));
  const body = (await page.json()) as { entries: unknown[]; next: number | null };
  t.is(body.entries.length, 1);
  t.is(typeof body.next, 'number');
});

test('a flood of log POSTs is bounded by rate and size while a player keeps streaming', async (t) => {
  const av20 = await fixture(FIXTURES.av20);
  const flood = await startServe({
    config: {
      logs: { maxPostBytes: 2048, postsPerMinute: 20 },
      server: { publishingPoints: [{ name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' }] },
    },
  });
  t.teardown(() => flood.stop());
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-flood-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'live.asf');
  const player = spawn(process.execPath, ['--import', 'tsx', MAIN, 'play', flood.mmsh('/live'), '--duration', '8', '-o', out, '--no-log', '--quiet'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => void player.kill('SIGKILL'));
  let playerErr = '';
  player.stderr.on('data', (c: Buffer) => (playerErr += c.toString()));
  const playerExit = new Promise<number | null>((r) => player.on('exit', r));

  // size first: an oversized post is refused (and counts against the address's allowance like any post)
  const big = await post(flood.port, '/logs', 'MX_STATS_LogLine: ' + 'x'.repeat(100_000), { 'Content-Type': 'text/plain' });
  t.is(big.status, 413);
  const body = buildWebServerLog(RECORD, 47);
  const statuses: number[] = [];
  for (let round = 0; round < 10; round++) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => post(flood.port, '/logs', body, { 'Content-Type': 'text/plain' })));
    statuses.push(...batch.map((r) => r.status));
  }
  const accepted = statuses.filter((s) => s === 200).length;
  const limited = statuses.filter((s) => s === 429).length;
  t.is(accepted, 19);
  t.is(limited, 181);
  t.is(await playerEntries(flood), 19);
  // the flood is logged once, not once per refused post
  t.is(flood.logs.filter((l) => l.event === 'http.rejected' && l.status === 429).length, 1);
  // the WMSP Log request path shares the allowance and answers the same 429
  const wmspLog = await post(flood.port, '/live', body, { 'Content-Type': 'text/plain', Pragma: 'log-line=x' });
  t.is(wmspLog.status, 429, wmspLog.text);
  t.is(flood.logs.filter((l) => l.event === 'http.rejected' && l.status === 429).length, 1);

  t.is(await playerExit, 0, playerErr);
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', out]);
  t.true(Number(stdout) > 5, `live capture ${stdout.trim()} s`);
});
