/**
 * Soak: the Windows Media Services capacity method on mss's live WMSP fan-out. First the break point: fresh
 * servers at rising player counts (--find), each measured over a short window, until a run starves a player,
 * fails a join or counts a late send; the break point is the last count that held (or give it: --break-point).
 * Then one long run at --fraction (65%) of it for --minutes, sampling the server every --sample-seconds:
 * RSS, players, the pacing clock's late sends and late ticks (from /metrics), CPU.
 *
 *   npx tsx scripts/bench/soak.ts [--find 2000,4000,6000,8000,10000,12000] [--break-point N]
 *                                 [--fraction 0.65] [--minutes 30] [--sample-seconds 30] [--step-seconds 20]
 *
 * Pass criteria (issue 16): RSS growth under 5% over the last 20 minutes (the sample at minutes-20 against the
 * largest after it), zero starved players over the whole hold, and zero late sends.
 * Results: a table on stdout, progress on stderr, JSON in .bench/soak-<time>.json.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { probeRate, runLoad, type LoadRun } from './lib/load-run.js';
import { prepareMedia, type Media } from './lib/media.js';
import { benchDir, cpuSeconds, sleep, statusKb, stopChild } from './lib/proc.js';
import { commitOf, configureMss, launchFlags, mssMetrics, startMss, type ServerHandle } from './lib/servers.js';

/** one load process per this many players (as wmsp-fanout.ts --load-procs auto) */
const PLAYERS_PER_LOAD_PROC = 2500;

interface Args {
  find: number[];
  breakPoint?: number;
  fraction: number;
  minutes: number;
  sampleSeconds: number;
  stepSeconds: number;
}

function parseCli(argv: string[]): Args {
  const a: Args = { find: [2000, 4000, 6000, 8000, 10000, 12000], fraction: 0.65, minutes: 30, sampleSeconds: 30, stepSeconds: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--find') a.find = v.split(',').map(Number);
    else if (flag === '--break-point') a.breakPoint = Number(v);
    else if (flag === '--fraction') a.fraction = Number(v);
    else if (flag === '--minutes') a.minutes = Number(v);
    else if (flag === '--sample-seconds') a.sampleSeconds = Number(v);
    else if (flag === '--step-seconds') a.stepSeconds = Number(v);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (a.find.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--find takes whole numbers');
  if (!(a.fraction > 0 && a.fraction <= 1)) throw new Error('--fraction is in (0, 1]');
  if (!(a.minutes > 0)) throw new Error('--minutes must be > 0');
  return a;
}

interface Sample {
  minute: number;
  players: number;
  rssMB: number;
  lateSends: number;
  lateTicks: number;
  cpuPercent: number;
}

interface Step {
  players: number;
  held: boolean;
  starved: number;
  joined: number;
  lateSends: number;
  cpuPerGB: number;
  why?: string;
}

async function measure(media: Media, players: number, seconds: number, tag: string, onSample?: (server: ServerHandle) => void, sampleMs = 0): Promise<{ run: LoadRun; lateSends: number; server: ServerHandle }> {
  const server = await startMss(media, tag);
  try {
    await sleep(6000); // a full Fast Start ring before anyone joins
    const rate = await probeRate(server, 'wmsp', media.streams);
    // the pacing counters over the window only: a ramp of thousands of connections may delay the clock, a hold must not
    let before: Promise<Record<string, number>> | undefined;
    let after: Promise<Record<string, number>> | undefined;
    let timer: NodeJS.Timeout | undefined;
    const run = await runLoad(
      server,
      { protocol: 'wmsp', players, seconds, settleSeconds: 10, concurrency: 100, streams: media.streams, expectedBytesPerSecond: rate, stallMs: 5000, rampTimeoutMs: 180_000 },
      false,
      Math.ceil(players / PLAYERS_PER_LOAD_PROC),
      {
        windowStart: () => {
          before = mssMetrics(server);
          if (onSample && sampleMs > 0) {
            onSample(server);
            timer = setInterval(() => onSample(server), sampleMs);
          }
        },
        windowEnd: () => {
          clearInterval(timer);
          after = mssMetrics(server);
        },
      },
    );
    const [b, a] = await Promise.all([before, after]);
    return { run, lateSends: (a?.mss_late_sends_total ?? 0) - (b?.mss_late_sends_total ?? 0), server };
  } finally {
    await stopChild(server.child);
  }
}

async function findBreakPoint(media: Media, a: Args): Promise<{ breakPoint: number; steps: Step[] }> {
  const steps: Step[] = [];
  let breakPoint = 0;
  for (const n of a.find) {
    process.stderr.write(`break point: ${n} players x ${a.stepSeconds} s...\n`);
    const { run, lateSends } = await measure(media, n, a.stepSeconds, `soak-find-${n}`);
    const r = run.result;
    const held = r.starved === 0 && r.joined === n && lateSends === 0;
    const why = held ? undefined : [r.starved ? `${r.starved} starved` : '', r.joined < n ? `${n - r.joined} not joined` : '', lateSends ? `${lateSends} late sends` : ''].filter(Boolean).join(', ');
    steps.push({ players: n, held, starved: r.starved, joined: r.joined, lateSends, cpuPerGB: run.serverCpu / (r.windowBytes / 1e9), why });
    process.stderr.write(`  ${held ? 'held' : `broke: ${why}`} (${(run.serverCpu / (r.windowBytes / 1e9)).toFixed(2)} CPU s/GB)\n`);
    if (!held) break;
    breakPoint = n;
  }
  if (breakPoint === 0) throw new Error(`no step held (first: ${JSON.stringify(steps[0])})`);
  return { breakPoint, steps };
}

async function main(): Promise<void> {
  const a = parseCli(process.argv.slice(2));
  configureMss({ nodeFlags: launchFlags() });
  const media = await prepareMedia();
  const found = a.breakPoint ? { breakPoint: a.breakPoint, steps: [] as Step[] } : await findBreakPoint(media, a);
  const players = Math.round(found.breakPoint * a.fraction);
  process.stderr.write(`soak: ${players} players (${Math.round(a.fraction * 100)}% of ${found.breakPoint}) for ${a.minutes} min\n`);

  const samples: Sample[] = [];
  let t0 = 0;
  let cpu0 = 0;
  let last = { t: 0, cpu: 0 };
  const sample = (server: ServerHandle) => {
    const t = performance.now();
    const cpu = cpuSeconds(server.pid);
    if (!t0) {
      t0 = t;
      cpu0 = cpu;
      last = { t, cpu };
    }
    void mssMetrics(server)
      .then((m) => {
        const s: Sample = {
          minute: (t - t0) / 60_000,
          players: m.mss_players_current ?? 0,
          rssMB: statusKb(server.pid, 'VmRSS') / 1024,
          lateSends: m.mss_late_sends_total ?? 0,
          lateTicks: m.mss_pacing_late_ticks_total ?? 0,
          cpuPercent: t > last.t ? ((cpu - last.cpu) / ((t - last.t) / 1000)) * 100 : 0,
        };
        last = { t, cpu };
        samples.push(s);
        process.stderr.write(`  ${s.minute.toFixed(1)} min: ${s.players} players, RSS ${s.rssMB.toFixed(1)} MB, CPU ${s.cpuPercent.toFixed(0)}%, late sends ${s.lateSends}\n`);
      })
      .catch((err) => process.stderr.write(`  sample failed: ${(err as Error).message}\n`));
  };
  const { run, lateSends } = await measure(media, players, a.minutes * 60, 'soak-hold', sample, a.sampleSeconds * 1000);
  const r = run.result;

  // RSS growth over the last 20 minutes: the sample 20 minutes before the end against the largest after it
  const from = Math.max(0, a.minutes - 20);
  const base = samples.find((s) => s.minute >= from - 1e-9);
  const after = samples.filter((s) => base && s.minute >= base.minute);
  const growth = base ? (Math.max(...after.map((s) => s.rssMB)) - base.rssMB) / base.rssMB : NaN;
  const gb = r.windowBytes / 1e9;

  const out: string[] = [];
  out.push(`\nSoak (mss live WMSP fan-out, 494 kb/s over loopback), commit ${commitOf()}, ${new Date().toISOString()}`);
  if (found.steps.length) {
    out.push('', '| players | held | joined | starved | late sends | CPU s/GB |', '|---------|------|--------|---------|------------|----------|');
    for (const s of found.steps) out.push(`| ${s.players} | ${s.held ? 'yes' : `no: ${s.why}`} | ${s.joined} | ${s.starved} | ${s.lateSends} | ${s.cpuPerGB.toFixed(2)} |`);
  }
  out.push('', `break point ${found.breakPoint} players; hold ${players} players (${Math.round(a.fraction * 100)}%) for ${a.minutes} min`, '');
  out.push('| minute | players | RSS MB | CPU % | late sends | late ticks |', '|--------|---------|--------|-------|------------|------------|');
  const every = Math.max(1, Math.round(300 / a.sampleSeconds)); // a row every ~5 minutes, and the last
  samples.forEach((s, i) => {
    if (i % every === 0 || i === samples.length - 1) out.push(`| ${s.minute.toFixed(1)} | ${s.players} | ${s.rssMB.toFixed(1)} | ${s.cpuPercent.toFixed(0)} | ${s.lateSends} | ${s.lateTicks} |`);
  });
  out.push('');
  out.push(`delivered ${gb.toFixed(1)} GB, ${(run.serverCpu / gb).toFixed(2)} CPU s/GB, peak RSS ${run.rssWindowEndMB.toFixed(1)} MB at the end; players joined ${r.joined}/${players}, max stall ${r.maxStallMs} ms, LocationId gaps ${r.locationGaps}`);
  out.push(`target RSS growth < 5% over the last 20 min: ${growth < 0.05 ? 'MET' : 'MISSED'} (${(growth * 100).toFixed(1)}% from ${base?.rssMB.toFixed(1)} MB at minute ${base?.minute.toFixed(1)})`);
  out.push(`target zero starved players: ${r.starved === 0 ? 'MET' : `MISSED (${r.starved}: ${r.starvedByBytes} low bytes, ${r.starvedByStall} stalled)`}`);
  out.push(`target zero late sends: ${lateSends === 0 ? 'MET' : `MISSED (${lateSends})`}`);
  process.stdout.write(out.join('\n') + '\n');
  const file = path.join(benchDir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ args: a, found, players, samples, result: r, serverCpu: run.serverCpu, lateSends, growth, cpu0 }, null, 2));
  process.stderr.write(`results: ${path.relative(process.cwd(), file)}\n`);
}

main().catch((err) => {
  process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
