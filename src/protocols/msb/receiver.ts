/**
 * An MS-MSB receiver: joins the group of an `.nsc` station on its port and turns what arrives into ASF packets
 * (through MsbAssembler: order, parity recovery, counters). Datagrams from a source other than the station's
 * Multicast Adapter are dropped and counted as spoofed (MS-MSB 5.1). A cycle held for its parity is given out
 * when the group goes quiet, so the last packets before a pause are not kept back.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { MssError } from '../../core/errors.js';
import { parseHeaderObject } from '../../asf/header.js';
import { MsbAssembler, type AssemblerCounters } from './assembler.js';
import type { NscFormat } from './nsc.js';

/**
 * give out a held cycle after this much silence: longer than the gaps of a live stream's batches (the server
 * writes every 200 ms) and of a low-rate stream's packets, so a cycle normally waits for its parity
 */
const FLUSH_AFTER_MS = 1000;
/** the socket buffer asked for: a second of a few-Mbit/s stream */
const RECEIVE_BUFFER_BYTES = 1024 * 1024;

export interface MsbReceiverOptions {
  group: string;
  port: number;
  /** local IPv4 address of the interface to join on (undefined: the route's) */
  interface?: string;
  /** only datagrams from this address are taken (the .nsc Multicast Adapter); undefined: any */
  source?: string;
  formats: readonly NscFormat[];
  defaultEcc?: number;
}

export interface MsbReceiverCounters extends AssemblerCounters {
  /** datagrams from a source other than the Multicast Adapter */
  spoofed: number;
  bytes: number;
}

export interface MsbReceiverEvents {
  beacon: [];
  /** a new stream starts with this header (Header Object + Data Object head) */
  stream: [formatId: number, header: Buffer, streamId: number];
  packet: [packet: Buffer, sequence: number, recovered: boolean];
  /** a packet of a Format ID the station does not list (once per wStreamID): the .nsc may be out of date */
  'unknown-format': [streamId: number];
  error: [err: MssError];
}

export class MsbReceiver extends EventEmitter<MsbReceiverEvents> {
  private socket: dgram.Socket | null = null;
  private readonly formats = new Map<number, { header: Buffer; packetSize: number }>();
  private readonly assembler: MsbAssembler;
  private readonly extra = { spoofed: 0, bytes: 0 };
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly unknownSeen = new Set<number>();
  private closed = false;

  constructor(private readonly opts: MsbReceiverOptions) {
    super();
    this.setFormats(opts.formats);
    this.assembler = new MsbAssembler({
      packetSizeOf: (id) => this.formats.get(id)?.packetSize,
      defaultEcc: opts.defaultEcc,
      onStream: (formatId, streamId) => this.emit('stream', formatId, this.formats.get(formatId)!.header, streamId),
      onPacket: (packet, sequence, recovered) => this.emit('packet', packet, sequence, recovered),
    });
  }

  get counters(): MsbReceiverCounters {
    return { ...this.assembler.counters, ...this.extra };
  }

  /** Replaces the known headers (a fresher .nsc). Formats whose header does not parse are left out. */
  setFormats(formats: readonly NscFormat[]): void {
    this.formats.clear();
    for (const f of formats) {
      try {
        const packetSize = parseHeaderObject(f.header).fileProperties.packetSize;
        if (packetSize > 0) this.formats.set(f.formatId, { header: f.header, packetSize });
      } catch {
        // a Format entry that is not an ASF header: its packets will count as unknown
      }
    }
    this.unknownSeen.clear();
  }

  get knownFormats(): number {
    return this.formats.size;
  }

  /** Binds the port and joins the group; rejects with MssError('unavailable') when the system refuses. */
  async start(): Promise<void> {
    const { group, port } = this.opts;
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const fail = (what: string, err: Error) => new MssError('unavailable', `cannot join multicast group ${group}:${port}${this.opts.interface ? ` on ${this.opts.interface}` : ''}: ${what}: ${err.message}`);
    // bound to the group address the socket gets this group's datagrams only (Linux); some systems refuse that
    const bindTo = (address: string | undefined) =>
      new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        socket.once('error', onError);
        socket.bind({ port, address, exclusive: false }, () => {
          socket.off('error', onError);
          resolve();
        });
      });
    try {
      await bindTo(group).catch(() => bindTo(undefined));
    } catch (err) {
      socket.close();
      throw fail('bind', err as Error);
    }
    try {
      socket.addMembership(group, this.opts.interface);
      socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch (err) {
      socket.close();
      throw fail('join', err as Error);
    }
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address));
    socket.on('error', (err) => this.emit('error', new MssError('unavailable', `multicast receiver ${group}:${port}: ${err.message}`, { lostConnection: true })));
    this.socket = socket;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const s = this.socket;
    this.socket = null;
    if (s) {
      try {
        s.dropMembership(this.opts.group, this.opts.interface);
      } catch {
        // already gone with the socket
      }
      s.close();
    }
  }

  /** the handling of one datagram (public for tests that feed datagrams without a network) */
  onDatagram(msg: Buffer, from: string): void {
    if (this.closed) return;
    this.extra.bytes += msg.length;
    if (this.opts.source && from !== this.opts.source) {
      this.extra.spoofed++;
      return;
    }
    const before = this.assembler.counters.unknownFormat;
    const kind = this.assembler.feed(msg);
    if (kind === 'beacon') this.emit('beacon');
    if (this.assembler.counters.unknownFormat !== before && msg.length >= 8) {
      const streamId = msg.readUInt16LE(4);
      if (!this.unknownSeen.has(streamId) && this.unknownSeen.size < 64) {
        this.unknownSeen.add(streamId);
        this.emit('unknown-format', streamId);
      }
    }
    if (this.flushTimer) this.flushTimer.refresh();
    else {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.assembler.flush();
      }, FLUSH_AFTER_MS);
      this.flushTimer.unref();
    }
  }
}
