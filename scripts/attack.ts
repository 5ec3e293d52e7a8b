/**
 * A bounded attack on `mss serve`, loopback only, while a real ffmpeg player streams a live point: a flood of
 * pipelined requests, a flood of sockets left after a Pipeline test, slowloris, and oversized inputs. Prints the
 * server's RSS before and after each attack and whether the player kept receiving frames at the stream's rate.
 *
 *   npx tsx scripts/attack.ts [--seconds 15]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 15) || 15;
const HOST = '127.0.0.1';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function startServer(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const config = {
    dataDir: path.join(dir, 'data'),
    http: { host: HOST, port: 0, idleTimeoutMs: 5000, headerTimeoutMs: 5000 },
    server: { publishingPoints: [{ name: 'live', type: 'broadcast', source: { type: 'file', path: path.join(root, 'media/sample.wmv'), loop: true } }] },
  };
  const file = path.join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  const flags = (await readFile(path.join(root, 'bin/mss.js'), 'utf8')).split('\n')[0]!.split(' ').filter((f) => f.startsWith('--'));
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve', '--config', file], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stderr!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /"event":"http\.listening"[^\n]*"port":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`mss serve exited: ${buf.slice(-500)}`)));
  });
  child.stderr!.resume();
  return { child, port };
}

/** ffmpeg playing the live point; `frames()` is how many video frames it has decoded so far */
function startPlayer(port: number): { child: ChildProcess; frames: () => number; errors: () => number } {
  const child = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-i', `mmsh://${HOST}:${port}/live`, '-map', '0:v', '-f', 'null', '-', '-progress', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let frames = 0;
  let errors = 0;
  child.stdout!.on('data', (c: Buffer) => {
    const all = [...c.toString().matchAll(/frame=(\d+)/g)];
    if (all.length) frames = Number(all[all.length - 1]![1]);
  });
  child.stderr!.on('data', () => errors++);
  return { child, frames: () => frames, errors: () => errors };
}

type Attack = (port: number, stopAt: number) => Promise<string>;

/** many connections, each sending pipelined KeepAlives as fast as the server reads them */
const pipelinedFlood: Attack = async (port, stopAt) => {
  const one = `OPTIONS * HTTP/1.1\r\nHost: x\r\nUser-Agent: NSPlayer/9.0.0.2980\r\nPragma: client-id=1\r\n\r\n`;
  const burst = Buffer.from(one.repeat(500));
  let sent = 0;
  let cut = 0;
  const worker = async () => {
    while (Date.now() < stopAt) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, HOST);
        s.on('error', () => undefined);
        s.on('close', () => (cut++, resolve()));
        s.on('connect', () => {
          const pump = () => {
            while (Date.now() < stopAt && s.writable && s.write(burst)) sent += 500;
            if (Date.now() >= stopAt) s.destroy();
          };
          s.on('drain', pump);
          pump();
        });
        s.resume();
      });
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  return `${sent} pipelined requests written on ${cut} connections; the server cut every one`;
};

/** sockets that run a Pipeline test and then sit there */
const pipelineTestSockets: Attack = async (port, stopAt) => {
  const req = `GET /live HTTP/1.1\r\nHost: x\r\nUser-Agent: NSPlayer/9.0.0.2980\r\nPragma: pipeline-request=1\r\n\r\n`;
  const socks: net.Socket[] = [];
  let refused = 0;
  for (let i = 0; i < 5000 && Date.now() < stopAt; i++) {
    const s = net.connect(port, HOST);
    s.on('error', () => undefined);
    s.on('close', () => refused++);
    s.on('connect', () => s.write(req));
    s.resume();
    socks.push(s);
    if (i % 200 === 199) await sleep(50);
  }
  while (Date.now() < stopAt) await sleep(200);
  const open = socks.filter((s) => !s.destroyed).length;
  socks.forEach((s) => s.destroy());
  return `${socks.length} sockets opened; ${refused} closed by the server (per-address limit, idle timeout), ${open} still open at the end`;
};

/** connections that send their request headers one byte a second */
const slowloris: Attack = async (port, stopAt) => {
  const text = `GET /live HTTP/1.1\r\nHost: x\r\nUser-Agent: NSPlayer/9.0.0.2980\r\nPragma: no-cache\r\nX-Padding: ${'a'.repeat(200)}\r\n\r\n`;
  const socks: net.Socket[] = [];
  let closed = 0;
  for (let i = 0; i < 400; i++) {
    const s = net.connect(port, HOST);
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    s.resume();
    socks.push(s);
  }
  let pos = 0;
  while (Date.now() < stopAt) {
    for (const s of socks) if (s.writable) s.write(text[pos % text.length]!);
    pos++;
    await sleep(1000);
  }
  socks.forEach((s) => s.destroy());
  return `400 slow connections, ${closed} cut by the server's header deadline`;
};

/** headers and bodies far over the bounds */
const oversized: Attack = async (port, stopAt) => {
  const cases = [
    `GET /live HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(200_000)}\r\n\r\n`,
    `GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\nPragma: ${'x'.repeat(100_000)}\r\n\r\n`,
    `POST /live HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\nContent-Type: application/x-wms-LogStats\r\nContent-Length: 50000000\r\n\r\n${'c'.repeat(1_000_000)}`,
    `POST /logs HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n${'d'.repeat(1_000_000)}`,
    `GET /${'e'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  ];
  const statuses = new Map<string, number>();
  let n = 0;
  while (Date.now() < stopAt) {
    await Promise.all(
      cases.map(
        (c) =>
          new Promise<void>((resolve) => {
            const s = net.connect(port, HOST);
            let head = '';
            s.on('error', () => undefined);
            s.on('data', (d) => (head += d.toString('latin1', 0, Math.min(d.length, 64))));
            s.on('close', () => {
              const st = /HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 'closed';
              statuses.set(st, (statuses.get(st) ?? 0) + 1);
              resolve();
            });
            s.on('connect', () => s.end(c));
            setTimeout(() => s.destroy(), 5000);
          }),
      ),
    );
    n += cases.length;
  }
  return `${n} oversized requests: ${[...statuses].map(([k, v]) => `${k}×${v}`).join(', ')}`;
};

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-attack-'));
  const { child: server, port } = await startServer(dir);
  const player = startPlayer(port);
  try {
    await sleep(10_000); // past the player's Fast Start burst: the baseline is the stream's own rate
    const rows: string[][] = [];
    const fps = async (ms: number) => {
      const f0 = player.frames();
      await sleep(ms);
      return ((player.frames() - f0) * 1000) / ms;
    };
    const baseline = await fps(3000);
    const rss0 = await rssMb(server.pid!);
    rows.push(['(none)', rss0.toFixed(1), rss0.toFixed(1), baseline.toFixed(1), 'baseline']);
    for (const [name, attack] of [
      ['pipelined request flood', pipelinedFlood],
      ['pipeline-test socket flood', pipelineTestSockets],
      ['slowloris', slowloris],
      ['oversized inputs', oversized],
    ] as const) {
      const before = await rssMb(server.pid!);
      const f0 = player.frames();
      const t0 = Date.now();
      let peak = before;
      const sampler = setInterval(() => void rssMb(server.pid!).then((r) => (peak = Math.max(peak, r))), 250);
      const result = await attack(port, Date.now() + seconds * 1000);
      clearInterval(sampler);
      const rate = ((player.frames() - f0) * 1000) / (Date.now() - t0);
      await sleep(6000); // idle timeouts run out, garbage is collected
      const after = await rssMb(server.pid!);
      rows.push([name, before.toFixed(1), `${peak.toFixed(1)} / ${after.toFixed(1)}`, rate.toFixed(1), result]);
    }
    const ok = player.child.exitCode === null;
    console.log(`\nmss serve under attack (loopback, ${seconds} s per attack); an ffmpeg player decodes the live point throughout\n`);
    console.log('| attack | RSS before MB | RSS peak / after MB | player fps during | what happened |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(`\nplayer: ${ok ? 'still playing' : `exited (${player.child.exitCode})`}, ${player.frames()} frames, ${player.errors()} error lines on stderr; stream rate ${baseline.toFixed(1)} fps`);
  } finally {
    player.child.kill('SIGKILL');
    server.kill('SIGTERM');
    await sleep(500);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
