/**
 * The multicast outputs of the server: one MsbSender per broadcast point whose config names a group. apply()
 * makes the running set match a config (at start and on every reconfigure): unchanged outputs keep running, the
 * others are stopped, replaced or started. Two points on one group:port, or a multicast output on a point that
 * requires a login (a multicast cannot be authenticated), are refused with an error line.
 */
import type { MulticastOutputConfig } from '../../config/sections/multicast.js';
import type { MediaResolver, Sweeper } from '../../contracts/media.js';
import { toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { MsbSender, type MsbSenderStatus } from './sender.js';

/** the part of a publishing point's config this needs */
export interface MulticastPointConfig {
  name: string;
  type: string;
  auth: { scheme: string };
  multicast?: MulticastOutputConfig;
}

export interface MulticastOutputsOptions {
  resolver: MediaResolver;
  sweeper: Sweeper;
  log: Logger;
}

export class MulticastOutputs {
  private readonly senders = new Map<string, MsbSender>();

  constructor(private readonly opts: MulticastOutputsOptions) {}

  get(point: string): MsbSender | undefined {
    return this.senders.get(point);
  }

  get size(): number {
    return this.senders.size;
  }

  async apply(points: readonly MulticastPointConfig[]): Promise<void> {
    const wanted = new Map<string, MulticastOutputConfig>();
    const groups = new Map<string, string>();
    for (const p of points) {
      const m = p.multicast;
      if (p.type !== 'broadcast' || !m || !m.group) continue;
      if (p.auth.scheme !== 'none') {
        this.opts.log.error('msb.output-refused', { point: p.name, reason: 'the point requires a login, which a multicast cannot ask for' });
        continue;
      }
      const key = `${m.group}:${m.port}`;
      const other = groups.get(key);
      if (other) {
        this.opts.log.error('msb.output-refused', { point: p.name, reason: `group ${key} is already the output of point ${other}` });
        continue;
      }
      groups.set(key, p.name);
      wanted.set(p.name, m);
    }
    for (const [name, sender] of [...this.senders]) {
      const m = wanted.get(name);
      if (m && JSON.stringify(m) === JSON.stringify(sender.config)) {
        wanted.delete(name);
        continue;
      }
      this.senders.delete(name);
      await sender.stop();
    }
    for (const [name, m] of wanted) {
      const sender = new MsbSender({ point: name, config: m, resolver: this.opts.resolver, sweeper: this.opts.sweeper, log: this.opts.log });
      try {
        await sender.start();
        this.senders.set(name, sender);
      } catch (err) {
        // one output that cannot open its socket must not keep the server (or the other outputs) from running
        this.opts.log.error('msb.output-failed', { point: name, group: m.group, port: m.port, error: toMssError(err) });
      }
    }
  }

  async stop(): Promise<void> {
    const all = [...this.senders.values()];
    this.senders.clear();
    await Promise.all(all.map((s) => s.stop()));
  }

  status(): Record<string, MsbSenderStatus> {
    return Object.fromEntries([...this.senders].map(([name, s]) => [name, s.status()]));
  }
}
