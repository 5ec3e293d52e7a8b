import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from '../helpers/test.js';
import { BOARD_PROFILES, boardById, matchBoard, readBoardFacts, selectBoard, type BoardProfile } from '../../board/detect.js';
import { validateBoardProfile } from '../../board/schema.js';
import { boardOf, loadConfig } from '../../src/config/index.js';
import { MssError } from '../../src/core/errors.js';

const facts = (f: Partial<ReturnType<typeof readBoardFacts>>) => ({ deviceTreeModel: '', compatible: [], dmiVendor: '', dmiProduct: '', arch: 'arm64', ...f });

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-board-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('every built-in profile validates, one per board the issue names', (t) => {
  t.deepEqual(BOARD_PROFILES.map((b) => b.id).sort(), ['amlogic-s905', 'generic-arm64', 'generic-armv7', 'generic-x86_64', 'rk3588', 'rpi4', 'rpi5']);
  for (const b of BOARD_PROFILES) t.notThrows(() => validateBoardProfile(b, b.id), b.id);
});

test('detection: device-tree model, then compatible, then the CPU architecture', (t) => {
  const pick = (f: Partial<ReturnType<typeof readBoardFacts>>) => matchBoard(facts(f));
  t.like(pick({ deviceTreeModel: 'Raspberry Pi 4 Model B Rev 1.4' }), { source: 'device-tree', profile: { id: 'rpi4' } });
  t.like(pick({ deviceTreeModel: 'Raspberry Pi Compute Module 4 Rev 1.0' }), { profile: { id: 'rpi4' } });
  t.like(pick({ deviceTreeModel: 'Raspberry Pi 5 Model B Rev 1.0' }), { profile: { id: 'rpi5' } });
  t.like(pick({ deviceTreeModel: 'Radxa ROCK 5B', compatible: ['radxa,rock-5b', 'rockchip,rk3588'] }), { source: 'compatible', profile: { id: 'rk3588' } });
  t.like(pick({ deviceTreeModel: 'Shenzhen Amediatech Technology Co., Ltd X96 Max', compatible: ['amediatech,x96-max', 'amlogic,u200', 'amlogic,g12a'] }), { source: 'compatible', profile: { id: 'amlogic-s905' } });
  t.like(pick({ compatible: ['hardkernel,odroid-c4', 'amlogic,sm1'] }), { profile: { id: 'amlogic-s905' } });
  t.like(pick({ compatible: ['hardkernel,odroid-n2', 'amlogic,g12b'] }), { source: 'arch', profile: { id: 'generic-arm64' } });
  t.like(pick({ compatible: ['x,box', 'amlogic,meson-gxl'] }), { source: 'compatible', profile: { id: 'amlogic-s905' } });
  t.like(pick({ deviceTreeModel: 'Amlogic Meson GXL (S905X) P212 Development Board' }), { profile: { id: 'amlogic-s905' } });
  t.like(pick({ arch: 'arm' }), { source: 'arch', profile: { id: 'generic-armv7' } });
  t.like(pick({ arch: 'x64', dmiVendor: 'QEMU', dmiProduct: 'Standard PC' }), { source: 'arch', profile: { id: 'generic-x86_64' } });
});

test('the facts come from /proc/device-tree and DMI files (NUL-separated lists handled)', async (t) => {
  const root = await tmp(t);
  await mkdir(path.join(root, 'proc/device-tree'), { recursive: true });
  await writeFile(path.join(root, 'proc/device-tree/model'), 'Raspberry Pi 4 Model B Rev 1.5\0');
  await writeFile(path.join(root, 'proc/device-tree/compatible'), 'raspberrypi,4-model-b\0brcm,bcm2711\0');
  const f = readBoardFacts(root, 'arm64');
  t.deepEqual(f, { deviceTreeModel: 'Raspberry Pi 4 Model B Rev 1.5', compatible: ['raspberrypi,4-model-b', 'brcm,bcm2711'], dmiVendor: '', dmiProduct: '', arch: 'arm64' });
  t.is(selectBoard('auto', {}, () => f).profile.id, 'rpi4');
  t.like(readBoardFacts(path.join(root, 'nothing'), 'x64'), { deviceTreeModel: '', compatible: [] });
});

test('override: MSS_BOARD beats the config, the config beats detection; unknown ids are refused by name', (t) => {
  const detected = () => facts({ deviceTreeModel: 'Raspberry Pi 5 Model B' });
  t.like(selectBoard('auto', {}, detected), { source: 'device-tree', profile: { id: 'rpi5' } });
  t.like(selectBoard('rk3588', {}, detected), { source: 'config', profile: { id: 'rk3588' } });
  t.like(selectBoard('rk3588', { MSS_BOARD: 'rpi4' }, detected), { source: 'MSS_BOARD', profile: { id: 'rpi4' } });
  const err = t.throws(() => selectBoard('rpi9', {}, detected), { instanceOf: MssError });
  t.regex(err!.message, /board: unknown board profile "rpi9"; known: rpi4, rpi5/);
});

test('a JSON profile that does not validate stops startup with the path of the bad field', async (t) => {
  const dir = await tmp(t);
  const good: BoardProfile = { ...boardById('generic-arm64')!, id: 'my-box', ports: { http: 8000, rtsp: 554, mms: 1755, msbd: 7007 } };
  const goodFile = path.join(dir, 'good.json');
  await writeFile(goodFile, JSON.stringify(good));
  t.like(selectBoard(goodFile, {}), { source: 'file', profile: { id: 'my-box' } });
  const badFile = path.join(dir, 'bad.json');
  await writeFile(badFile, JSON.stringify({ ...good, ports: { ...good.ports, http: 70000 }, watchdog: { ...good.watchdog, device: '/etc/passwd' } }));
  const cfg = path.join(dir, 'config.json');
  await writeFile(cfg, JSON.stringify({ board: badFile }));
  const err = t.throws(() => loadConfig({ file: cfg, env: {} }), { instanceOf: MssError });
  t.is(err!.code, 'invalid-config');
  t.true(err!.message.includes(`board(${badFile}).ports.http: must be <= 65535, got 70000`), err!.message);
  t.true(err!.message.includes(`board(${badFile}).watchdog.device: must match`), err!.message);
});

test('board defaults lie under the user config: ports, data partition, installer; unknown sections are skipped', async (t) => {
  const dir = await tmp(t);
  const cfg = path.join(dir, 'config.json');
  await writeFile(cfg, JSON.stringify({ board: 'rpi4', server: { publishingPoints: [] } }));
  const c = loadConfig({ file: cfg, env: {} });
  t.is(c.http.port, 80);
  t.is(c.dataDir, '/data/mss');
  t.is(c.update.installer, 'rauc');
  t.true(c.watchdog.enabled);
  const chosen = boardOf(c)!;
  t.is(chosen.profile.id, 'rpi4');
  // the protocol ports apply where this build has the protocol's section (their standard numbers on a board)
  const protocolPorts = ['rtsp.port', 'mmsp.port', 'msbd.port'];
  t.deepEqual(chosen.applied.filter((p) => !protocolPorts.includes(p)).sort(), ['api.allowRemote', 'api.auth.scheme', 'dataDir', 'http.port', 'update.installer', 'update.rebootCommand', 'watchdog.enabled']);
  if (chosen.applied.includes('msbd.port')) t.is((c as unknown as { msbd: { port: number } }).msbd.port, 7007);
  t.is(c.rtsp.port, 554);
  // the board's API auth: Digest, and answering the network (with no users yet, nobody gets in: locked, not open)
  t.is(c.api.auth.scheme, 'digest');
  t.true(c.api.allowRemote);
  for (const p of ['rtsp.port', 'mmsp.port', 'msbd.port']) t.true(chosen.skipped.includes(p) || chosen.applied.includes(p), p);
  // the user's file and the environment win over the board
  await writeFile(cfg, JSON.stringify({ board: 'rpi4', http: { port: 9000 }, server: { publishingPoints: [] } }));
  t.is(loadConfig({ file: cfg, env: {} }).http.port, 9000);
  t.is(loadConfig({ file: cfg, env: { MSS_HTTP_PORT: '9100', MSS_DATA_DIR: dir } }).http.port, 9100);
  t.is(loadConfig({ file: cfg, env: { MSS_BOARD: 'generic-x86_64' } }).update.installer, 'none');
});

test('mss probe --board reports the profile, how it was chosen and the facts (systeminformation)', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const r = await promisify(execFile)(process.execPath, ['--import=tsx', path.resolve('src/cli/main.ts'), 'probe', '--board', '--json'], { env: { ...process.env, MSS_BOARD: 'rk3588' } });
  const report = JSON.parse(r.stdout) as { board: string; source: string; facts: { arch: string } };
  t.like(report, { board: 'rk3588', source: 'MSS_BOARD', facts: { arch: process.arch } });
});
