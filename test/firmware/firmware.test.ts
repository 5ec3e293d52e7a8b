import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from '../helpers/test.js';
import { BOARD_PROFILES } from '../../board/detect.js';
import { loadConfig } from '../../src/config/index.js';

const run = promisify(execFile);
const root = path.resolve('.');
const unitFile = path.join(root, 'firmware/systemd/mss.service');

async function hasSystemdAnalyze(): Promise<boolean> {
  return run('systemd-analyze', ['--version']).then(() => true, () => false);
}

/** The unit with ExecStart pointed at this checkout's bin/mss.js (verify checks that the program exists). */
async function verify(unitText: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-unit-'));
  try {
    await writeFile(path.join(dir, 'mss.service'), unitText.replaceAll('/opt/mss/bin/mss.js', path.join(root, 'bin/mss.js')));
    await copyFile(path.join(root, 'firmware/systemd/data.mount'), path.join(dir, 'data.mount'));
    const r = await run('systemd-analyze', ['verify', path.join(dir, 'mss.service'), path.join(dir, 'data.mount')]).then(
      (o) => ({ ok: o.stderr.trim() === '', output: o.stderr }),
      (e: { stderr?: string; message: string }) => ({ ok: false, output: e.stderr ?? e.message }),
    );
    return r;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('mss.service passes systemd-analyze verify (and a broken copy does not)', async (t) => {
  if (!(await hasSystemdAnalyze())) {
    t.log('SKIPPED: systemd-analyze is not installed on this machine');
    t.pass();
    return;
  }
  const text = await readFile(unitFile, 'utf8');
  const good = await verify(text);
  t.true(good.ok, good.output);
  const bad = await verify(text.replace('ExecStart=/opt/mss/bin/mss.js', 'ExecStart=/opt/mss/bin/missing.js'));
  t.false(bad.ok, 'the check must be able to fail');
});

test('the unit is Type=notify with a watchdog, hardened, and runs bin/mss.js whose first line holds the Node flags', async (t) => {
  const text = await readFile(unitFile, 'utf8');
  const settings = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (k: string) => settings.get(k)?.[0];
  t.is(one('Type'), 'notify');
  t.true(Number(one('WatchdogSec')) > 0);
  t.is(one('ExecStart'), '/opt/mss/bin/mss.js serve --config /etc/mss/config.json');
  t.is(one('ProtectSystem'), 'strict');
  t.is(one('ReadWritePaths'), '/data/mss');
  t.is(one('NoNewPrivileges'), 'yes');
  t.is(one('User'), 'mss');
  t.false(text.includes('--max-semi-space-size'), 'the Node flags live only in bin/mss.js');
  const shebang = (await readFile(path.join(root, 'bin/mss.js'), 'utf8')).split('\n')[0]!;
  t.regex(shebang, /^#!\/usr\/bin\/env -S node( --[a-z0-9=-]+)+$/);
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.is(pkg.scripts.start, 'bin/mss.js serve');
});

test('the image config validates on every board, with the board choosing ports, data partition and installer', (t) => {
  for (const b of BOARD_PROFILES) {
    const c = loadConfig({ file: path.join(root, 'firmware/config/config.json'), env: { MSS_BOARD: b.id } });
    t.is(c.http.port, b.ports.http, b.id);
    t.is(c.dataDir, path.resolve(b.storage.dataDir), b.id);
    t.is(c.update.installer, b.storage.bootloader === 'none' ? 'none' : 'rauc', b.id);
  }
});

test('journald keeps logs in RAM and bounded; udev rules give devices to the service groups', async (t) => {
  const journald = await readFile(path.join(root, 'firmware/journald/10-mss.conf'), 'utf8');
  t.regex(journald, /^Storage=volatile$/m);
  t.regex(journald, /^RuntimeMaxUse=\d+M$/m);
  const udev = await readFile(path.join(root, 'firmware/udev/90-mss.rules'), 'utf8');
  for (const line of udev.split('\n').filter((l) => l.trim() && !l.startsWith('#'))) {
    t.regex(line, /^([A-Z{}a-z_]+(==|!=|=|\+=)"[^"]*"(, )?)+$/, line);
  }
  t.regex(udev, /SUBSYSTEM=="video4linux".*GROUP="video"/);
  t.regex(udev, /ttyUSB.*GROUP="dialout"/);
});
