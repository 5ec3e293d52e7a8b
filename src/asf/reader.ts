/**
 * Bounds-checked little-endian reader used by every ASF parser (and the binary protocols' codecs, MMS among them).
 * Each read checks the remaining bytes and throws MssError('truncated') naming the structure, the field and the
 * absolute byte offset.
 */
import { MssError } from '../core/errors.js';
import { guidFromBytes } from './guid.js';

export class ByteReader {
  pos: number;

  /**
   * @param buf     the bytes
   * @param start   first readable byte
   * @param end     one past the last readable byte (must be <= buf.length)
   * @param what    name of the structure, for messages
   * @param base    absolute offset of buf[0] in the caller's input (for messages)
   */
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
    readonly what: string,
    readonly base = 0,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new MssError(
        'truncated',
        `${this.what}: ${field} at byte ${this.base + this.pos} needs ${n} bytes, ${Math.max(0, this.end - this.pos)} left`,
        { object: this.what, field, offset: this.base + this.pos },
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  i16(field: string): number {
    this.need(2, field);
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** a QWORD as a number (exact below 2^53, which every real count and size is) */
  u64AsNumber(field: string): number {
    this.need(8, field);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  f64(field: string): number {
    this.need(8, field);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  guid(field: string): string {
    this.need(16, field);
    const g = guidFromBytes(this.buf, this.pos);
    this.pos += 16;
    return g;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** UTF-16LE text of `n` bytes, trailing NULs removed. */
  utf16(n: number, field: string): string {
    return utf16Text(this.bytes(n, field));
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  fail(message: string, field: string, at = this.pos): never {
    throw new MssError('malformed', `${this.what}: ${field} at byte ${this.base + at}: ${message}`, {
      object: this.what,
      field,
      offset: this.base + at,
    });
  }
}

/** Decodes UTF-16LE, dropping an odd trailing byte and trailing NUL characters. */
export function utf16Text(b: Buffer): string {
  const even = b.length & ~1;
  let s = b.toString('utf16le', 0, even);
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0) end--;
  if (end !== s.length) s = s.slice(0, end);
  return s;
}

/** QWORD to number when it is a safe integer, else the given error. */
export function qwordToNumber(v: bigint, what: string, field: string, offset: number): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MssError('too-large', `${what}: ${field} at byte ${offset} is ${v}, beyond any sane value`, {
      object: what,
      field,
      offset,
    });
  }
  return Number(v);
}
