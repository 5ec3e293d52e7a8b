/**
 * ASF core benchmark: packets parsed / serialized / re-stamped / filtered per second and MB/s, the
 * streaming file writer, and a whole-process remux (`mss` core: read file, re-stamp, write file with
 * index) next to `ffmpeg -c copy` remuxing the same file (wall and CPU time of each process).
 *
 *   npx tsx scripts/bench/asf.ts [input.asf]      (default: a 10-minute file built from the 120 s fixture)
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openAsfFile, parseAsfFile } from '../../src/asf/file.js';
import { filterPacketStreams, parseDataPacket, readSendTime, restampPacket, serializeDataPacket } from '../../src/asf/packet.js';
import { AsfStreamParser } from '../../src/asf/stream-parser.js';
import { AsfFileWriter } from '../../src/asf/writer.js';

const exec = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const benchDir = path.join(root, '.bench');

/** Child mode: the whole-process remux measured against ffmpeg. */
async function remux(input: string, output: string): Promise<void> {
  const file = await openAsfFile(input);
  const w = await AsfFileWriter.create(output, file.layout.headerBytes);
  const batch = 64;
  for (let i = 0; i < file.layout.packetCount; i += batch) {
    const packets = await file.readPackets(i, Math.min(batch, file.layout.packetCount - i));
    for (const p of packets) await w.write(p);
  }
  await w.finish();
  await file.close();
}

async function makeInput(): Promise<string> {
  const target = path.join(benchDir, 'asf-bench-600s.wmv');
  if (existsSync(target)) return target;
  await exec('bash', [path.join(root, 'scripts/make-fixtures.sh')]);
  const src = parseAsfFile(await fs.readFile(path.join(root, 'test/fixtures/generated/av-wmv2-wmav2-120s.wmv')));
  const w = await AsfFileWriter.create(target, src.headerBytes);
  const lastSend = readSendTime(src.packet(src.packetCount - 1));
  for (let loop = 0; loop < 5; loop++) {
    for (let i = 0; i < src.packetCount; i++) await w.write(loop ? restampPacket(src.packet(i), src.packetSize, loop * (lastSend + 100)) : src.packet(i));
  }
  await w.finish();
  return target;
}

/** Runs `fn` over all packets repeatedly for at least `minMs`; returns packets/s and MB/s. */
function rate(packets: Buffer[], minMs: number, fn: (p: Buffer) => unknown): { pps: number; mbps: number } {
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (const p of packets) fn(p);
    n += packets.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < minMs);
  const pps = (n / elapsed) * 1000;
  return { pps, mbps: (pps * packets[0]!.length) / 1e6 };
}

/** Best of three runs (the machine may be busy): wall and CPU seconds of a shell command. */
async function processCost(cmd: string): Promise<{ wall: number; cpu: number }> {
  const runs = [await processCostOnce(cmd), await processCostOnce(cmd), await processCostOnce(cmd)];
  return { wall: Math.min(...runs.map((r) => r.wall)), cpu: Math.min(...runs.map((r) => r.cpu)) };
}

/** Wall and CPU (user+sys of the children) of a shell command, via bash `times`. */
async function processCostOnce(cmd: string): Promise<{ wall: number; cpu: number }> {
  const start = process.hrtime.bigint();
  const { stdout } = await exec('bash', ['-c', `${cmd} >/dev/null 2>&1; times`], { maxBuffer: 1 << 20 });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const lines = stdout.trim().split('\n');
  const child = lines[lines.length - 1]!.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/)!;
  const cpu = Number(child[1]) * 60 + Number(child[2]) + Number(child[3]) * 60 + Number(child[4]);
  return { wall, cpu };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--remux') return remux(process.argv[3]!, process.argv[4]!);
  await fs.mkdir(benchDir, { recursive: true });
  const input = process.argv[2] ?? (await makeInput());
  const buf = await fs.readFile(input);
  const file = parseAsfFile(buf);
  const ps = file.packetSize;
  const packets = Array.from({ length: file.packetCount }, (_, i) => file.packet(i));
  const parsed = packets.map((p) => parseDataPacket(p, ps));
  const video = file.header.streams.find((s) => s.type === 'video')?.number ?? 1;
  const keepAudio = new Set(file.header.streams.filter((s) => s.number !== video).map((s) => s.number));
  const minMs = 1500;

  const rows: [string, string, string][] = [];
  const add = (name: string, r: { pps: number; mbps: number }) => rows.push([name, Math.round(r.pps).toLocaleString('en'), r.mbps.toFixed(1)]);
  add('parseDataPacket', rate(packets, minMs, (p) => parseDataPacket(p, ps)));
  let k = 0;
  add('serializeDataPacket', rate(packets, minMs, () => serializeDataPacket(parsed[k++ % parsed.length]!, ps)));
  add('readSendTime', rate(packets, minMs, (p) => readSendTime(p)));
  add('restampPacket (+1 h)', rate(packets, minMs, (p) => restampPacket(p, ps, 3_600_000)));
  add('filterPacketStreams (drop video)', rate(packets, minMs, (p) => filterPacketStreams(p, ps, keepAudio)));
  {
    const start = process.hrtime.bigint();
    let n = 0;
    do {
      const sp = new AsfStreamParser();
      for (let off = 0; off < buf.length; off += 65536) n += sp.push(buf.subarray(off, off + 65536)).length;
    } while (Number(process.hrtime.bigint() - start) / 1e6 < minMs);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const pps = (n / ms) * 1000;
    add('AsfStreamParser (64 KiB chunks)', { pps, mbps: (pps * ps) / 1e6 });
  }
  {
    const out = path.join(benchDir, 'asf-bench-writer.wmv');
    const start = process.hrtime.bigint();
    const w = await AsfFileWriter.create(out, file.headerBytes);
    for (const p of packets) await w.write(p);
    await w.finish();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const pps = (packets.length / ms) * 1000;
    add('AsfFileWriter (incl. fsync)', { pps, mbps: (pps * ps) / 1e6 });
  }

  const mb = (buf.length / 1e6).toFixed(1);
  const outMss = path.join(benchDir, 'asf-bench-remux-mss.wmv');
  const outFf = path.join(benchDir, 'asf-bench-remux-ffmpeg.wmv');
  const self = fileURLToPath(import.meta.url);
  const mss = await processCost(`node --import tsx ${JSON.stringify(self)} --remux ${JSON.stringify(input)} ${JSON.stringify(outMss)}`);
  const ff = await processCost(`ffmpeg -y -nostdin -i ${JSON.stringify(input)} -map 0 -c copy -f asf ${JSON.stringify(outFf)}`);
  const nodeBaseline = await processCost(`node --import tsx -e 0`);

  const w1 = Math.max(...rows.map((r) => r[0].length), 'operation'.length);
  console.log(`input: ${path.relative(root, input)} (${mb} MB, ${packets.length} packets of ${ps} bytes, ${(file.header.durationMs / 1000).toFixed(0)} s)\n`);
  console.log(`${'operation'.padEnd(w1)}  ${'packets/s'.padStart(12)}  ${'MB/s'.padStart(8)}`);
  for (const [name, pps, mbps] of rows) console.log(`${name.padEnd(w1)}  ${pps.padStart(12)}  ${mbps.padStart(8)}`);
  console.log(`\nwhole-process remux of the same file (best of 3, wall / CPU seconds):`);
  console.log(`${'mss core (read, write + index)'.padEnd(34)}  wall ${mss.wall.toFixed(2)} s  cpu ${mss.cpu.toFixed(2)} s`);
  console.log(`${'ffmpeg -c copy -f asf'.padEnd(34)}  wall ${ff.wall.toFixed(2)} s  cpu ${ff.cpu.toFixed(2)} s`);
  console.log(`${'(node + tsx startup alone)'.padEnd(34)}  wall ${nodeBaseline.wall.toFixed(2)} s  cpu ${nodeBaseline.cpu.toFixed(2)} s`);
}

await main();
