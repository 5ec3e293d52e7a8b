/**
 * The PlaySession every protocol client of the player is: a protocol's stream (WMSP, RTSP, MMS) emits describe,
 * header, packet, stream-change, end and error, and pauses, resumes and closes; this adapter gives the player those
 * under one interface. What differs per protocol is how its describe becomes PlaySessionInfo and how a log is sent.
 */
import { EventEmitter } from 'node:events';
import type { AsfHeader } from '../asf/header.js';
import type { MssError } from '../core/errors.js';
import type { PlaySession, PlaySessionEvents, PlaySessionInfo, PlaySessionStats } from './protocol-client.js';

/** what a protocol's client stream offers (its describe payload is D) */
export interface ProtocolStream<D> {
  on(event: 'describe', cb: (d: D) => void): unknown;
  on(event: 'header', cb: (bytes: Buffer, header: AsfHeader) => void): unknown;
  on(event: 'packet', cb: (packet: Buffer, info: { locationId: number }) => void): unknown;
  on(event: 'stream-change', cb: () => void): unknown;
  on(event: 'end', cb: (reason: number) => void): unknown;
  on(event: 'error', cb: (err: MssError) => void): unknown;
  readonly stats: PlaySessionStats;
  pause(): void;
  resume(): void;
  close(): void;
}

export class StreamPlaySession<D> extends EventEmitter<PlaySessionEvents> implements PlaySession {
  info: PlaySessionInfo | undefined;
  /** sends an MS-WMLOG XML log over the protocol; absent: the protocol has no way back to the server */
  readonly sendLog?: (xml: string) => Promise<number>;

  constructor(
    readonly protocol: string,
    private readonly stream: ProtocolStream<D>,
    toInfo: (d: D) => PlaySessionInfo,
    sendLog?: (xml: string) => Promise<number>,
  ) {
    super();
    stream.on('describe', (d) => {
      this.info = toInfo(d);
      this.emit('describe', this.info);
    });
    stream.on('header', (bytes, header) => this.emit('header', bytes, header));
    stream.on('packet', (packet, info) => this.emit('packet', packet, info));
    stream.on('stream-change', () => this.emit('stream-change'));
    stream.on('end', (reason) => this.emit('end', reason));
    stream.on('error', (err) => this.emit('error', err));
    this.sendLog = sendLog;
  }

  get stats(): PlaySessionStats {
    const s = this.stream.stats;
    return { bytesReceived: s.bytesReceived, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, lastLocationId: s.lastLocationId };
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  close(): void {
    this.stream.close();
  }
}
