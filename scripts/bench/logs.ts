/**
 * Logs benchmark: what one player log costs on the way in.
 *  1. the WMLOG codec: XML LogStats, W3C log-line and web-server bodies parsed per second;
 *  2. the store: inserts per second with the appliance's settings (WAL, synchronous=FULL: every insert is on
 *     disk before the log is acknowledged), one per commit and grouped as the logs module commits them;
 *  3. the W3C export: lines appended (and fsynced per batch of 500) per second.
 *
 *   npx tsx scripts/bench/logs.ts [--seconds 2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { playerLogEntry } from '../../src/logs/entry.js';
import { logsMigrations } from '../../src/logs/migrations.js';
import { LogStore } from '../../src/logs/store.js';
import { W3cLogFile, w3cLine } from '../../src/logs/w3c-file.js';
import { buildWebServerLog, buildXmlLog, formatW3cLine, parsePlayerLog, type WmlogRecord } from '../../src/protocols/wmlog/codec.js';
import { openStore } from '../../src/store/db.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 2) || 2;

const RECORD: WmlogRecord = {
  'c-ip': '0.0.0.0', date: '2024-03-01', time: '10:20:30', 'cs-uri-stem': 'http://192.0.2.7/vod/a.wmv', 'c-starttime': '0',
  'x-duration': '20', 'c-rate': '1', 'c-status': '200', 'c-playerid': '{3300AD50-2C39-46c0-AE0A-0123456789AB}',
  'c-playerversion': '9.0.0.3008', 'cs-User-Agent': 'NSPlayer/9.0.0.3008', protocol: 'http', transport: 'TCP', audiocodec: 'Windows_Media_Audio_9',
  videocodec: 'Windows_Media_Video_9', 'c-bytes': '1575000', 'c-pkts-received': '1100', 'c-quality': '100', 'cs-url': 'mms://192.0.2.7/vod/a.wmv',
};

function rate(fn: () => void): { ops: number; usPerOp: number } {
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (Date.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  return { ops: Math.round((n * 1e6) / us), usPerOp: us / n };
}

async function main(): Promise<void> {
  const rows: Array<[string, number, number]> = [];
  const xml = Buffer.from(buildXmlLog(RECORD, { form: 47 }));
  const line = formatW3cLine(RECORD, 47);
  const web = Buffer.from(buildWebServerLog(RECORD, 47));
  for (const [name, input] of [
    [`parse XML LogStats (${xml.length} B)`, { contentType: 'application/x-wms-LogStats', body: xml, maxBytes: 65536 }],
    [`parse log-line Pragma (${line.length} B)`, { body: Buffer.alloc(0), logLine: line, maxBytes: 65536 }],
    [`parse MX_STATS_LogLine (${web.length} B)`, { contentType: 'text/plain', body: web, maxBytes: 65536 }],
  ] as const) {
    const r = rate(() => parsePlayerLog(input));
    rows.push([name, r.ops, r.usPerOp]);
  }

  const dir = await mkdtemp(path.join(tmpdir(), 'mss-bench-logs-'));
  try {
    const db = openStore(path.join(dir, 'mss.db'), logsMigrations);
    const store = new LogStore(db);
    const log = parsePlayerLog({ contentType: 'application/x-wms-LogStats', body: xml, maxBytes: 65536 });
    const report = { protocol: 'wmsp' as const, remoteAddress: '10.0.0.1', url: '/vod/a.wmv', userAgent: 'NSPlayer/9.0', clientId: 1, body: xml, receivedAt: Date.now() };
    const ins = rate(() => store.insert(playerLogEntry(report, log)));
    rows.push(['store insert, one per commit (WAL, sync=FULL)', ins.ops, ins.usPerOp]);
    const fifty = Array.from({ length: 50 }, () => playerLogEntry(report, log));
    const grp = rate(() => store.insertMany(fifty));
    rows.push(['store insert, group commit of 50', grp.ops * 50, grp.usPerOp / 50]);
    db.close();

    const w3c = new W3cLogFile(path.join(dir, 'w3c'), 1 << 30, 'mss bench');
    await w3c.open();
    const batch = Array.from({ length: 500 }, () => w3cLine({ ...RECORD, 'c-ip': '10.0.0.1' }));
    const end = Date.now() + seconds * 1000;
    let lines = 0;
    const t0 = process.hrtime.bigint();
    while (Date.now() < end) {
      await w3c.append(batch, Date.now());
      lines += batch.length;
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    rows.push(['W3C append + fsync per 500 lines', Math.round((lines * 1e6) / us), us / lines]);
    await w3c.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'operation'.padEnd(w)} | ${'ops/s'.padStart(10)} | ${'us/op'.padStart(8)}`);
  console.log(`${'-'.repeat(w)}-|-${'-'.repeat(10)}-|-${'-'.repeat(8)}`);
  for (const [name, ops, us] of rows) console.log(`${name.padEnd(w)} | ${String(ops).padStart(10)} | ${us.toFixed(1).padStart(8)}`);
}

void main();
