/**
 * Test peer: a VISCA camera simulator on one end of a socat pseudo-terminal pair; the code under test opens the
 * other end with serialport. Modes: answering (ACK + completion, inquiry values), silent, garbage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';
import { buildAck, buildCompletion, buildError } from '../../../src/encoder/visca/codec.js';

export type CameraMode = 'answer' | 'silent' | 'garbage';

export interface CameraSim {
  /** the device the controller opens */
  controllerPath: string;
  mode: CameraMode;
  power: boolean;
  zoom: number;
  focus: 'auto' | 'manual';
  presets: Map<number, number>;
  /** every command packet received, hex */
  received: string[];
  stop(): Promise<void>;
}

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting for socat ptys');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startCameraSim(address = 1): Promise<CameraSim> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-visca-'));
  const a = path.join(dir, 'ctl');
  const b = path.join(dir, 'cam');
  const socat: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  await waitFor(() => existsSync(a) && existsSync(b), 10_000);
  const port = new SerialPort({ path: b, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const sim: CameraSim = {
    controllerPath: a,
    mode: 'answer',
    power: false,
    zoom: 0,
    focus: 'auto',
    presets: new Map(),
    received: [],
    async stop() {
      await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
      socat.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
  let held: number[] = [];
  port.on('data', (chunk: Buffer) => {
    for (const byte of chunk) {
      held.push(byte);
      if (byte !== 0xff) continue;
      const msg = Buffer.from(held);
      held = [];
      sim.received.push(msg.toString('hex'));
      if (sim.mode === 'silent') continue;
      if (sim.mode === 'garbage') {
        port.write(Buffer.from([0x13, 0x37, 0x42, 0x00, 0x99]));
        continue;
      }
      port.write(answer(sim, address, msg));
    }
  });
  return sim;
}

function answer(sim: CameraSim, address: number, msg: Buffer): Buffer {
  const body = [...msg.subarray(1, msg.length - 1)];
  const key = body.slice(0, 3).map((x) => x.toString(16).padStart(2, '0')).join('');
  if (body[0] === 0x09) {
    if (key === '090400') return buildCompletion(address, 0, [sim.power ? 0x02 : 0x03]);
    if (key === '090447') return buildCompletion(address, 0, [(sim.zoom >> 12) & 15, (sim.zoom >> 8) & 15, (sim.zoom >> 4) & 15, sim.zoom & 15]);
    if (key === '090438') return buildCompletion(address, 0, [sim.focus === 'auto' ? 0x02 : 0x03]);
    return buildError(address, 0, 0x02);
  }
  if (key === '010400') sim.power = body[3] === 0x02;
  else if (key === '010447') sim.zoom = (body[3]! << 12) | (body[4]! << 8) | (body[5]! << 4) | body[6]!;
  else if (key === '010407') sim.zoom = body[3] === 0x02 || (body[3]! & 0xf0) === 0x20 ? 0x4000 : body[3] === 0 ? sim.zoom : 0;
  else if (key === '010438') sim.focus = body[3] === 0x02 ? 'auto' : 'manual';
  else if (key === '01043f') {
    if (body[3] === 0x01) sim.presets.set(body[4]!, sim.zoom);
    else if (body[3] === 0x02) {
      if (!sim.presets.has(body[4]!)) return Buffer.concat([buildAck(address, 1), buildError(address, 1, 0x41)]);
      sim.zoom = sim.presets.get(body[4]!)!;
    }
  } else if (!['010601', '010604', '010408', '010001'].includes(key)) return buildError(address, 1, 0x02);
  return Buffer.concat([buildAck(address, 1), buildCompletion(address, 1)]);
}
