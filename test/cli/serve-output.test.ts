/**
 * What `mss serve` writes: on a terminal (a pseudo-terminal made by util-linux `script`), a short summary with the
 * URL of every point, the ports and the data dir, then one short line per event; JSON lines when stderr is a pipe
 * or with --json. A misspelt MSS_* variable is reported, with the name it probably meant.
 */
import test from '../helpers/test.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe } from '../helpers/serve.js';

const root = join(import.meta.dirname, '../..');
const MAIN = join(root, 'src/cli/main.ts');

/** runs `mss serve` under a pseudo-terminal; resolves once `until` matches what it printed */
function serveOnTerminal(t: { teardown(fn: () => void): void }, args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'mss-tty-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'var'), http: { host: '127.0.0.1', port: 0 }, rtsp: { host: '127.0.0.1', port: 0 }, mmsp: { host: '127.0.0.1', port: 0 }, server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: dir }, { name: 'live2', type: 'broadcast', source: { type: 'push' } }] } }));
  const command = [process.execPath, '--import', 'tsx', MAIN, 'serve', '--config', config, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: root, env: { ...process.env, MSS_LOG_LEVEL: 'info', MSS_HTTP_PROT: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => (out += s));
  t.teardown(() => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  const until = async (re: RegExp, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`not seen: ${re}\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return out;
  };
  return { until, output: () => out, dir };
}

test('on a terminal: a summary with every point URL, the port and the data dir, then one-line events', async (t) => {
  const s = serveOnTerminal(t, []);
  const text = await s.until(/Ctrl-C stops/);
  const port = Number(/serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
  t.true(port > 0, text);
  t.regex(text, new RegExp(`vod\\s+on demand\\s+mmsh://127\\.0\\.0\\.1:${port}/vod/<file>`));
  t.regex(text, new RegExp(`live2\\s+broadcast\\s+mmsh://127\\.0\\.0\\.1:${port}/live2\\s+waiting for a push`));
  t.regex(text, new RegExp(`data: ${s.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/var`));
  t.regex(text, /environment variable MSS_HTTP_PROT is not one mss reads \(ignored\); did you mean MSS_HTTP_PORT\?/);
  t.notRegex(text, /http\.listening/, 'the start-up info lines are replaced by the summary');
  await fetch(`http://127.0.0.1:${port}/nothing-here`);
  const after = await s.until(/http\.rejected/);
  const line = after.split(/\r?\n/).find((l) => l.includes('http.rejected'))!;
  t.regex(line, /^\d\d:\d\d:\d\d warn  http\.rejected remote=127\.0\.0\.1 status=404 /);
  t.false(after.split(/\r?\n/).some((l) => l.startsWith('{')), 'no JSON on the terminal');
});

test('on a terminal with --json: JSON lines', async (t) => {
  const s = serveOnTerminal(t, ['--json']);
  const text = await s.until(/"event":"serve\.started"/);
  t.notRegex(text, /Ctrl-C stops/);
  t.regex(text, /"event":"env\.unknown","variable":"MSS_HTTP_PROT","suggestion":"MSS_HTTP_PORT"/);
});

test('not a terminal: JSON lines only, the unknown variable as one of them', async (t) => {
  const srv = await startServe({ env: { MSS_HTTP_PROT: '1' } });
  t.teardown(() => srv.stop());
  await srv.waitForLog((l) => l.event === 'serve.started');
  const lines = srv.stderr().trim().split('\n');
  t.true(lines.every((l) => l.startsWith('{')), srv.stderr());
  t.truthy(srv.logs.find((l) => l.event === 'env.unknown' && l.variable === 'MSS_HTTP_PROT' && l.suggestion === 'MSS_HTTP_PORT'));
});
