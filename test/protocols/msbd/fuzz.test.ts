/**
 * Seeded fuzzing of the MS-MSBD codec: 100,000 mutated messages for parseMessage, and 100,000 mutated message
 * streams cut at random points for MsbdMessageReader. Each gives messages or an MssError, never another
 * exception; a STREAMINFO that parses has lengths that add up; the reader never holds more than one message.
 */
import test from '../../helpers/test.js';
import {
  encodeConnectRequest,
  encodeConnectResponse,
  encodeEmptyStreamInfo,
  encodePacket,
  encodeSimple,
  encodeStreamInfo,
  HR,
  MsbdMessageReader,
  parseMessage,
  readMessageBase,
  streamInfoText,
} from '../../../src/protocols/msbd/codec.js';
import { seededRandom } from '../../helpers/prng.js';
import { fuzz as fuzzWith, mutateBytes } from '../msb/fuzzing.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_3bd0);
const N = 100_000;
const fuzz = (t: Parameters<typeof fuzzWith>[0], name: string, make: (i: number) => unknown, fn: (input: never) => void) => fuzzWith(t, name, N, SEED, make, fn);

const SEEDS = [
  encodeConnectRequest(),
  encodeConnectRequest('live', 2),
  encodeConnectResponse(HR.OK),
  encodeConnectResponse(HR.OK, { flags: 2, multicast: { address: '239.1.2.3', port: 1234 } }),
  encodeStreamInfo({ streamId: 3, packetSize: 3200, totalPackets: 0, bitRate: 300000, durationMs: 0xffffffff, title: streamInfoText('T'), description: streamInfoText('D'), link: Buffer.from('L'), header: Buffer.alloc(300, 0x30) }),
  encodeStreamInfo({ streamId: 0x8003, packetSize: 100, totalPackets: 9, bitRate: 1, durationMs: 5, title: Buffer.alloc(0), description: Buffer.alloc(0), link: Buffer.alloc(0), header: Buffer.alloc(60, 1) }, 'RES_STREAMINFO'),
  encodeEmptyStreamInfo(),
  encodePacket(7, 3, Buffer.alloc(500, 0x82)),
  encodeSimple('REQ_PING'),
  encodeSimple('RES_PING'),
  encodeSimple('IND_EOS'),
  encodeSimple('REQ_STREAMINFO'),
];

test(`parseMessage and readMessageBase: ${N} mutated messages each`, (t) => {
  const rnd = seededRandom(SEED);
  const make = () => mutateBytes(SEEDS[Math.floor(rnd() * SEEDS.length)]!, rnd, SEEDS);
  fuzz(t, 'parseMessage', make, (b: Buffer) => {
    const m = parseMessage(b);
    if ((m.type === 'IND_STREAMINFO' || m.type === 'RES_STREAMINFO') && m.info) {
      const sum = m.info.title.length + m.info.description.length + m.info.link.length + m.info.header.length;
      if (sum !== b.length - 48) throw new Error('STREAMINFO lengths do not add up');
    }
    if (m.type === 'IND_PACKET' && m.payload.length !== b.length - 24) throw new Error('IND_PACKET payload is not the rest of the message');
  });
  fuzz(t, 'readMessageBase', make, (b: Buffer) => {
    const base = readMessageBase(b);
    if (base.length < 16 || base.length > 0xffff) throw new Error('length out of range');
  });
});

test(`MsbdMessageReader: ${N} mutated streams in random chunks`, (t) => {
  const rnd = seededRandom(SEED + 1);
  fuzz(t, 'MsbdMessageReader', () => {
    const parts = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => SEEDS[Math.floor(rnd() * SEEDS.length)]!);
    return mutateBytes(Buffer.concat(parts), rnd, SEEDS);
  }, (stream: Buffer) => {
    const r = new MsbdMessageReader();
    let at = 0;
    while (at < stream.length) {
      const n = 1 + Math.floor(rnd() * 300);
      r.push(stream.subarray(at, at + n));
      if (r.buffered > 0x10000 + 300) throw new Error(`reader holds ${r.buffered} bytes`);
      at += n;
    }
  });
});
