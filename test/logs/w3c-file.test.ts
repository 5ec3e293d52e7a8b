import test from '../helpers/test.js';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ACTIVE_FILE, W3cLogFile, fieldsDirective, w3cLine } from '../../src/logs/w3c-file.js';

async function dir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mss-w3c-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

const DAY1 = Date.parse('2024-03-01T10:00:00Z');
const DAY2 = Date.parse('2024-03-02T00:00:05Z');
const line = w3cLine({ 'c-ip': '10.0.0.9', date: '2024-03-01', time: '10:00:00', 'cs-uri-stem': '/vod/a.wmv', 'c-status': '200' });

test('a new file starts with the #Software/#Version/#Date/#Fields header in the MS-WMLOG field order', async (t) => {
  const d = await dir(t);
  const f = new W3cLogFile(d, 1 << 20, 'mss 0.1.0');
  await f.open();
  await f.append([line], DAY1);
  await f.close();
  const text = await readFile(path.join(d, ACTIVE_FILE), 'utf8');
  t.is(text, `#Software: mss 0.1.0\r\n#Version: 1.0\r\n#Date: 2024-03-01 10:00:00\r\n${fieldsDirective()}\r\n${line}\r\n`);
  t.is(fieldsDirective().split(' ').length - 1, 52);
  t.is(line.split(' ').length, 52);
});

test('rotates by size: the full file is renamed and a new one gets a header', async (t) => {
  const d = await dir(t);
  const f = new W3cLogFile(d, 1200, 'mss');
  await f.open();
  for (let i = 0; i < 6; i++) await f.append([line], DAY1 + i * 1000);
  await f.close();
  const names = await f.files();
  t.true(names.length >= 2, names.join(','));
  t.is(names[names.length - 1], ACTIVE_FILE);
  let lines = 0;
  for (const n of names) {
    const text = await readFile(path.join(d, n), 'utf8');
    t.true(text.startsWith('#Software: mss\r\n'), n);
    lines += text.split('\r\n').filter((l) => l.startsWith('10.0.0.9')).length;
  }
  t.is(lines, 6);
});

test('rotates at the UTC day change, naming the old file after its start', async (t) => {
  const d = await dir(t);
  const f = new W3cLogFile(d, 1 << 20, 'mss');
  await f.open();
  await f.append([line], DAY1);
  await f.append([line], DAY2);
  await f.close();
  const names = (await readdir(d)).sort();
  t.deepEqual(names, [ACTIVE_FILE, 'mss_w3c_20240301T100000.log'].sort());
  t.regex(await readFile(path.join(d, ACTIVE_FILE), 'utf8'), /#Date: 2024-03-02 00:00:05/);
});

test('reopening adopts the active file, terminates a line cut by a crash, and rotates it if its day is over', async (t) => {
  const d = await dir(t);
  const f = new W3cLogFile(d, 1 << 20, 'mss');
  await f.open();
  await f.append([line], DAY1);
  await f.close();
  // a crash in the middle of a line
  await writeFile(path.join(d, ACTIVE_FILE), (await readFile(path.join(d, ACTIVE_FILE), 'utf8')) + '10.0.0.9 2024-03-01 10:0');
  const g = new W3cLogFile(d, 1 << 20, 'mss');
  await g.open();
  await g.append([line], DAY1 + 60_000);
  await g.close();
  const text = await readFile(path.join(d, ACTIVE_FILE), 'utf8');
  t.true(text.endsWith(`10.0.0.9 2024-03-01 10:0\r\n${line}\r\n`));
  t.is(text.split('#Software').length, 2, 'the header is not written twice');
  const h = new W3cLogFile(d, 1 << 20, 'mss');
  await h.open();
  await h.append([line], DAY2);
  await h.close();
  t.is((await readdir(d)).length, 2);
});
