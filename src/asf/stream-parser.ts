/**
 * Incremental parser for an ASF byte stream as ffmpeg writes it to a pipe: either plain ASF (`-f asf`:
 * Header Object, Data Object head, packets, maybe index objects at the end, maybe a new Header Object
 * after a restart) or the chunked `-f asf_stream` form (`$H`/`$D`/`$E` frames with a 12-byte head).
 * Bounded: it holds at most one header or one packet (plus the caller's current chunk); objects it does
 * not need (indexes) are skipped without being buffered.
 * After it throws, the stream is out of sync: create a new parser (or call reset()).
 */
import { MssError } from '../core/errors.js';
import { ASF_GUID_BYTES, guidEquals, guidFromBytes, guidName } from './guid.js';
import { DATA_OBJECT_HEAD_SIZE, HEADER_OBJECT_FIXED, MAX_PACKET_SIZE, parseDataObjectHead, parseHeaderObject, type AsfHeader } from './header.js';
import { parseDataPacket } from './packet.js';

export type AsfStreamEvent =
  | { type: 'header'; header: AsfHeader; headerBytes: Buffer }
  | { type: 'packet'; packet: Buffer };

export interface AsfStreamParserOptions {
  /** largest Header Object accepted; default 1 MiB */
  maxHeaderBytes?: number;
  /** fully parse every packet (default true); false checks only that it has the right size */
  validatePackets?: boolean;
}

type Mode = 'unknown' | 'plain' | 'framed';
const TOP_LEVEL_AFTER_DATA = new Set(['SimpleIndex', 'Index', 'MediaObjectIndex', 'TimecodeIndex']);
const FRAME_TYPES = new Set([0x43, 0x44, 0x45, 0x48, 0x4d]); // C D E H M

export class AsfStreamParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** absolute stream offset of buf[0] */
  private base = 0;
  private mode: Mode = 'unknown';
  private header: AsfHeader | null = null;
  private packetSize = 0;
  /** plain mode: bytes of an unneeded top-level object still to skip */
  private skipping = 0;
  /** framed mode: `$H` payload bytes gathered so far */
  private headerParts: Buffer[] = [];
  private headerPartsBytes = 0;
  private readonly maxHeader: number;
  private readonly validate: boolean;

  constructor(opts: AsfStreamParserOptions = {}) {
    this.maxHeader = opts.maxHeaderBytes ?? 1024 * 1024;
    this.validate = opts.validatePackets ?? true;
  }

  /** The last header seen, or null before the first. */
  get currentHeader(): AsfHeader | null {
    return this.header;
  }

  /** Bytes held while waiting for the rest of a header or packet. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.headerPartsBytes;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.base = 0;
    this.mode = 'unknown';
    this.header = null;
    this.packetSize = 0;
    this.skipping = 0;
    this.headerParts = [];
    this.headerPartsBytes = 0;
  }

  push(chunk: Buffer): AsfStreamEvent[] {
    if (this.pos >= this.buf.length) {
      this.base += this.buf.length;
      this.buf = chunk;
    } else {
      this.base += this.pos;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
    const events: AsfStreamEvent[] = [];
    while (this.step(events)) {
      /* consume everything complete */
    }
    if (this.pos >= this.buf.length) {
      this.base += this.buf.length;
      this.buf = Buffer.alloc(0);
      this.pos = 0;
    }
    return events;
  }

  private get avail(): number {
    return this.buf.length - this.pos;
  }

  private at(rel = 0): number {
    return this.base + this.pos + rel;
  }

  private fail(code: 'malformed' | 'too-large', message: string, rel = 0): never {
    throw new MssError(code, `ASF stream at byte ${this.at(rel)}: ${message}`, { object: 'AsfStream', offset: this.at(rel) });
  }

  private step(events: AsfStreamEvent[]): boolean {
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, this.avail);
      this.pos += n;
      this.skipping -= n;
      return n > 0 && this.avail > 0;
    }
    if (this.mode === 'unknown') {
      if (this.avail < 2) return false;
      const b0 = this.buf[this.pos]!;
      if ((b0 === 0x24 || b0 === 0xa4) && FRAME_TYPES.has(this.buf[this.pos + 1]!)) this.mode = 'framed';
      else if (b0 === ASF_GUID_BYTES.Header[0]) this.mode = 'plain';
      else this.fail('malformed', `starts with 0x${b0.toString(16).padStart(2, '0')}, neither an ASF Header Object nor a $H frame`);
    }
    return this.mode === 'plain' ? this.stepPlain(events) : this.stepFramed(events);
  }

  // ---- plain ASF ----

  private stepPlain(events: AsfStreamEvent[]): boolean {
    if (!this.header) return this.readPlainHeader(events);
    // at a packet boundary: a top-level object (new header after a restart, index at the end) or a packet
    if (this.avail >= 16) {
      const b0 = this.buf[this.pos]!;
      if (b0 === ASF_GUID_BYTES.Header[0] && guidEquals(this.buf, this.pos, ASF_GUID_BYTES.Header)) return this.readPlainHeader(events);
      const name = guidName(guidFromBytes(this.buf, this.pos));
      if (TOP_LEVEL_AFTER_DATA.has(name)) {
        if (this.avail < 24) return false;
        const size = this.buf.readBigUInt64LE(this.pos + 16);
        if (size < 24n) this.fail('malformed', `${name} object size ${size} is smaller than its 24-byte head`);
        if (size > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('too-large', `${name} object size ${size} is absurd`);
        this.skipping = Number(size);
        return true;
      }
    } else if (this.avail < Math.min(16, this.packetSize) || this.avail < this.packetSize) {
      return false;
    }
    if (this.avail < this.packetSize) return false;
    this.emitPacket(events, this.buf.subarray(this.pos, this.pos + this.packetSize));
    this.pos += this.packetSize;
    return true;
  }

  private readPlainHeader(events: AsfStreamEvent[]): boolean {
    if (this.avail < 24) return false;
    if (!guidEquals(this.buf, this.pos, ASF_GUID_BYTES.Header)) {
      this.fail('malformed', `expected the ASF Header Object, found GUID ${guidFromBytes(this.buf, this.pos)}`);
    }
    const size64 = this.buf.readBigUInt64LE(this.pos + 16);
    if (size64 < BigInt(HEADER_OBJECT_FIXED)) this.fail('malformed', `Header Object size ${size64} is smaller than its 30-byte fixed part`);
    if (size64 > BigInt(this.maxHeader)) this.fail('too-large', `Header Object size ${size64} exceeds the ${this.maxHeader}-byte limit`);
    const size = Number(size64);
    if (this.avail < size + DATA_OBJECT_HEAD_SIZE) return false;
    const bytes = Buffer.from(this.buf.subarray(this.pos, this.pos + size + DATA_OBJECT_HEAD_SIZE));
    this.acceptHeader(events, bytes);
    this.pos += size + DATA_OBJECT_HEAD_SIZE;
    return true;
  }

  private acceptHeader(events: AsfStreamEvent[], bytes: Buffer): void {
    let header: AsfHeader;
    try {
      header = parseHeaderObject(bytes, 0);
      parseDataObjectHead(bytes, header.raw.length);
    } catch (err) {
      if (err instanceof MssError) {
        throw new MssError(err.code, `ASF stream header at byte ${this.at()}: ${err.message}`, { ...err.detail, streamOffset: this.at() });
      }
      throw err;
    }
    this.header = header;
    this.packetSize = header.fileProperties.packetSize;
    events.push({ type: 'header', header, headerBytes: bytes.subarray(0, header.raw.length + DATA_OBJECT_HEAD_SIZE) });
  }

  private emitPacket(events: AsfStreamEvent[], bytes: Buffer): void {
    const packet = Buffer.alloc(this.packetSize);
    bytes.copy(packet, 0, 0, Math.min(bytes.length, this.packetSize));
    if (this.validate) {
      try {
        parseDataPacket(packet, this.packetSize);
      } catch (err) {
        if (err instanceof MssError) {
          throw new MssError(err.code, `ASF stream packet at byte ${this.at()}: ${err.message}`, { ...err.detail, streamOffset: this.at() });
        }
        throw err;
      }
    }
    events.push({ type: 'packet', packet });
  }

  // ---- chunked ($H/$D/$E) as written by ffmpeg's asf_stream muxer ----

  private stepFramed(events: AsfStreamEvent[]): boolean {
    if (this.avail < 4) return false;
    const b0 = this.buf[this.pos]!;
    const type = this.buf[this.pos + 1]!;
    if ((b0 !== 0x24 && b0 !== 0xa4) || !FRAME_TYPES.has(type)) {
      this.fail('malformed', `expected a $H/$D/$E/$C/$M frame, found 0x${b0.toString(16)} 0x${type.toString(16)}`);
    }
    const len = this.buf.readUInt16LE(this.pos + 2);
    if (this.avail < 4 + len) return false;
    const frame = this.buf.subarray(this.pos + 4, this.pos + 4 + len);
    const letter = String.fromCharCode(type);
    if (letter === 'H' || letter === 'D' || letter === 'M') {
      if (len < 8) this.fail('malformed', `$${letter} frame length ${len} is shorter than its 8-byte data header`);
      const payload = frame.subarray(8);
      if (letter === 'H') this.addHeaderPart(events, payload, frame[5]!);
      else if (letter === 'D') {
        if (!this.header) this.fail('malformed', '$D frame before any $H header');
        if (payload.length > this.packetSize) this.fail('malformed', `$D payload of ${payload.length} bytes exceeds the packet size ${this.packetSize}`);
        this.emitPacket(events, payload);
      }
    }
    // $E (end), $C (stream change) and $M (metadata) carry nothing the packet stream needs
    this.pos += 4 + len;
    return true;
  }

  private addHeaderPart(events: AsfStreamEvent[], payload: Buffer, afFlags: number): void {
    const first = afFlags === 0x0c || afFlags === 0x04;
    if (first) {
      this.headerParts = [];
      this.headerPartsBytes = 0;
    }
    if (this.headerPartsBytes + payload.length > this.maxHeader + DATA_OBJECT_HEAD_SIZE) {
      this.fail('too-large', `$H header exceeds the ${this.maxHeader}-byte limit`);
    }
    this.headerParts.push(Buffer.from(payload));
    this.headerPartsBytes += payload.length;
    const whole = Buffer.concat(this.headerParts, this.headerPartsBytes);
    if (whole.length < 24) return;
    if (!guidEquals(whole, 0, ASF_GUID_BYTES.Header)) this.fail('malformed', `$H payload does not start with the ASF Header GUID`);
    const size = whole.readBigUInt64LE(16);
    if (size > BigInt(this.maxHeader)) this.fail('too-large', `Header Object size ${size} exceeds the ${this.maxHeader}-byte limit`);
    if (BigInt(whole.length) < size + BigInt(DATA_OBJECT_HEAD_SIZE)) return; // more $H fragments to come
    this.headerParts = [];
    this.headerPartsBytes = 0;
    this.acceptHeader(events, whole);
  }
}

/** Convenience: runs a whole buffer through a parser and returns every event. */
export function parseAsfStream(buf: Buffer, opts?: AsfStreamParserOptions): AsfStreamEvent[] {
  return new AsfStreamParser(opts).push(buf);
}

export { MAX_PACKET_SIZE };
