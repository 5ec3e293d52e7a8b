/**
 * Little-endian field reading and writing for MMS message bodies: every read is bounds-checked and names the
 * message and field it failed on (MssError 'truncated'), strings are UTF-16LE up to a NUL or the end of the body.
 */
import { ByteReader } from '../../asf/reader.js';
import { MssError } from '../../core/errors.js';

/** longest string read from a message (subscriberName, fileName, funnelName, URLs) */
export const MAX_STRING_CHARS = 4096;

/** ASF's bounded reader over a whole message body, plus the string forms MMS messages use. */
export class FieldReader extends ByteReader {
  constructor(buf: Buffer, what: string) {
    super(buf, 0, buf.length, what);
  }

  /**
   * A UTF-16LE string up to its NUL (consumed) or the end of the body (strings need not be terminated; a
   * trailing odd byte is padding). At most `maxChars` characters.
   */
  utf16z(field: string, maxChars = MAX_STRING_CHARS): string {
    let end = this.pos;
    while (end + 1 < this.buf.length && (this.buf[end] !== 0 || this.buf[end + 1] !== 0)) end += 2;
    const chars = (end - this.pos) / 2;
    if (chars > maxChars) throw new MssError('too-large', `${this.what}: ${field} is ${chars} characters, limit ${maxChars}`, { field });
    const text = this.buf.toString('utf16le', this.pos, end);
    this.pos = end + 1 < this.buf.length ? end + 2 : this.buf.length;
    return text;
  }

  /** exactly `chars` UTF-16 characters (a counted string whose last character should be the NUL) */
  utf16n(chars: number, field: string): string {
    if (chars > MAX_STRING_CHARS) throw new MssError('too-large', `${this.what}: ${field} is ${chars} characters, limit ${MAX_STRING_CHARS}`, { field });
    const raw = this.bytes(chars * 2, field);
    const text = raw.toString('utf16le');
    const nul = text.indexOf('\0');
    return nul < 0 ? text : text.slice(0, nul);
  }
}

export class FieldWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(v & 0xffff);
    return this.push(b);
  }

  i16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.trunc(v))));
    return this.push(b);
  }

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    return this.push(b);
  }

  u64(v: number): this {
    const n = Math.max(0, Math.floor(v));
    const b = Buffer.allocUnsafe(8);
    b.writeUInt32LE(n % 0x100000000 >>> 0, 0);
    b.writeUInt32LE(Math.floor(n / 0x100000000) >>> 0, 4);
    return this.push(b);
  }

  f64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(v);
    return this.push(b);
  }

  bytes(b: Buffer): this {
    return this.push(b);
  }

  zeros(n: number): this {
    return this.push(Buffer.alloc(n));
  }

  /** UTF-16LE with a terminating NUL */
  utf16z(text: string): this {
    return this.push(Buffer.from(text + '\0', 'utf16le'));
  }

  get length(): number {
    return this.size;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}
