/**
 * MS-MSB XOR parity (2.2.2): the parity packet of a span is the byte-wise XOR of its ASF packets after their
 * 3-byte error-correction prefix, shorter packets zero-extended to the longest; its own prefix says Type 2
 * (parity), Opaque Data Present, Number = span + 1 and the cycle. XOR-ing the parity with every packet of the
 * span but one gives back that one (3.2.5.3).
 */
import { MssError } from '../../core/errors.js';
import { EC_PREFIX_BYTES, EC_TYPE_DATA, EC_TYPE_PARITY, writeErrorCorrection } from './codec.js';

/** smallest and largest span MS-MSB allows */
export const MIN_SPAN = 1;
export const MAX_SPAN = 15;

/** acc[3..] ^= packet[3..] (acc at least as long), four bytes at a time where both line up */
function xorInto(acc: Buffer, packet: Buffer): void {
  const n = packet.length;
  let i = EC_PREFIX_BYTES;
  if (((acc.byteOffset + i) & 3) === ((packet.byteOffset + i) & 3)) {
    while (i < n && ((acc.byteOffset + i) & 3) !== 0) {
      acc[i] = acc[i]! ^ packet[i]!;
      i++;
    }
    const words = (n - i) >> 2;
    if (words > 0) {
      const a = new Uint32Array(acc.buffer, acc.byteOffset + i, words);
      const b = new Uint32Array(packet.buffer, packet.byteOffset + i, words);
      for (let w = 0; w < words; w++) a[w] = a[w]! ^ b[w]!;
      i += words << 2;
    }
  }
  for (; i < n; i++) acc[i] = acc[i]! ^ packet[i]!;
}

/** Accumulates the packets of one span (the sender side). */
export class ParityAccumulator {
  private acc: Buffer;
  private longest = 0;
  /** packets added since the last take() */
  count = 0;

  constructor(private readonly capacity: number) {
    this.acc = Buffer.alloc(capacity);
  }

  add(packet: Buffer): void {
    if (packet.length > this.capacity) throw new MssError('invalid-argument', `packet of ${packet.length} bytes is over the parity capacity ${this.capacity}`);
    if (packet.length < EC_PREFIX_BYTES) throw new MssError('invalid-argument', `packet of ${packet.length} bytes has no error-correction prefix`);
    xorInto(this.acc, packet);
    this.longest = Math.max(this.longest, packet.length);
    this.count++;
  }

  /** The parity packet of what was added (Number = count + 1), then starts a new span. */
  take(cycle: number): Buffer {
    if (this.count === 0) throw new MssError('invalid-argument', 'no packets to build parity over');
    const out = Buffer.alloc(this.longest);
    this.acc.copy(out, 0, 0, this.longest);
    writeErrorCorrection(out, EC_TYPE_PARITY, this.count + 1, cycle);
    this.acc.fill(0, 0, this.longest);
    this.longest = 0;
    this.count = 0;
    return out;
  }
}

/**
 * The packet at position `number` (1-based) of a span, rebuilt from the span's parity packet and every other
 * packet of the span. Its prefix is the data form (Type 1, `number`, `cycle`); its length is the parity's
 * (the zero tail is padding to readers).
 */
export function recoverFromParity(parity: Buffer, others: readonly Buffer[], number: number, cycle: number): Buffer {
  if (parity.length < EC_PREFIX_BYTES) throw new MssError('malformed', `parity packet of ${parity.length} bytes has no error-correction prefix`);
  const out = Buffer.alloc(parity.length); // not from the pool: word-aligned for xorInto
  parity.copy(out);
  for (const p of others) {
    if (p.length > parity.length) throw new MssError('malformed', `packet of ${p.length} bytes is longer than its span's ${parity.length}-byte parity`);
    xorInto(out, p);
  }
  writeErrorCorrection(out, EC_TYPE_DATA, number, cycle);
  return out;
}
