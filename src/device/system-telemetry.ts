/** System metrics for telemetry/system, from systeminformation (each probe may fail alone: it is then left out). */
import si from 'systeminformation';

export interface SystemTelemetry {
  cpu?: { load: number; loadUser: number; loadSystem: number; cores: number };
  temperature?: { main: number | null; max: number | null };
  memory?: { total: number; used: number; available: number; swapUsed: number };
  disk?: { mount: string; size: number; used: number; usePercent: number };
  network?: Array<{ iface: string; rxBytesPerSec: number | null; txBytesPerSec: number | null; rxDropped: number; txDropped: number }>;
  process: { rss: number; heapUsed: number; uptimeSec: number; cpuUserSec: number; cpuSystemSec: number };
}

const round = (n: number | null | undefined, digits = 1): number | null => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

export async function sampleSystem(dataDir: string): Promise<SystemTelemetry> {
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
