/** Seeded mutation of binary and text inputs, and the fuzz loop the MSB and MSBD fuzz tests share. */
import { isMssError } from '../../../src/core/errors.js';

export function mutateBytes(seed: Buffer, rnd: () => number, others: readonly Buffer[]): Buffer {
  let b = Buffer.from(seed);
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: // flip bits of a byte
        if (b.length) b[at % b.length] ^= 1 << Math.floor(rnd() * 8);
        break;
      case 1: // random byte
        if (b.length) b[at % b.length] = Math.floor(rnd() * 256);
        break;
      case 2: // truncate
        b = b.subarray(0, at);
        break;
      case 3: // extend with noise
        b = Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)))]);
        break;
      case 4: {
        // a boundary value in a 16-bit field
        const v = [0, 1, 7, 8, 9, 0x7fff, 0x8000, 0xfffe, 0xffff, b.length, b.length + 1, b.length - 1][Math.floor(rnd() * 12)]!;
        if (at + 2 <= b.length) b.writeUInt16LE(v & 0xffff, at);
        break;
      }
      case 5: {
        const v = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, b.length][Math.floor(rnd() * 6)]!;
        if (at + 4 <= b.length) b.writeUInt32LE(v >>> 0, at);
        break;
      }
      default: {
        // splice in part of another input
        const o = others[Math.floor(rnd() * others.length)]!;
        const from = Math.floor(rnd() * o.length);
        b = Buffer.concat([b.subarray(0, at), o.subarray(from, from + Math.floor(rnd() * 200)), b.subarray(at)]);
      }
    }
  }
  return b;
}

export function mutateText(seed: string, rnd: () => number): string {
  const PIECES = ['\r\n', '=', '[Address]', '[Formats]', 'Format1=02', 'IP Port=0x', '02', '01', '{', '}', '!', '\u00e9', '0000000000000000', 'ffffffff', ' '];
  let s = seed;
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 5)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + Math.floor(rnd() * 30));
        break;
      case 1:
        s = s.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(32 + Math.floor(rnd() * 96)) + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at) + s.slice(at, at + Math.floor(rnd() * 100)) + s.slice(at);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

/**
 * Runs `fn` on N inputs; any throw that is not an MssError fails with the input's index and stack. Stack traces
 * are off during the loop: rejections are the common case and capturing their stacks would cost most of the time.
 */
export function fuzz(t: { true(v: boolean, m?: string): void; log(...v: unknown[]): void }, name: string, n: number, seed: number, make: (i: number) => unknown, fn: (input: never) => void): void {
  const started = performance.now();
  const outcome = { ok: 0, rejected: 0 };
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (let i = 0; i < n; i++) {
      const input = make(i);
      try {
        fn(input as never);
        outcome.ok++;
      } catch (err) {
        if (isMssError(err)) {
          outcome.rejected++;
          continue;
        }
        Error.stackTraceLimit = limit;
        let stack = String(err);
        try {
          fn(input as never);
        } catch (again) {
          stack = (again as Error).stack ?? stack;
        }
        t.true(false, `${name}: input ${i} (seed ${seed.toString(16)}) threw ${stack}`);
        return;
      }
    }
  } finally {
    Error.stackTraceLimit = limit;
  }
  t.true(outcome.ok > 0 && outcome.rejected > 0, `${name}: ${JSON.stringify(outcome)}`);
  t.log(`${name}: ${outcome.ok} accepted, ${outcome.rejected} rejected in ${Math.round(performance.now() - started)} ms`);
}

