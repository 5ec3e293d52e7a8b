/**
 * What a new user sees when a command fails: one line, no prefix said twice ("mss play: mss play needs…",
 * "missing.json: missing.json: …"), no file name repeated by the system error text, and no stack trace.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

function mss(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, MSS_LOG_LEVEL: 'error' }, timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr) }),
    ),
  );
}

const count = (text: string, word: string) => text.split(word).length - 1;

test('mss play without a URL: the command named once', async (t) => {
  const r = await mss(['play']);
  t.is(r.code, 2);
  t.is(count(r.stderr, 'mss play'), 2, r.stderr); // the prefix, and "see mss play --help"
  t.regex(r.stderr, /^mss play: needs exactly one URL/);
});

test('a missing or unreadable config file is named once, with the reason in words', async (t) => {
  for (const args of [['config', '--check', 'missing.json'], ['serve', '--config', 'missing.json']]) {
    const r = await mss(args);
    t.not(r.code, 0);
    t.is(count(r.stderr, 'missing.json'), 1, r.stderr);
    t.regex(r.stderr, /missing\.json: cannot read config file: no such file or directory\n$/);
    t.notRegex(r.stderr, /ENOENT|\n\s+at /);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mss-cli-'));
  const r = await mss(['config', '--check', dir]);
  t.is(count(r.stderr, dir), 1, r.stderr);
  t.regex(r.stderr, /is a directory/);
});

test('mss probe of a missing file: the file named once', async (t) => {
  const r = await mss(['probe', 'missing.wmv']);
  t.is(r.code, 1);
  t.is(r.stderr, 'mss probe: cannot read missing.wmv: no such file or directory\n');
});

test('an MSS_* variable nothing reads is reported, with the name it probably meant', async (t) => {
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', MAIN, 'config', '--print'], { env: { ...process.env, MSS_LOG_LEVEL: 'error', MSS_HTTP_PROT: '9090', MSS_ZZZ_NOTHING: '1' }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout: String(stdout), stderr: String(stderr) }),
    ),
  );
  t.is(r.code, 0);
  t.regex(r.stderr, /^mss: environment variable MSS_HTTP_PROT is not one mss reads \(ignored\); did you mean MSS_HTTP_PORT\?$/m);
  t.regex(r.stderr, /^mss: environment variable MSS_ZZZ_NOTHING is not one mss reads \(ignored\)$/m);
  t.is(JSON.parse(r.stdout).http.port, 8080, 'the misspelt one changed nothing');
});
