/**
 * A partial install (the sources without node_modules, as after an interrupted `npm install`): any command that needs
 * a missing package says so in one line, naming the package and `npm install`, instead of a stack trace.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '../..');
// tsx by absolute path: the copy itself has no node_modules to find packages in
const TSX = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;

test('mss serve in an install without node_modules: one line telling to run npm install', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mss-partial-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['src', 'board', 'package.json']) cpSync(join(root, p), join(dir, p), { recursive: true });
  const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, ['--import', TSX, join(dir, 'src/cli/main.ts'), 'serve'], { cwd: dir, env: { ...process.env, MSS_DATA_DIR: join(dir, 'var'), MSS_HTTP_PORT: '0' }, timeout: 60_000 }, (err, _o, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr) }),
    ),
  );
  t.is(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^mss: the installation is incomplete \(cannot load [\w@/.-]+\): run `npm install` in /);
  t.notRegex(r.stderr, /\n\s+at |ERR_MODULE_NOT_FOUND/);
});
