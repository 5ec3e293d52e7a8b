/**
 * Live fan-out benchmark: N live players of a ~500 kbps WMV2 stream over loopback, against `mss serve` over WMSP
 * and (with --protocols) MMS over TCP, RTSP interleaved on TCP and RTSP over UDP in the same run, and, side by side, VLC 3's
 * mmsh stream output on the same file with the same WMSP clients. With --servers floor, the C floor of a WMSP fan-out
 * (../shared/bench/floor-wmsp.c) and, when rtsp-udp is measured, the C floor of sending the same RTP datagrams
 * (scripts/bench/floor-udp.c): RTSP/UDP's "x floor" is against the latter.
 *
 *   npx tsx scripts/bench/wmsp-fanout.ts [--players 50,500,2000] [--seconds 30] [--servers mss,vlc]
 *                                        [--protocols wmsp,mmsp,rtsp-tcp,rtsp-udp]
 *                                        [--settle 5] [--ttff-samples 3] [--concurrency 100] [--load-procs auto]
 *                                        [--profile] [--node-flags '--max-semi-space-size=4'] [--mss-entry dist/src/cli/main.js]
 *
 * For every server, protocol and player count a fresh server process is started; the load generator
 * (scripts/bench/lib/wmsp-load.ts, one process of raw players sending ffmpeg's exact requests; RTSP players in
 * scripts/bench/lib/rtsp-load.ts) ramps
 * the players up, lets them settle, then measures a window of --seconds. Reported per run:
 *   - bytes delivered in the window (sum over players) and the aggregate rate;
 *   - server CPU seconds in the window (/proc/<pid>/stat utime+stime) and CPU seconds per GB (1e9 bytes);
 *   - server peak RSS (/proc/<pid>/status VmHWM, whole life of the process);
 *   - players starved: got < 90% of what an idle probe player of the same server gets in the same time,
 *     or stalled > 5 s in the window, or never joined;
 *   - the load generator's own CPU seconds (it shares the two cores);
 *   - time to first decoded frame of a live join (`ffmpeg -i mmsh://... -frames:v 1 -f null -`) idle, and once
 *     under the full load just before the window (so the window's CPU is that of the N players alone: not the
 *     probe's own session, nor, for mss, the re-optimizing after the first player leave of the process's life);
 *   - for diagnosis: kernel share of the CPU, CPU per server thread, RSS split into anonymous and file-backed,
 *     and with --profile a V8 CPU profile of the mss process over the measurement window (self-time summary).
 * The machine is shared: other work running at the same time changes wall-clock numbers (stalls, TTFF) more
 * than CPU seconds, which are per process.
 * VLC is installed with apt when missing and run as `nobody` (it refuses root) through setpriv, which execs,
 * so the pid measured is VLC's own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatProfile, summarizeCpuProfile } from './lib/cpuprofile.js';
import { median, probeRate as probeRateOf, runLoad, timeToFirstFrame } from './lib/load-run.js';
import { prepareMedia } from './lib/media.js';
import { benchDir, root, run, sleep, statusKb, stopChild } from './lib/proc.js';
import { fmt, markdownTable, usage } from './lib/report.js';
import { commitOf, configureMss, launchFlags, mssHow, runUdpFloor, startServer, type Protocol, type ServerHandle, type ServerKind } from './lib/servers.js';

/** one load process keeps up with about this many live players on this machine (--load-procs auto) */
const PLAYERS_PER_LOAD_PROC = 2500;

// ---------------------------------------------------------------------------------------------------------
// arguments


interface Args {
  players: number[];
  seconds: number;
  servers: Array<ServerKind>;
  /** what mss is measured over (VLC speaks WMSP only) */
  protocols: Protocol[];
  settle: number;
  ttffSamples: number;
  concurrency: number;
  /** load processes per run; 0: one per PLAYERS_PER_LOAD_PROC players */
  loadProcs: number;
  /** profile mss over the measurement window and print where its CPU goes */
  profile: boolean;
  /** extra node flags for the mss process, e.g. --max-semi-space-size=4 */
  nodeFlags: string[];
  /** run this compiled main.js instead of building the working tree (to compare an experimental build) */
  mssEntry?: string;
}

function parseCli(argv: string[]): Args {
  const a: Args = { players: [50, 500, 2000], seconds: 30, servers: ['mss', 'vlc'], protocols: ['wmsp'], settle: 5, ttffSamples: 3, concurrency: 100, loadProcs: 0, profile: false, nodeFlags: launchFlags() };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    switch (flag) {
      case '--players':
        a.players = need().split(',').map((s) => Number(s.trim()));
        if (a.players.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--players takes whole numbers, e.g. 50,500,2000');
        break;
      case '--seconds':
        a.seconds = Number(need());
        break;
      case '--servers':
        a.servers = need().split(',').map((s) => s.trim()) as Args['servers'];
        if (a.servers.some((s) => s !== 'mss' && s !== 'vlc' && s !== 'floor')) throw new Error('--servers takes mss, vlc and/or floor');
        break;
      case '--protocols':
        a.protocols = need().split(',').map((s) => s.trim()) as Protocol[];
        if (a.protocols.length === 0 || a.protocols.some((p) => !['wmsp', 'mmsp', 'rtsp-tcp', 'rtsp-udp'].includes(p))) throw new Error('--protocols takes wmsp, mmsp, rtsp-tcp and/or rtsp-udp');
        break;
      case '--settle':
        a.settle = Number(need());
        break;
      case '--ttff-samples':
        a.ttffSamples = Number(need());
        break;
      case '--concurrency':
        a.concurrency = Number(need());
        break;
      case '--load-procs': {
        const v = need();
        a.loadProcs = v === 'auto' ? 0 : Number(v);
        if (!Number.isInteger(a.loadProcs) || a.loadProcs < 0) throw new Error('--load-procs takes a whole number or auto');
        break;
      }
      case '--profile':
        a.profile = true;
        break;
      case '--mss-entry':
        a.mssEntry = path.resolve(need());
        break;
      case '--node-flags':
        a.nodeFlags = need().split(/\s+/).filter(Boolean);
        break;
      case '-h':
      case '--help':
        process.stdout.write(usage(import.meta.url));
        process.exit(0);
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!(a.seconds > 0)) throw new Error('--seconds must be > 0');
  return a;
}

// ---------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------

interface Row {
  server: string;
  players: number;
  joined?: number;
  starved?: number;
  windowGB?: number;
  mbps?: number;
  serverCpu?: number;
  serverSys?: number;
  cpuPerGB?: number;
  peakRssMB?: number;
  baseRssMB?: number;
  rssWindowEndMB?: number;
  rssAnonMB?: number;
  rssFileMB?: number;
  threads?: Record<string, number>;
  loadCpu?: number;
  ttffLoadMs?: number | null;
  gaps?: number;
  note?: string;
}

async function main(): Promise<void> {
  const args = parseCli(process.argv.slice(2));
  configureMss({ nodeFlags: args.nodeFlags, entry: args.mssEntry });
  const media = await prepareMedia();
  process.stderr.write(
    `media ${path.relative(root, media.file)}: ${(media.bitrate / 1000).toFixed(0)} kb/s, streams ${media.streams.join(',')}, packet ${media.packetSize} B, ` +
      `${media.packetsPerSecond.toFixed(1)} packets/s, ${(media.durationMs / 1000).toFixed(1)} s (looped)\n`,
  );
  const rows: Row[] = [];
  const ttffIdle: Record<string, { medianMs: number | null; samples: Array<number | null>; warnings: number; firstWarning?: string; error?: string }> = {};
  const probeRate: Record<string, number> = {};
  const profiles: string[] = [];

  type Variant = { kind: ServerKind; protocol: Protocol };
  const variants: Variant[] = args.servers.flatMap((kind): Variant[] => (kind === 'mss' ? args.protocols.map((protocol) => ({ kind, protocol })) : [{ kind, protocol: 'wmsp' }]));
  const labelOf = (v: Variant) => (v.kind === 'mss' && (args.protocols.length > 1 || v.protocol !== 'wmsp') ? `mss/${v.protocol}` : v.kind);
  for (const variant of variants) {
    const kind = variant.kind;
    const label = labelOf(variant);
    // idle: probe rate (what one healthy player gets per second, after the start burst) and TTFF
    let server: ServerHandle;
    try {
      server = await startServer(kind, media, 'probe');
    } catch (err) {
      process.stderr.write(`${label}: could not start: ${(err as Error).message}\n`);
      for (const n of args.players) rows.push({ server: label, players: n, note: `did not start: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    const how = kind === 'mss' ? mssHow() : kind === 'floor' ? 'gcc -O2 floor-wmsp.c' : `cvlc (vlc-bin ${(await run('dpkg-query', ['-W', '-f', '${Version}', 'vlc-bin'])).stdout.trim() || '?'})`;
    process.stderr.write(`${label}: started pid ${server.pid} port ${variant.protocol === 'wmsp' ? server.port : variant.protocol === 'mmsp' ? server.mmsPort : server.rtspPort} via ${how}\n`);
    try {
      await sleep(6000); // let the live source run so a join sees a steady stream (and a full Fast Start ring)
      const samples: Array<number | null> = [];
      let warnings = 0;
      let error: string | undefined;
      let firstWarning: string | undefined;
      for (let i = 0; i < args.ttffSamples; i++) {
        const t = await timeToFirstFrame(server, variant.protocol);
        samples.push(t.ms);
        warnings += t.warnings ?? 0;
        error ??= t.error;
        firstWarning ??= t.firstWarning;
      }
      const ok = samples.filter((x): x is number => x !== null);
      ttffIdle[label] = { medianMs: ok.length ? median(ok) : null, samples, warnings, firstWarning, error };
      probeRate[label] = await probeRateOf(server, variant.protocol, media.streams);
      process.stderr.write(`${label}: probe player gets ${(probeRate[label]! * 8 / 1000).toFixed(0)} kb/s; TTFF idle ${samples.map((s) => (s === null ? 'fail' : s.toFixed(0))).join(', ')} ms\n`);
    } catch (err) {
      process.stderr.write(`${label}: probe failed: ${(err as Error).message}\n`);
      await stopChild(server.child);
      for (const n of args.players) rows.push({ server: label, players: n, note: `probe failed: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    await stopChild(server.child);

    for (const n of args.players) {
      process.stderr.write(`${label}: ${n} players x ${args.seconds} s...\n`);
      let s: ServerHandle | undefined;
      try {
        s = await startServer(kind, media, `n${n}`, args.profile);
        await sleep(2000);
        const baseRssMB = statusKb(s.pid, 'VmRSS') / 1024;
        const r = await runLoad(
          s,
          {
            protocol: variant.protocol,
            players: n,
            seconds: args.seconds,
            settleSeconds: args.settle,
            concurrency: args.concurrency,
            streams: media.streams,
            expectedBytesPerSecond: probeRate[label]!,
            stallMs: 5000,
            rampTimeoutMs: 120_000,
          },
          true,
          args.loadProcs || Math.ceil(n / PLAYERS_PER_LOAD_PROC),
        );
        const peakRssMB = statusKb(s.pid, 'VmHWM') / 1024;
        const res = r.result;
        const gb = res.windowBytes / 1e9;
        rows.push({
          server: label,
          players: n,
          joined: res.joined,
          starved: res.starved,
          windowGB: gb,
          mbps: (res.windowBytes * 8) / res.windowSeconds / 1e6,
          serverCpu: r.serverCpu,
          serverSys: r.serverSys,
          baseRssMB,
          rssWindowEndMB: r.rssWindowEndMB,
          rssAnonMB: r.rssAnonMB,
          rssFileMB: r.rssFileMB,
          threads: r.threads,
          cpuPerGB: gb > 0 ? r.serverCpu / gb : NaN,
          peakRssMB,
          loadCpu: r.loadCpuProc,
          ttffLoadMs: r.ttffUnderLoadMs,
          gaps: res.locationGaps,
          note: [
            Object.keys(res.failures).length ? `failures ${JSON.stringify(res.failures)}` : '',
            res.starved ? `starved: ${res.starvedByBytes} low bytes, ${res.starvedByStall} stalled (max ${res.maxStallMs} ms)` : '',
            res.verified.error ? `codec check: ${res.verified.error}` : '',
            r.ttffUnderLoadError ? `ttff: ${r.ttffUnderLoadError}` : '',
          ]
            .filter(Boolean)
            .join('; '),
        });
        process.stderr.write(`  ${JSON.stringify(rows[rows.length - 1])}\n  per-player window bytes ${JSON.stringify(res.perPlayerWindowBytes)}, ramp ${res.rampMs} ms, player 0 codec-checked ${res.verified.dataFrames} $D\n`);
      } catch (err) {
        rows.push({ server: label, players: n, note: `run failed: ${(err as Error).message.split('\n')[0]}` });
        process.stderr.write(`${label} ${n}: ${(err as Error).message}\n`);
      } finally {
        if (s) await stopChild(s.child);
      }
      if (s?.profileDir && existsSync(s.profileDir)) {
        const files = readdirSync(s.profileDir).filter((f) => f.endsWith('.cpuprofile'));
        if (files.length > 0) {
          const summary = formatProfile(summarizeCpuProfile(path.join(s.profileDir, files[0]!), root, 25));
          profiles.push(`${label} ${n} players (the measurement window): ${path.relative(root, path.join(s.profileDir, files[0]!))}\n${summary}`);
        }
      }
    }
  }

  // the UDP floor beside RTSP/UDP: the same datagrams (ASF packets split to mss's default RTP size, 1500-byte MTU) at the same rate
  if (args.servers.includes('floor') && args.protocols.includes('rtsp-udp')) {
    for (const n of args.players) {
      const f = runUdpFloor({ players: n, seconds: args.seconds, packetBytes: media.packetSize, maxDatagram: 1472, kbps: media.bitrate / 1000, tickMs: 100 });
      const gb = f.receivedBytes / 1e9;
      const cpu = f.senderUser + f.senderSys;
      rows.push({ server: 'floor/udp', players: n, joined: n, windowGB: gb, mbps: (f.receivedBytes * 8) / f.seconds / 1e6, serverCpu: cpu, serverSys: f.senderSys, cpuPerGB: cpu / gb, loadCpu: f.receiverUser + f.receiverSys, note: f.sentBytes > f.receivedBytes ? `${f.sentBytes - f.receivedBytes} bytes not received` : '' });
      process.stderr.write(`floor/udp ${n}: ${JSON.stringify(f)}\n`);
    }
  }

  // ----- report
  /** CPU per GB against the C floor's at the same player count (RTSP/UDP against the UDP floor) */
  const floorRatio = (r: Row): number | undefined => {
    const floor = r.server === 'mss/rtsp-udp' || r.server === 'floor/udp' ? 'floor/udp' : 'floor';
    const f = rows.find((x) => x.server === floor && x.players === r.players);
    return f?.cpuPerGB && r.cpuPerGB !== undefined && Number.isFinite(r.cpuPerGB) ? r.cpuPerGB / f.cpuPerGB : undefined;
  };
  const header = ['server', 'players', 'joined', 'starved', 'GB in window', 'Mbit/s', 'srv CPU s (sys)', 'CPU s/GB', 'x floor', 'peak RSS MB', 'RSS idle/window MB', 'load CPU s', 'TTFF loaded ms', 'LocId gaps'];
  const table = rows.map((r) => [
    r.server,
    String(r.players),
    r.joined === undefined ? '-' : String(r.joined),
    r.starved === undefined ? '-' : String(r.starved),
    fmt(r.windowGB, 3),
    fmt(r.mbps, 0),
    r.serverCpu === undefined ? '-' : `${fmt(r.serverCpu, 2)} (${fmt(r.serverSys, 2)})`,
    fmt(r.cpuPerGB, 2),
    fmt(floorRatio(r), 2),
    fmt(r.peakRssMB, 1),
    r.baseRssMB === undefined ? '-' : `${fmt(r.baseRssMB, 0)}/${fmt(r.rssWindowEndMB, 0)}`,
    fmt(r.loadCpu, 2),
    fmt(r.ttffLoadMs, 0),
    r.gaps === undefined ? '-' : String(r.gaps),
  ]);
  const out: string[] = [];
  out.push(`\nLive fan-out (${variants.map(labelOf).join(', ')}): ${(media.bitrate / 1000).toFixed(0)} kb/s WMV2+WMA2 over loopback, ${args.seconds} s window after ${args.settle} s settle; commit ${commitOf()}; ${process.platform} ${execFileSync('nproc').toString().trim()} cores, node ${process.version}`);
  out.push(...markdownTable(header, table));
  out.push('');
  for (const kind of variants.map(labelOf)) {
    const t = ttffIdle[kind];
    if (t) out.push(`${kind}: time to first decoded frame (idle, live join): median ${fmt(t.medianMs, 0)} ms of [${t.samples.map((s) => fmt(s, 0)).join(', ')}]${t.warnings ? `, ffmpeg warning lines: ${t.warnings} (first: ${t.firstWarning})` : ', no ffmpeg warnings'}${t.error ? `, error: ${t.error}` : ''}`);
    if (probeRate[kind]) out.push(`${kind}: one idle player receives ${((probeRate[kind]! * 8) / 1000).toFixed(0)} kb/s (starvation reference)`);
  }
  for (const r of rows) {
    if (r.rssAnonMB !== undefined) out.push(`${r.server} ${r.players}: RSS at window end ${fmt(r.rssWindowEndMB, 1)} MB = ${fmt(r.rssAnonMB, 1)} anonymous (heap, buffers) + ${fmt(r.rssFileMB, 1)} file-backed (binary, libraries)`);
    if (r.threads) {
      const parts = Object.entries(r.threads).sort((a, b) => b[1] - a[1]).map(([name, sec]) => `${name} ${sec.toFixed(2)}`);
      out.push(`${r.server} ${r.players}: window CPU s by thread: ${parts.join(', ') || 'none'}`);
    }
    if (r.note) out.push(`${r.server} ${r.players}: ${r.note}`);
  }
  // targets
  const wmspLabel = labelOf({ kind: 'mss', protocol: 'wmsp' });
  const ours = rows.filter((r) => r.server === wmspLabel);
  const vlc = rows.filter((r) => r.server === 'vlc');
  const big = ours.find((r) => r.players === Math.max(...args.players));
  if (big && big.joined !== undefined) {
    out.push('');
    out.push(`target ${big.players} players held, none starved: ${big.starved === 0 ? 'MET' : `MISSED (${big.starved} starved)`}`);
    const maxRss = Math.max(...ours.map((r) => r.peakRssMB ?? 0));
    out.push(`target peak RSS <= 150 MB (at up to ${big.players} players): ${maxRss <= 150 ? 'MET' : 'MISSED'} (max ${maxRss.toFixed(1)} MB)`);
    for (const r of ours) {
      const v = vlc.find((x) => x.players === r.players);
      if (v?.cpuPerGB !== undefined && r.cpuPerGB !== undefined) {
        out.push(`target CPU/GB no more than VLC at ${r.players}: ${r.cpuPerGB <= v.cpuPerGB ? 'MET' : 'MISSED'} (mss ${r.cpuPerGB.toFixed(2)} vs vlc ${v.cpuPerGB.toFixed(2)} CPU s/GB)`);
      }
      const ratio = floorRatio(r);
      if (ratio !== undefined && r.players >= 4000) out.push(`target CPU/GB within 1.3x of the C floor at ${r.players}: ${ratio <= 1.3 ? 'MET' : 'MISSED'} (${ratio.toFixed(2)}x)`);
      if (r.players >= 4000 && r.ttffLoadMs !== undefined) out.push(`target live join to first decoded frame < 300 ms at ${r.players}: ${r.ttffLoadMs !== null && r.ttffLoadMs < 300 ? 'MET' : 'MISSED'} (${fmt(r.ttffLoadMs, 0)} ms)`);
    }
  }
  // RTSP beside WMSP: CPU per delivered GB within 1.5x of WMSP's, and no player starved
  for (const protocol of args.protocols.filter((p) => p !== 'wmsp')) {
    for (const r of rows.filter((x) => x.server === `mss/${protocol}`)) {
      const w = ours.find((x) => x.players === r.players);
      const starved = r.starved === undefined ? 'not run' : r.starved === 0 ? 'none starved' : `${r.starved} starved`;
      if (w?.cpuPerGB !== undefined && r.cpuPerGB !== undefined && Number.isFinite(w.cpuPerGB) && Number.isFinite(r.cpuPerGB)) {
        const ratio = r.cpuPerGB / w.cpuPerGB;
        out.push(`target ${protocol} CPU/GB within 1.5x of WMSP at ${r.players}: ${ratio <= 1.5 ? 'MET' : 'MISSED'} (${r.cpuPerGB.toFixed(2)} vs ${w.cpuPerGB.toFixed(2)} CPU s/GB, ${ratio.toFixed(2)}x; ${starved})`);
      } else out.push(`target ${protocol} CPU/GB within 1.5x of WMSP at ${r.players}: not measured (${r.note ?? 'no WMSP row to compare'})`);
    }
  }
  if (profiles.length) out.push('', 'CPU profiles (V8, measurement window):', ...profiles);
  process.stdout.write(out.join('\n') + '\n');
  const jsonFile = path.join(benchDir, `wmsp-fanout-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, JSON.stringify({ args, media: { ...media, file: path.relative(root, media.file) }, rows, ttffIdle, probeRate }, null, 2));
  process.stderr.write(`results: ${path.relative(root, jsonFile)}\n`);
}

main().catch((err) => {
  process.stderr.write(`wmsp-fanout: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
