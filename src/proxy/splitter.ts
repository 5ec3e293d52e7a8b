/**
 * Live splitting: exactly one upstream connection per live URL, however many consumers (pull points, a
 * reverse-proxied point's live URLs, and through them any number of players). A consumer subscribes and gets a
 * PulledStream (what the media core's pull source reads): the current header at once, the last `bufferMs` of
 * packets (so its first players get Fast Start without waiting), then every packet as it arrives.
 *
 * The splitter does not reconnect: when the upstream ends or fails, every subscription gets that end or error,
 * and each pull source reconnects with its backoff; the first one back opens the new upstream and the others
 * join it. The upstream closes when its last subscriber leaves.
 */
import { EventEmitter } from 'node:events';
import { readSendTime } from '../asf/packet.js';
import { toMssError, type MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PulledStream } from '../media/pull-source.js';
import type { PlaySession } from '../player/protocol-client.js';
import { canonicalUrl, type UpstreamConnector } from './upstream.js';

/** bytes of packets kept for late subscribers, whatever bufferMs says */
const MAX_BUFFER_BYTES = 8 * 1024 * 1024;

class Subscription extends EventEmitter implements PulledStream {
  closed = false;

  constructor(private readonly upstream: Upstream) {
    super();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeAllListeners();
    this.upstream.unsubscribe(this);
  }
}

export interface UpstreamStatus {
  url: string;
  state: 'connecting' | 'playing' | 'ended';
  subscribers: number;
  since: string;
  packetsIn: number;
  bytesIn: number;
}

class Upstream {
  readonly subscribers = new Set<Subscription>();
  private session: PlaySession | null = null;
  private header: Buffer | null = null;
  private ring: Array<{ packet: Buffer; sendTime: number }> = [];
  private ringBytes = 0;
  state: UpstreamStatus['state'] = 'connecting';
  readonly since = Date.now();
  packetsIn = 0;
  bytesIn = 0;

  constructor(
    readonly url: string,
    private readonly splitter: LiveSplitter,
    private readonly bufferMs: number,
  ) {}

  open(connector: UpstreamConnector, log: Logger): void {
    connector.open(this.url).then(
      (session) => {
        if (this.state === 'ended') {
          session.close();
          return;
        }
        this.session = session;
        this.state = 'playing';
        log.info('splitter.upstream-open', { url: this.url, protocol: session.protocol, subscribers: this.subscribers.size });
        session.on('header', (bytes) => this.onHeader(bytes));
        session.on('packet', (packet) => this.onPacket(packet));
        session.on('end', (reason) => this.finish(log, 'end', reason));
        session.on('error', (err) => this.finish(log, 'error', err));
      },
      (err) => this.finish(log, 'error', toMssError(err, 'unavailable')),
    );
  }

  subscribe(): Subscription {
    const sub = new Subscription(this);
    this.subscribers.add(sub);
    if (this.header) {
      // a late consumer: the header and the recent packets, once it has attached its listeners
      const header = this.header;
      const backlog = this.ring.map((r) => r.packet);
      setImmediate(() => {
        if (sub.closed) return;
        sub.emit('header', header);
        for (const p of backlog) if (!sub.closed) sub.emit('packet', p);
      });
    }
    return sub;
  }

  unsubscribe(sub: Subscription): void {
    this.subscribers.delete(sub);
    if (this.subscribers.size === 0) this.close();
  }

  close(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.session?.close();
    this.session = null;
    this.ring = [];
    this.splitter.forget(this);
  }

  private onHeader(bytes: Buffer): void {
    if (this.header?.equals(bytes)) return;
    this.header = Buffer.from(bytes);
    // packets of the previous header mean nothing under the new one
    this.ring = [];
    this.ringBytes = 0;
    for (const s of [...this.subscribers]) s.emit('header', this.header);
  }

  private onPacket(packet: Buffer): void {
    if (!this.header) return;
    this.packetsIn++;
    this.bytesIn += packet.length;
    this.remember(packet);
    for (const s of [...this.subscribers]) s.emit('packet', packet);
  }

  private remember(packet: Buffer): void {
    if (this.bufferMs <= 0) return;
    let sendTime: number;
    try {
      sendTime = readSendTime(packet);
    } catch {
      return; // a packet the channel will refuse: nothing to replay
    }
    this.ring.push({ packet, sendTime });
    this.ringBytes += packet.length;
    let drop = 0;
    while (drop < this.ring.length - 1 && (this.ringBytes > MAX_BUFFER_BYTES || sendTime - this.ring[drop]!.sendTime > this.bufferMs)) {
      this.ringBytes -= this.ring[drop]!.packet.length;
      drop++;
    }
    if (drop > 0) this.ring = this.ring.slice(drop);
  }

  private finish(log: Logger, kind: 'end' | 'error', what: number | MssError): void {
    if (this.state === 'ended') return;
    const subs = [...this.subscribers];
    this.close();
    if (kind === 'end') log.info('splitter.upstream-ended', { url: this.url, reason: what, subscribers: subs.length });
    else log.warn('splitter.upstream-failed', { url: this.url, error: what, subscribers: subs.length });
    for (const s of subs) {
      if (s.closed) continue;
      if (kind === 'end') s.emit('end', what as number);
      else s.emit('error', what as MssError);
    }
  }

  status(): UpstreamStatus {
    return { url: this.url, state: this.state, subscribers: this.subscribers.size, since: new Date(this.since).toISOString(), packetsIn: this.packetsIn, bytesIn: this.bytesIn };
  }
}

export interface SplitterOptions {
  connector: UpstreamConnector;
  log: Logger;
  bufferMs: number;
}

export class LiveSplitter {
  private readonly upstreams = new Map<string, Upstream>();
  /** upstream connections opened over the process's life (one per URL at a time) */
  opened = 0;
  /** bytes received from upstreams that have closed (the open ones add theirs in stats()) */
  private closedBytes = 0;

  constructor(private readonly o: SplitterOptions) {}

  /** a consumer of the live URL: shares the one upstream of that URL (opening it if there is none) */
  subscribe(rawUrl: string): PulledStream {
    const url = canonicalUrl(rawUrl);
    let up = this.upstreams.get(url);
    if (!up) {
      up = new Upstream(url, this, this.o.bufferMs);
      this.upstreams.set(url, up);
      this.opened++;
      up.open(this.o.connector, this.o.log);
    }
    return up.subscribe();
  }

  forget(up: Upstream): void {
    if (this.upstreams.get(up.url) === up) this.upstreams.delete(up.url);
    this.closedBytes += up.bytesIn;
  }

  status(): UpstreamStatus[] {
    return [...this.upstreams.values()].map((u) => u.status());
  }

  statusOf(url: string): UpstreamStatus | undefined {
    return this.upstreams.get(canonicalUrl(url))?.status();
  }

  stats(): { upstreams: number; subscribers: number; opened: number; bytesIn: number } {
    let subscribers = 0;
    let bytes = this.closedBytes;
    for (const u of this.upstreams.values()) {
      subscribers += u.subscribers.size;
      bytes += u.bytesIn;
    }
    return { upstreams: this.upstreams.size, subscribers, opened: this.opened, bytesIn: bytes };
  }

  /** closes every upstream (at shutdown, after the points that subscribed have stopped) */
  closeAll(): void {
    for (const u of [...this.upstreams.values()]) u.close();
  }
}

