/**
 * Seeded fuzzing of every MS-MSB entry point that reads outside input: 100,000 mutated inputs each must give a
 * value or an MssError, never another exception, and what comes out keeps its invariants (an MSB packet's ASF
 * part is the rest of the datagram; what the receiver gives out is an ASF packet of the header's size).
 * FUZZ_SEED overrides the seed.
 */
import test from '../../helpers/test.js';
import { parseDataPacket } from '../../../src/asf/packet.js';
import { isMssError } from '../../../src/core/errors.js';
import { MsbAssembler } from '../../../src/protocols/msb/assembler.js';
import { buildBeacon, parseMsbDatagram, readErrorCorrection } from '../../../src/protocols/msb/codec.js';
import { FormatBook } from '../../../src/protocols/msb/formats.js';
import { MsbFramer } from '../../../src/protocols/msb/framer.js';
import { buildNsc, decodeNscBlock, encodeNscString, parseNsc } from '../../../src/protocols/msb/nsc.js';
import { restoreFromMsb, shapeForMsb } from '../../../src/protocols/msb/packet-shape.js';
import { recoverFromParity } from '../../../src/protocols/msb/parity.js';
import { seededRandom } from '../../helpers/prng.js';
import { fuzz as fuzzWith, mutateBytes, mutateText } from './fuzzing.js';
import { loadAsf, quietLogger, type LoadedAsf } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_3d5b);
const N = 100_000;
const fuzz = (t: Parameters<typeof fuzzWith>[0], name: string, make: (i: number) => unknown, fn: (input: never) => void) => fuzzWith(t, name, N, SEED, make, fn);

let asf: LoadedAsf;
let datagrams: Buffer[];
let wire: Buffer[];
test.before(async () => {
  asf = await loadAsf('media/sample.wmv', 60);
  const framer = new MsbFramer({ name: 'fuzz', span: 10, formats: new FormatBook(), log: quietLogger() });
  framer.header(asf.header);
  datagrams = [buildBeacon()];
  for (const p of asf.packets) datagrams.push(...(framer.data(p) as Buffer[]));
  wire = datagrams.filter((d) => d.length > 8).map((d) => d.subarray(8));
});

test(`parseMsbDatagram: ${N} mutated datagrams`, (t) => {
  const rnd = seededRandom(SEED);
  fuzz(t, 'parseMsbDatagram', () => mutateBytes(datagrams[Math.floor(rnd() * datagrams.length)]!, rnd, datagrams), (d: Buffer) => {
    const p = parseMsbDatagram(d);
    if (p.kind === 'packet' && p.asf.length + 8 !== d.length) throw new Error('ASF part is not the rest of the datagram');
  });
});

test(`readErrorCorrection, restoreFromMsb and shapeForMsb: ${N} mutated ASF packets each`, (t) => {
  const rnd = seededRandom(SEED + 1);
  const make = () => mutateBytes(wire[Math.floor(rnd() * wire.length)]!, rnd, wire);
  fuzz(t, 'readErrorCorrection', make, (p: Buffer) => {
    const ec = readErrorCorrection(p);
    if (ec.prefixBytes > p.length) throw new Error('EC prefix runs past the packet');
  });
  fuzz(t, 'restoreFromMsb', make, (p: Buffer) => {
    const out = restoreFromMsb(p, asf.packetSize);
    if (out.length !== asf.packetSize) throw new Error('restored packet is not the packet size');
  });
  const full = () => {
    const m = mutateBytes(asf.packets[Math.floor(rnd() * asf.packets.length)]!, rnd, asf.packets);
    return m.length >= asf.packetSize ? m.subarray(0, asf.packetSize) : Buffer.concat([m, Buffer.alloc(asf.packetSize - m.length)]);
  };
  fuzz(t, 'shapeForMsb', full, (p: Buffer) => {
    const s = shapeForMsb(p, asf.packetSize, { number: 1, cycle: 0 });
    if (s.asf.length > asf.packetSize) throw new Error('shaped packet larger than the packet size');
  });
});

test(`recoverFromParity: ${N} mutated spans`, (t) => {
  const rnd = seededRandom(SEED + 2);
  fuzz(t, 'recoverFromParity', () => {
    const at = Math.floor(rnd() * (wire.length - 5));
    return wire.slice(at, at + 1 + Math.floor(rnd() * 4)).map((p) => (rnd() < 0.3 ? mutateBytes(p, rnd, wire) : p));
  }, (span: Buffer[]) => {
    recoverFromParity(span[0]!, span.slice(1), 1, 0);
  });
});

test(`the receiver (MsbAssembler.feed): ${N} mutated datagrams in a live sequence, only ASF packets of the header's size out`, (t) => {
  const rnd = seededRandom(SEED + 3);
  let out = 0;
  const a = new MsbAssembler({
    packetSizeOf: () => asf.packetSize,
    defaultEcc: 10,
    onStream: () => undefined,
    onPacket: (p) => {
      out++;
      if (p.length !== asf.packetSize) throw new Error('packet of the wrong size');
      parseDataPacket(p, asf.packetSize); // throws (fails the test) if the receiver let garbage through
    },
  });
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  t.teardown(() => {
    Error.stackTraceLimit = limit;
  });
  let i = 0;
  for (; i < N; i++) {
    const seed = datagrams[i % datagrams.length]!;
    const d = rnd() < 0.5 ? seed : mutateBytes(seed, rnd, datagrams);
    try {
      a.feed(d);
    } catch (err) {
      t.fail(`input ${i} (seed ${SEED.toString(16)}): ${String(err)}`);
      return;
    }
  }
  Error.stackTraceLimit = limit;
  a.flush();
  t.true(out > 0);
  t.true(a.counters.malformed > 0);
  t.log(JSON.stringify(a.counters));
});

test(`parseNsc and decodeNscBlock: ${N} mutated station files and values each`, (t) => {
  const rnd = seededRandom(SEED + 4);
  const nsc = buildNsc({
    name: 'box, live', multicastAdapter: '10.0.0.1', ipAddress: '239.1.2.3', ipPort: 19009, ttl: 1, defaultEcc: 10, logUrl: 'http://h/logs', unicastUrl: 'http://h/live',
    allowSplitting: 1, allowCaching: 0, formats: [{ formatId: 77, header: asf.header.subarray(0, 240), description: 'Live' }],
  });
  fuzz(t, 'parseNsc', () => mutateText(nsc, rnd), (text: string) => {
    const s = parseNsc(text);
    for (const f of s.formats) if (f.formatId > 0x7ff) throw new Error('Format ID over 11 bits');
  });
  const values = [encodeNscString('239.192.48.179'), encodeNscString(''), encodeNscString('a much longer name \u00e9'), nsc.split('\r\n').find((l) => l.startsWith('Format1='))!.slice(8, 400)];
  fuzz(t, 'decodeNscBlock', () => mutateText(values[Math.floor(rnd() * values.length)]!, rnd), (v: string) => {
    const b = decodeNscBlock(v, 'fuzz', 4096);
    if (b.data.length > 4096) throw new Error('over the limit');
  });
});
