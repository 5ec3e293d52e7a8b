/**
 * Pieces of the MMS client that hold no socket: the ASF file header put back together from its Data packets, the
 * stream choice and the StreamSwitch entries that say it, the incarnation counters.
 */
import { MssError } from '../../core/errors.js';
import type { AsfHeader } from '../../asf/header.js';
import { selectStreamsForBitrate } from '../shared/stream-choice.js';
import { AF_HEADER_LAST, AF_HEADER_WHOLE, type MmsDataPacket } from './codec.js';
import type { StreamSwitchEntry } from './messages.js';

export interface MmsClientCredentials {
  user: string;
  password: string;
}

/** an ASF header larger than this is refused (real ones are a few KiB) */
export const MAX_CLIENT_HEADER_BYTES = 4 * 1024 * 1024;
const MAX_HEADER_PIECES = 1024;

/**
 * Collects header Data packets by LocationId (over UDP they may come out of order or twice) until the last piece
 * (AFFlags 0x08/0x0C) and every piece before it are there, or the expected size is reached.
 */
export class HeaderAssembler {
  private readonly pieces = new Map<number, Buffer>();
  private last = -1;
  private size = 0;

  constructor(private readonly expectedSize: number) {}

  /** adds a piece; true when the header is complete */
  add(d: MmsDataPacket): boolean {
    if (d.locationId >= MAX_HEADER_PIECES) throw new MssError('malformed', `MMS header piece ${d.locationId}: more than ${MAX_HEADER_PIECES} pieces`);
    if (!this.pieces.has(d.locationId)) {
      this.size += d.payload.length;
      if (this.size > MAX_CLIENT_HEADER_BYTES) throw new MssError('too-large', `MMS header over ${MAX_CLIENT_HEADER_BYTES} bytes`);
      this.pieces.set(d.locationId, Buffer.from(d.payload));
    }
    if (d.afFlags === AF_HEADER_LAST || d.afFlags === AF_HEADER_WHOLE) this.last = d.locationId;
    if (this.last >= 0) {
      for (let i = 0; i <= this.last; i++) if (!this.pieces.has(i)) return false;
      return true;
    }
    return this.expectedSize > 0 && this.size >= this.expectedSize && this.contiguous();
  }

  private contiguous(): boolean {
    for (let i = 0; i < this.pieces.size; i++) if (!this.pieces.has(i)) return false;
    return true;
  }

  bytes(): Buffer {
    const n = this.last >= 0 ? this.last + 1 : this.pieces.size;
    return Buffer.concat(Array.from({ length: n }, (_, i) => this.pieces.get(i)!));
  }
}

/** The streams to ask for: the ones named (they must exist), the best fit for a bit-rate budget, or all. */
export function chooseStreams(header: AsfHeader, streams: readonly number[] | undefined, maxBitrate: number | undefined, url: URL): number[] {
  if (streams && streams.length > 0) {
    const known = new Set(header.streams.map((s) => s.number));
    const missing = streams.filter((n) => !known.has(n));
    if (missing.length > 0) {
      throw new MssError('invalid-argument', `stream ${missing.join(', ')} not in ${url.pathname}; it has ${header.streams.map((s) => `${s.number} (${s.type} ${s.codec} ${s.bitrate} bps)`).join(', ')}`);
    }
    return [...streams];
  }
  if (maxBitrate !== undefined) return selectStreamsForBitrate(header, maxBitrate);
  return header.streams.map((s) => s.number);
}

/**
 * The complete selection state (3.1.4.2): every stream of the header, on (0xFFFF → n, thinning 0) or off
 * (n → 0xFFFF).
 */
export function streamSwitchEntries(header: AsfHeader, selected: readonly number[]): StreamSwitchEntry[] {
  const on = new Set(selected);
  return header.streams.map((s) => (on.has(s.number) ? { source: 0xffff, destination: s.number, thinning: 0 } : { source: s.number, destination: 0xffff, thinning: 0 }));
}

/** the incarnation counters of the spec's client (3.1.1): headers 1..8, plays and opens 9..0xFE */
export class Incarnations {
  private header = 1;
  private play = 9;
  nextHeader(): number {
    const v = this.header;
    this.header = v >= 8 ? 1 : v + 1;
    return v;
  }
  nextPlay(): number {
    const v = this.play;
    this.play = v >= 0xfe ? 9 : v + 1;
    return v;
  }
}
