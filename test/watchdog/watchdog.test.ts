import test from '../helpers/test.js';
import type { AppModule, ModuleHealth } from '../../src/core/module.js';
import type { Logger } from '../../src/core/log.js';
import { WatchdogModule } from '../../src/watchdog/module.js';
import { watchdogUsec, type Notifier } from '../../src/watchdog/notifier.js';

/** The one fake the task allows: no systemd runs here, so a notifier that records what it was told. */
class RecordingNotifier implements Notifier {
  readonly kind = 'test';
  readonly sent: Array<{ message: string; at: number }> = [];
  notify(message: string): void {
    this.sent.push({ message, at: performance.now() });
  }
  pings(): number[] {
    return this.sent.filter((s) => s.message === 'WATCHDOG=1').map((s) => s.at);
  }
}

function coreModule(name: string): AppModule & { healthy: boolean } {
  return {
    name,
    healthy: true,
    async start() {},
    async stop() {},
    health(): ModuleHealth {
      return this.healthy ? { ok: true, state: 'running' } : { ok: false, state: 'failed' };
    },
  };
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, enabled: () => false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function setup(t: { teardown(fn: () => Promise<void>): void }) {
  const notifier = new RecordingNotifier();
  const media = coreModule('media');
  const agent = coreModule('device');
  const wd = new WatchdogModule({
    config: { enabled: true, maxLoopDelayMs: 200 },
    modules: () => [media, agent],
    core: ['media'],
    notifier,
    intervalMs: 40,
    log: quiet,
  });
  t.teardown(() => wd.stop());
  return { notifier, media, agent, wd };
}

test('READY=1 first, then pings; a blocked event loop sends none and the tick after the stall is withheld', async (t) => {
  const { notifier, wd } = setup(t);
  await wd.start();
  t.is(notifier.sent[0]!.message, 'READY=1\nSTATUS=serving');
  await until('three pings', () => notifier.pings().length >= 3);
  const withheldBefore = (wd.telemetry().withheld as number);
  const blockStart = performance.now();
  while (performance.now() - blockStart < 1000) {
    // a stuck handler: nothing else runs
  }
  const blockEnd = performance.now();
  const pingsAtEnd = notifier.pings().length;
  await until('pings to resume', () => notifier.pings().length >= pingsAtEnd + 3);
  t.deepEqual(notifier.pings().filter((at) => at > blockStart && at <= blockEnd), [], 'no ping while the loop was blocked');
  t.true((wd.telemetry().withheld as number) > withheldBefore, 'the first tick after the stall sent nothing');
  await wd.stop();
  t.is(notifier.sent.at(-1)!.message, 'STOPPING=1');
});

test('pings stop while a core module is unhealthy and come back when it recovers; other modules do not count', async (t) => {
  const { notifier, media, agent, wd } = setup(t);
  agent.healthy = false; // a lost broker is no reason for systemd to restart the appliance
  await wd.start();
  await until('pings with the agent down', () => notifier.pings().length >= 2);
  media.healthy = false;
  await until('a withheld tick', () => wd.health().state === 'withholding');
  const frozen = notifier.pings().length;
  await until('several withheld ticks', () => (wd.telemetry().withheld as number) >= 4);
  t.is(notifier.pings().length, frozen);
  t.regex(wd.telemetry().reason as string, /module media is failed/);
  media.healthy = true;
  await until('pings again', () => notifier.pings().length >= frozen + 2);
  t.is(wd.health().state, 'running');
});

test('without systemd (no NOTIFY_SOCKET) or when disabled the module stays quiet', async (t) => {
  const off = new WatchdogModule({ config: { enabled: true, maxLoopDelayMs: 200 }, modules: () => [], core: [], notifier: null, log: quiet });
  await off.start();
  t.is(off.health().state, 'disabled');
  await off.stop();
  const n = new RecordingNotifier();
  const disabled = new WatchdogModule({ config: { enabled: false, maxLoopDelayMs: 200 }, modules: () => [], core: [], notifier: n, log: quiet });
  await disabled.start();
  await disabled.stop();
  t.deepEqual(n.sent, []);
  t.is(watchdogUsec({ WATCHDOG_USEC: '30000000' }, 7), 30_000_000);
  t.is(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7), 0, 'meant for another process');
  t.is(watchdogUsec({}, 7), 0);
});

test('mss serve under a stand-in systemd (socat on NOTIFY_SOCKET): READY=1, then WATCHDOG=1 pings, STOPPING=1', async (t) => {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { startServe } = await import('../helpers/serve.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-notify-'));
  const sock = path.join(dir, 'notify.sock');
  // one datagram per line of output: socat prints each message it receives
  const socat = spawn('socat', ['-u', `UNIX-RECV:${sock}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let got = '';
  socat.stdout.on('data', (d: Buffer) => (got += d.toString()));
  t.teardown(async () => {
    socat.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const { existsSync } = await import('node:fs');
  await until('socat bound', () => existsSync(sock));
  const srv = await startServe({ env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '200000' } });
  try {
    await until('READY=1', () => got.includes('READY=1'));
    await until('two pings', () => got.split('WATCHDOG=1').length > 2);
  } finally {
    await srv.stop();
  }
  await until('STOPPING=1', () => got.includes('STOPPING=1'));
  t.true(got.indexOf('READY=1') < got.indexOf('WATCHDOG=1'), got);
});
