/**
 * One multicast output of a broadcast point: a member of the point's live fan-out like any player, but a relay
 * (joined at the live edge, no Fast Start burst, outside the player limits) whose framer makes MSB datagrams and
 * whose sink sends them to the group. The core paces it with the source, frames each packet once for it, and a
 * stream change reaches it as streamChange() + header() (bit 15 of wStreamID flips, the .nsc lists the header).
 *
 * When nothing goes out (the point is not broadcasting yet, between two encoder sessions, after the end) a
 * Beacon goes out every beaconIntervalMs so players that joined stay tuned (3.1.3.2); the same check, on the
 * core's one clock, re-joins the point after its stream ended or could not be joined.
 */
import dgram from 'node:dgram';
import type { MulticastOutputConfig } from '../../config/sections/multicast.js';
import type { MediaResolver, MediaTarget, PlayHandle, Sweeper } from '../../contracts/media.js';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { UdpSink } from '../shared/udp-sink.js';
import { buildBeacon } from './codec.js';
import { FormatBook } from './formats.js';
import { MsbFramer } from './framer.js';

/** wait before joining again after the stream ended, and the most between failed attempts */
const REJOIN_MS = 1000;
const MAX_RETRY_MS = 10_000;

export interface MsbSenderOptions {
  point: string;
  config: MulticastOutputConfig;
  resolver: MediaResolver;
  sweeper: Sweeper;
  log: Logger;
}

export interface MsbSenderStatus {
  group: string;
  port: number;
  state: 'stopped' | 'waiting' | 'joining' | 'sending';
  datagrams: number;
  bytes: number;
  beacons: number;
  parity: number;
  sendErrors: number;
  joins: number;
  formats: number;
  lastError?: string;
}

export class MsbSender {
  readonly formats = new FormatBook();
  private readonly framer: MsbFramer;
  private socket: dgram.Socket | null = null;
  private sink: UdpSink | null = null;
  private handle: PlayHandle | null = null;
  private joining = false;
  private retryAt = 0;
  private retryMs = REJOIN_MS;
  private removeSweep: (() => void) | null = null;
  private lastDatagrams = -1;
  private quietSince = 0;
  private lastError: string | undefined;
  private stopped = true;
  private readonly totals = { datagrams: 0, bytes: 0, beacons: 0, sendErrors: 0, joins: 0 };
  private readonly log: Logger;

  constructor(private readonly opts: MsbSenderOptions) {
    this.log = opts.log;
    this.framer = new MsbFramer({ name: `msb:${opts.config.group}:${opts.config.port}`, span: opts.config.fecSpan, formats: this.formats, log: opts.log });
  }

  get config(): MulticastOutputConfig {
    return this.opts.config;
  }

  /** Opens the socket (bound to the interface address when one is set) and starts beaconing and joining. */
  async start(): Promise<void> {
    const c = this.opts.config;
    const socket = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new MssError('unavailable', `multicast output ${c.group}:${c.port} of ${this.opts.point}: ${err.message}`)));
      socket.bind({ address: c.interface || undefined, port: 0 }, () => resolve());
    }).catch((err) => {
      socket.close();
      throw err;
    });
    try {
      socket.setMulticastTTL(c.ttl);
      socket.setMulticastLoopback(c.loopback);
      if (c.interface) socket.setMulticastInterface(c.interface);
    } catch (err) {
      socket.close();
      throw new MssError('unavailable', `multicast output ${c.group}:${c.port} of ${this.opts.point}: ${(err as Error).message}`);
    }
    socket.on('error', (err) => this.sendFailed(err));
    this.socket = socket;
    this.stopped = false;
    this.quietSince = performance.now();
    this.removeSweep = this.opts.sweeper.addSweep((now) => this.sweep(now));
    this.log.info('msb.output-started', { point: this.opts.point, group: c.group, port: c.port, ttl: c.ttl, interface: c.interface || undefined, fecSpan: c.fecSpan });
    void this.join();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.removeSweep?.();
    this.removeSweep = null;
    const handle = this.handle;
    this.handle = null;
    handle?.stop('stopped');
    this.sink?.destroy('stopped');
    this.sink = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  /** the output is in the point's fan-out now */
  get sending(): boolean {
    return this.handle !== null;
  }

  status(): MsbSenderStatus {
    const live = this.sink?.stats;
    return {
      group: this.opts.config.group,
      port: this.opts.config.port,
      state: this.stopped ? 'stopped' : this.handle ? 'sending' : this.joining ? 'joining' : 'waiting',
      datagrams: this.totals.datagrams + (live?.datagrams ?? 0),
      bytes: this.totals.bytes + (live?.bytes ?? 0),
      beacons: this.totals.beacons,
      parity: this.framer.counters.parity,
      sendErrors: this.totals.sendErrors + (live?.errors ?? 0),
      joins: this.totals.joins,
      formats: this.formats.size,
      lastError: this.lastError,
    };
  }

  /** the point this output sends */
  async currentTarget(): Promise<MediaTarget> {
    return this.opts.resolver.resolve(`/${encodeURIComponent(this.opts.point)}`);
  }

  private sweep(now: number): void {
    if (this.stopped || !this.socket) return;
    // a Beacon when nothing went out for the interval (datagrams of the stream count as activity)
    const sent = this.status().datagrams;
    if (sent !== this.lastDatagrams) {
      this.lastDatagrams = sent;
      this.quietSince = now;
    } else if (now - this.quietSince >= this.opts.config.beaconIntervalMs) {
      this.quietSince = now;
      this.beacon();
    }
    if (!this.handle && !this.joining && now >= this.retryAt) void this.join();
  }

  private beacon(): void {
    const c = this.opts.config;
    try {
      this.socket!.send(buildBeacon(), c.port, c.group, (err) => {
        if (err) this.sendFailed(err);
        else this.totals.beacons++;
      });
    } catch (err) {
      this.sendFailed(err as Error);
    }
  }

  private sendFailed(err: Error): void {
    this.totals.sendErrors++;
    // one line per distinct failure, not one per datagram
    if (this.lastError !== err.message) {
      this.lastError = err.message;
      this.log.warn('msb.send-failed', { point: this.opts.point, group: this.opts.config.group, port: this.opts.config.port, error: err.message });
    }
  }

  private async join(): Promise<void> {
    if (this.stopped || this.joining || this.handle || !this.socket) return;
    this.joining = true;
    const c = this.opts.config;
    try {
      const target = await this.currentTarget();
      if (target.kind !== 'broadcast') throw new MssError('invalid-config', `publishing point ${this.opts.point} is not a broadcast: it cannot have a multicast output`);
      await target.describe(); // starts a demand point; waits a while for a header
      if (this.stopped || !this.socket) return;
      const sink = new UdpSink({ socket: this.socket, address: c.group, port: c.port, onError: (err) => this.sendFailed(err) });
      const handle = await target.play({ role: 'relay', sendHeader: true }, this.framer, sink, {
        protocol: 'msb',
        remote: `${c.group}:${c.port}`,
        url: `/${this.opts.point}.nsc`,
        userAgent: 'mss multicast output',
      });
      if (this.stopped) {
        handle.stop('stopped');
        return;
      }
      this.sink = sink;
      this.handle = handle;
      this.totals.joins++;
      this.retryMs = REJOIN_MS;
      if (this.lastError) this.log.info('msb.output-joined', { point: this.opts.point, group: c.group, port: c.port });
      this.lastError = undefined;
      void handle.ended.then((stats) => {
        if (this.handle !== handle) return;
        this.totals.datagrams += sink.stats.datagrams;
        this.totals.bytes += sink.stats.bytes;
        this.totals.sendErrors += sink.stats.errors;
        this.handle = null;
        this.sink = null;
        this.retryAt = performance.now() + REJOIN_MS;
        this.log.info('msb.output-idle', { point: this.opts.point, group: c.group, port: c.port, reason: stats.endReason, packets: stats.packetsSent });
      });
    } catch (err) {
      const e = toMssError(err, 'unavailable');
      if (e.message !== this.lastError) this.log.warn('msb.output-waiting', { point: this.opts.point, group: c.group, port: c.port, error: e });
      this.lastError = e.message;
      this.retryAt = performance.now() + this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    } finally {
      this.joining = false;
    }
  }
}
