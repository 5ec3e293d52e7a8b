/** Shared pieces for device-agent tests: a config pointing at a test broker and fake modules (never a fake broker). */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { validateConfig, type MssConfig } from '../../src/config/index.js';
import { MssError } from '../../src/core/errors.js';
import { startMosquitto, type Mosquitto, type MosquittoOptions } from './mosquitto.js';
import type { AppModule, ModuleCommand, ModuleHealth, ReconfigureResult } from '../../src/core/module.js';

export async function tempDir(prefix = 'mss-device-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A real mosquitto and a temp dir for one test, both removed when the test ends. */
export async function brokerForTest(t: { teardown(fn: () => Promise<void>): void }, opts: MosquittoOptions = {}): Promise<{ broker: Mosquitto; tmp: { dir: string; remove(): Promise<void> } }> {
  const broker = await startMosquitto(opts);
  const tmp = await tempDir();
  t.teardown(async () => {
    await broker.stop();
    await tmp.remove();
  });
  return { broker, tmp };
}

/** device ids unique per test, so parallel test processes never share a client id */
export function uniqueDeviceId(): string {
  return `t-${randomBytes(5).toString('hex')}`;
}

export function agentConfig(opts: { url: string; dataDir: string; deviceId?: string; protocolVersion?: 4 | 5; extra?: Record<string, unknown>; mqtt?: Record<string, unknown> }): MssConfig {
  return validateConfig({
    dataDir: opts.dataDir,
    server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: opts.dataDir }] },
    mqtt: {
      url: opts.url,
      deviceId: opts.deviceId ?? uniqueDeviceId(),
      protocolVersion: opts.protocolVersion ?? 5,
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
      keepaliveSec: 5,
      stateIntervalMs: 500,
      telemetryIntervalMs: 1000,
      ...opts.mqtt,
    },
    ...opts.extra,
  });
}

/** A stand-in media server module: records reconfigures, offers a command, reports health and telemetry. */
export class FakeServerModule implements AppModule {
  readonly name = 'server';
  points: string[];
  reconfigures = 0;
  starts = 0;
  stops = 0;
  constructor(config: MssConfig) {
    this.points = config.server.publishingPoints.map((p) => p.name);
  }
  async start() {
    this.starts++;
  }
  async stop() {
    this.stops++;
  }
  healthy = true;
  health(): ModuleHealth {
    return this.healthy ? { ok: true, state: 'running', detail: { points: this.points } } : { ok: false, state: 'degraded', detail: { points: this.points } };
  }
  players = 0;
  telemetry() {
    return { players: this.players, points: this.points.length };
  }
  async reconfigure(next: MssConfig, prev: MssConfig): Promise<ReconfigureResult> {
    this.reconfigures++;
    const a = JSON.stringify(prev.server);
    const b = JSON.stringify(next.server);
    if (a === b) return 'unchanged';
    this.points = next.server.publishingPoints.map((p) => p.name);
    return 'applied';
  }
  commands(): ModuleCommand[] {
    return [
      {
        name: 'echo',
        description: 'returns its args; {fail: true} fails',
        run: async (args) => {
          if (args.fail === true) throw new MssError('invalid-argument', 'args.fail asked for a failure');
          return { echoed: args };
        },
      },
    ];
  }
}
