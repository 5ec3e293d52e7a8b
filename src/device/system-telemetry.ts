/** System metrics for telemetry/system, from systeminformation (each probe may fail alone: it is then left out). */
import { systemInformation } from './system-information.js';

export interface SystemTelemetry {
  cpu?: { load: number; loadUser: number; loadSystem: number; cores: number };
  temperature?: { main: number | null; max: number | null };
  memory?: { total: number; used: number; available: number; swapUsed: number };
  disk?: { mount: string; size: number; used: number; usePercent: number };
  network?: Array<{ iface: string; rxBytesPerSec: number | null; txBytesPerSec: number | null; rxDropped: number; txDropped: number }>;
  process: { rss: number; heapUsed: number; uptimeSec: number; cpuUserSec: number; cpuSystemSec: number };
}

/**
 * One sample shared by every caller within `ttlMs` (and one probe in flight at a time): systeminformation spawns
 * tools and reads /proc, and the host is the same for every agent of a process.
 */
function shared<A extends unknown[], T>(ttlMs: number, fn: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  const cache = new Map<string, { at: number; value: Promise<T> }>();
  return (...args: A) => {
    const key = JSON.stringify(args);
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const value = fn(...args);
    cache.set(key, { at: Date.now(), value });
    value.catch(() => cache.delete(key));
    return value;
  };
}

const round = (n: number | null | undefined, digits = 1): number | null => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

export const sampleSystem = shared(1000, sampleSystemNow);

async function sampleSystemNow(dataDir: string): Promise<SystemTelemetry> {
  const si = await systemInformation();
  const [load, temp, mem, fs, net] = await Promise.allSettled([si.currentLoad(), si.cpuTemperature(), si.mem(), si.fsSize(), si.networkStats('*')]);
  const usage = process.cpuUsage();
  const pm = process.memoryUsage();
  const out: SystemTelemetry = {
    process: { rss: pm.rss, heapUsed: pm.heapUsed, uptimeSec: Math.round(process.uptime()), cpuUserSec: round(usage.user / 1e6, 2)!, cpuSystemSec: round(usage.system / 1e6, 2)! },
  };
  if (load.status === 'fulfilled') {
    out.cpu = { load: round(load.value.currentLoad)!, loadUser: round(load.value.currentLoadUser)!, loadSystem: round(load.value.currentLoadSystem)!, cores: load.value.cpus.length };
  }
  if (temp.status === 'fulfilled') out.temperature = { main: round(temp.value.main), max: round(temp.value.max) };
  if (mem.status === 'fulfilled') out.memory = { total: mem.value.total, used: mem.value.used, available: mem.value.available, swapUsed: mem.value.swapused };
  if (fs.status === 'fulfilled' && fs.value.length > 0) {
    // the filesystem holding dataDir: the longest mount point that prefixes it
    const best = fs.value.filter((f) => dataDir === f.mount || dataDir.startsWith(f.mount.endsWith('/') ? f.mount : f.mount + '/')).sort((a, b) => b.mount.length - a.mount.length)[0] ?? fs.value[0];
    out.disk = { mount: best.mount, size: best.size, used: best.used, usePercent: round(best.use)! };
  }
  if (net.status === 'fulfilled') {
    out.network = net.value
      .filter((n) => n.iface !== 'lo')
      .map((n) => ({ iface: n.iface, rxBytesPerSec: round(n.rx_sec, 0), txBytesPerSec: round(n.tx_sec, 0), rxDropped: n.rx_dropped, txDropped: n.tx_dropped }));
  }
  return out;
}

/** state/storage: the filesystem of dataDir, in whole percent so the retained state changes only when it matters */
export const sampleStorageState = shared(1000, sampleStorageStateNow);

async function sampleStorageStateNow(dataDir: string): Promise<Record<string, unknown> | undefined> {
  try {
    const si = await systemInformation();
    const fs = await si.fsSize();
    const best = fs.filter((f) => dataDir === f.mount || dataDir.startsWith(f.mount.endsWith('/') ? f.mount : f.mount + '/')).sort((a, b) => b.mount.length - a.mount.length)[0] ?? fs[0];
    if (!best) return undefined;
    const usePercent = Math.round(best.use);
    return { ok: usePercent < 90, state: usePercent < 90 ? 'ok' : 'low', detail: { mount: best.mount, fs: best.type, sizeBytes: best.size, usePercent } };
  } catch {
    return undefined;
  }
}

/** state/network: interfaces, whether they are up and their addresses (changes on link or DHCP events) */
export const sampleNetworkState = shared(1000, sampleNetworkStateNow);

async function sampleNetworkStateNow(): Promise<Record<string, unknown> | undefined> {
  try {
    const si = await systemInformation();
    const ifaces = await si.networkInterfaces();
    const list = (Array.isArray(ifaces) ? ifaces : [ifaces])
      .filter((i) => !i.internal)
      .map((i) => ({ iface: i.iface, up: i.operstate === 'up', ip4: i.ip4 || null, ip6: i.ip6 || null, mac: i.mac || null, speedMbps: i.speed ?? null }));
    const up = list.some((i) => i.up);
    return { ok: up, state: up ? 'up' : 'down', detail: { interfaces: list } };
  } catch {
    return undefined;
  }
}

/** the birth record's hardware part: the same for the whole life of the process */
export const describeHardware = shared(Infinity, async (): Promise<Record<string, unknown>> => {
  try {
    const si = await systemInformation();
    const [sys, cpu, os] = await Promise.all([si.system(), si.cpu(), si.osInfo()]);
    return {
      model: [sys.manufacturer, sys.model].filter((x) => x && x !== 'Default string').join(' ') || null,
      serial: sys.serial || null,
      cpu: `${cpu.manufacturer} ${cpu.brand}`.trim(),
      cores: cpu.cores,
      os: `${os.distro} ${os.release}`.trim(),
      kernel: os.kernel,
      arch: os.arch,
    };
  } catch {
    return { arch: process.arch };
  }
});
