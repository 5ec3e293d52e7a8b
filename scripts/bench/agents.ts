/**
 * Device agent benchmark, against a real mosquitto on loopback:
 *  1. the agent's idle cost on top of `mss serve`: CPU and RSS of `mss serve` with the agent connected vs
 *     without a broker configured (same config otherwise), measured from /proc over a window;
 *  2. N agents (default 200) in one host process against one mosquitto: memory per agent, time for all to come
 *     online at first, and after a broker restart (reconnects with exponential backoff and full jitter).
 *
 *   npx tsx scripts/bench/agents.ts [--agents 200] [--seconds 30] [--down 5] [--skip-serve]
 *
 * Host mode (internal): tsx scripts/bench/agents.ts --host <agents> <brokerUrl> <dir>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from '../../test/helpers/mosquitto.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(root, 'src/cli/main.ts');
const SELF = fileURLToPath(import.meta.url);
const TICK = 100; // USER_HZ on Linux

function procStat(pid: number): { cpuSec: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSec = (Number(fields[11]) + Number(fields[12])) / TICK; // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSec, rssKb };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

// ---------- host mode: N agents in this process ----------

async function host(count: number, url: string, dir: string): Promise<void> {
  const { DeviceAgent } = await import('../../src/device/agent.js');
  const { validateConfig } = await import('../../src/config/index.js');
  const { setLogSinks } = await import('../../src/core/log.js');
  setLogSinks([]); // 200 agents logging every reconnect would measure stderr, not the agents
  const send = (m: Record<string, unknown>) => process.send!(m);
  global.gc?.();
  const before = process.memoryUsage();
  send({ event: 'baseline', rssKb: Math.round(before.rss / 1024), heapKb: Math.round(before.heapUsed / 1024) });
  const agents: Array<InstanceType<typeof DeviceAgent>> = [];
  const serial = async () => undefined;
  for (let i = 0; i < count; i++) {
    const config = validateConfig({ dataDir: path.join(dir, `a${i}`), mqtt: { url, deviceId: `bench-${String(i).padStart(4, '0')}` } });
    const agent: InstanceType<typeof DeviceAgent> = new DeviceAgent({ config, modules: () => [agent], boardSerial: serial });
    agents.push(agent);
  }
  const t0 = Date.now();
  // start in slices so systeminformation's one-off hardware probe does not run 200 times at once
  for (let i = 0; i < agents.length; i += 20) await Promise.all(agents.slice(i, i + 20).map((a) => a.start()));
  send({ event: 'started', ms: Date.now() - t0 });
  setInterval(() => send({ event: 'connected', n: agents.filter((a) => a.connected).length, rssKb: Math.round(process.memoryUsage().rss / 1024), heapKb: Math.round(process.memoryUsage().heapUsed / 1024) }), 250);
  process.on('message', async (m: { cmd?: string }) => {
    if (m.cmd === 'gc') {
      global.gc?.();
      send({ event: 'mem', rssKb: Math.round(process.memoryUsage().rss / 1024), heapKb: Math.round(process.memoryUsage().heapUsed / 1024) });
    }
    if (m.cmd === 'stop') {
      await Promise.all(agents.map((a) => a.stop()));
      process.exit(0);
    }
  });
}

// ---------- orchestrator ----------

async function serveIdle(broker: Mosquitto | null, seconds: number): Promise<{ cpuPct: number; rssMb: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-bench-serve-'));
  const config = { dataDir: path.join(dir, 'var'), http: { host: '127.0.0.1', port: 0 }, rtsp: { host: '127.0.0.1', port: 0 }, mmsp: { host: '127.0.0.1', port: 0 }, server: { publishingPoints: [] }, mqtt: broker ? { url: broker.url, deviceId: 'bench-serve' } : {} };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--config', path.join(dir, 'config.json')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MSS_LOG_LEVEL: 'warn' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    // started: the process answers on /proc and (with a broker) the device status is online
    const deadline = Date.now() + 60_000;
    if (broker) {
      const sub = mqtt.connect(broker.url, { protocolVersion: 5 });
      await new Promise<void>((resolve, reject) => {
        sub.on('message', (_t, p) => {
          if (p.length && (JSON.parse(p.toString()) as { state: string }).state === 'online') resolve();
        });
        sub.subscribe('mss/v1/bench-serve/status');
        const timer = setInterval(() => {
          if (Date.now() > deadline) reject(new Error(`serve did not come online: ${stderr}`));
        }, 500);
        timer.unref();
      });
      sub.end(true);
    }
    await sleep(15_000); // start-up work (module loading, first GCs) out of the window
    const a = procStat(child.pid!);
    const t0 = Date.now();
    const rss: number[] = [];
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(1000);
      rss.push(procStat(child.pid!).rssKb);
    }
    const b = procStat(child.pid!);
    const wall = (Date.now() - t0) / 1000;
    rss.sort((x, y) => x - y);
    // RSS moves with V8's GC timing: the median of one sample a second is steadier than one reading
    return { cpuPct: ((b.cpuSec - a.cpuSec) / wall) * 100, rssMb: rss[Math.floor(rss.length / 2)] / 1024 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

interface HostMsg {
  event: string;
  n?: number;
  rssKb?: number;
  heapKb?: number;
  ms?: number;
}

async function fleetOfAgents(count: number, downSeconds: number): Promise<Record<string, string>> {
  const broker = await startMosquitto({ persistence: false, extra: ['max_connections -1'] });
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-bench-agents-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', SELF, '--host', String(count), broker.url, dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let connected = 0;
  let rssKb = 0;
  let baselineKb = 0;
  let mem: HostMsg | undefined;
  let startedMs = 0;
  child.on('message', (m: HostMsg) => {
    if (m.event === 'baseline') baselineKb = m.rssKb!;
    if (m.event === 'started') startedMs = m.ms!;
    if (m.event === 'connected') (connected = m.n!), (rssKb = m.rssKb!);
    if (m.event === 'mem') mem = m;
  });
  const waitAll = async (timeoutMs: number): Promise<number> => {
    const t0 = Date.now();
    while (connected < count) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`only ${connected}/${count} online after ${timeoutMs} ms`);
      await sleep(50);
    }
    return Date.now() - t0;
  };
  try {
    const t0 = Date.now();
    await waitAll(300_000);
    const firstOnlineMs = Date.now() - t0;
    await sleep(3000);
    child.send({ cmd: 'gc' });
    while (!mem) await sleep(50);
    const perAgentKb = (mem.rssKb! - baselineKb) / count;

    // broker restart: every agent loses its connection; count status=online arrivals per device afterwards
    const brokerPid = broker.pid!;
    const brokerRssKb = procStat(brokerPid).rssKb;
    await broker.restart({ downMs: downSeconds * 1000 });
    const restartedAt = Date.now();
    const onlineAt = new Map<string, number>();
    const sub = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 100 });
    sub.on('message', (topic, p) => {
      if (!p.length) return;
      const id = topic.split('/')[2];
      if ((JSON.parse(p.toString()) as { state: string }).state === 'online' && !onlineAt.has(id)) onlineAt.set(id, Date.now() - restartedAt);
    });
    await new Promise((r) => sub.once('connect', r));
    await sub.subscribeAsync('mss/v1/+/status', { qos: 1 });
    await waitAll(600_000);
    const allBackMs = Date.now() - restartedAt;
    await sleep(500);
    sub.end(true);
    const times = [...onlineAt.values()].sort((a, b) => a - b);
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] ?? NaN;
    return {
      agents: String(count),
      'host RSS before agents (MB)': (baselineKb / 1024).toFixed(1),
      'host RSS with agents, after GC (MB)': (mem.rssKb! / 1024).toFixed(1),
      'RSS per agent (KB)': perAgentKb.toFixed(0),
      'JS heap used with all agents (MB)': (mem.heapKb! / 1024).toFixed(1),
      'mosquitto RSS with all connected (MB)': (brokerRssKb / 1024).toFixed(1),
      'agents constructed and started (s)': (startedMs / 1000).toFixed(1),
      'all online at start, from spawning the host (s)': (firstOnlineMs / 1000).toFixed(1),
      [`broker down ${downSeconds} s, then restarted: all online again after (s)`]: (allBackMs / 1000).toFixed(1),
      'status=online seen after restart, p50/p95/max (s)': `${(pct(50) / 1000).toFixed(1)} / ${(pct(95) / 1000).toFixed(1)} / ${(times.at(-1)! / 1000).toFixed(1)} (${times.length} devices)`,
    };
  } finally {
    child.send({ cmd: 'stop' });
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(20_000)]);
    child.kill('SIGKILL');
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(title: string, rows: Array<[string, string]>): void {
  const w = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`\n${title}\n| ${'measure'.padEnd(w)} | value |\n|${'-'.repeat(w + 2)}|-------|\n`);
  for (const [k, v] of rows) process.stdout.write(`| ${k.padEnd(w)} | ${v} |\n`);
}

async function main(): Promise<void> {
  const agents = arg('agents', 200);
  const seconds = arg('seconds', 30);
  const down = arg('down', 5);
  if (!process.argv.includes('--skip-serve')) await serveBench(seconds);
  const fleet = await fleetOfAgents(agents, down);
  printTable(`${agents} agents in one process against one mosquitto (backoff 1 s .. 5 min, full jitter)`, Object.entries(fleet));
}

async function serveBench(seconds: number): Promise<void> {
  const broker = await startMosquitto();
  let without, withAgent;
  try {
    without = await serveIdle(null, seconds);
    withAgent = await serveIdle(broker, seconds);
  } finally {
    await broker.stop();
  }
  printTable(`mss serve idle, ${seconds} s window (no publishing points; telemetry every 30 s)`, [
    ['CPU without agent (% of one core)', without.cpuPct.toFixed(2)],
    ['CPU with agent connected (% of one core)', withAgent.cpuPct.toFixed(2)],
    ['RSS without agent, median of 1/s samples (MB)', without.rssMb.toFixed(1)],
    ['RSS with agent, median of 1/s samples (MB)', withAgent.rssMb.toFixed(1)],
    ['agent cost: CPU / RSS', `${(withAgent.cpuPct - without.cpuPct).toFixed(2)} % / ${(withAgent.rssMb - without.rssMb).toFixed(1)} MB`],
  ]);
}

if (process.argv[2] === '--host') {
  void host(Number(process.argv[3]), process.argv[4], process.argv[5]);
} else {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}
