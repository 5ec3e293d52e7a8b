/**
 * A real mosquitto broker for tests and benchmarks: an ephemeral loopback port, a temporary config and
 * persistence directory (so retained messages survive `restart()`), stopped with the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Mosquitto {
  url: string;
  port: number;
  /** stops the broker (SIGTERM, then SIGKILL) and removes its directory */
  stop(): Promise<void>;
  /** stops and starts the broker on the same port (retained messages persist) */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** stops the broker without removing its state; `start()` brings it back */
  pause(): Promise<void>;
  start(): Promise<void>;
  readonly pid: number | undefined;
}

export interface MosquittoOptions {
  persistence?: boolean;
  /** extra lines for mosquitto.conf */
  extra?: string[];
}

const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms: ${stderr()}`);
}

/** brokers still running, killed when the test worker exits (one exit listener for all of them) */
const running = new Set<ChildProcess>();
let reaperInstalled = false;

function reapOnExit(c: ChildProcess): void {
  running.add(c);
  c.once('exit', () => running.delete(c));
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const b of running) b.kill('SIGKILL');
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-mosquitto-'));
  // started as root, mosquitto drops to its own user: it must still be able to write its persistence file
  await chmod(dir, 0o777);
  const conf = path.join(dir, 'mosquitto.conf');
  let lastPort = 0;
  let child: ChildProcess | undefined;
  let stderr = '';
  // While paused the port is held by a listener that drops every connection, so no other test's broker can
  // take it (agents would then reach the wrong broker) and clients see a down broker.
  let placeholder: net.Server | undefined;

  async function holdPort(port: number): Promise<void> {
    const srv = net.createServer((sock) => sock.destroy());
    await new Promise<void>((resolve) => {
      srv.once('error', () => resolve());
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    placeholder = srv.listening ? srv : undefined;
  }

  async function releasePort(): Promise<void> {
    const srv = placeholder;
    placeholder = undefined;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  async function launch(): Promise<void> {
    await releasePort();
    // retry on a port race (another process took the port between freePort() and bind)
    for (let tries = 0; tries < 5; tries++) {
      const port = lastPort || (await freePort());
      const lines = [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        `persistence ${opts.persistence === false ? 'false' : 'true'}`,
        `persistence_location ${dir}/`,
        'autosave_interval 1',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'max_queued_messages 100000',
        ...(opts.extra ?? []),
      ];
      await writeFile(conf, lines.join('\n') + '\n');
      stderr = '';
      const c = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      child = c;
      // a test worker that is killed (e.g. on a timeout) must not leave its broker behind
      reapOnExit(c);
      try {
        await waitForPort(port, c, 10_000, () => stderr);
        lastPort = port;
        return;
      } catch (err) {
        c.kill('SIGKILL');
        if (lastPort) throw err; // a restart must keep its port
        if (tries === 4) throw err;
      }
    }
  }

  async function halt(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => (clearTimeout(timer), resolve()));
      c.kill('SIGTERM');
    });
  }

  await launch();
  return {
    get url() {
      return `mqtt://127.0.0.1:${lastPort}`;
    },
    get port() {
      return lastPort;
    },
    get pid() {
      return child?.pid;
    },
    async stop() {
      await halt();
      await releasePort();
      await rm(dir, { recursive: true, force: true });
    },
    async restart(o = {}) {
      await halt();
      if (o.downMs) {
        await holdPort(lastPort);
        await new Promise((r) => setTimeout(r, o.downMs));
      }
      await launch();
    },
    async pause() {
      await halt();
      await holdPort(lastPort);
    },
    start: launch,
  };
}
