/** Seeded garbage into the document checks of updates and board profiles: a value or an MssError, nothing else. */
import { generateKeyPairSync } from 'node:crypto';
import test from '../helpers/test.js';
import { boardById } from '../../board/detect.js';
import { validateBoardProfile } from '../../board/schema.js';
import { MssError } from '../../src/core/errors.js';
import { signUpdate, validateUpdateDoc, verifyUpdateSignature } from '../../src/update/manifest.js';
import { seededRandom } from '../helpers/prng.js';

function mutator(seed: number) {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const junk = (): unknown => pick<() => unknown>([() => null, () => undefined, () => -1, () => 1e300, () => NaN, () => '', () => 'x'.repeat(Math.floor(rnd() * 300)), () => [], () => ({}), () => true, () => [1, 'a', null], () => '\u0000\uffff', () => Math.floor(rnd() * 70000)])();
  function mutate(v: unknown, depth = 0): unknown {
    if (rnd() < 0.15 || depth > 4) return junk();
    if (Array.isArray(v)) return v.map((x) => mutate(x, depth + 1)).concat(rnd() < 0.1 ? [junk()] : []);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (rnd() > 0.05) out[k] = rnd() < 0.3 ? mutate(x, depth + 1) : x;
      if (rnd() < 0.05) out[`extra${Math.floor(rnd() * 9)}`] = junk();
      return out;
    }
    return v;
  }
  return mutate;
}

test('update documents: 100,000 mutated documents are accepted or refused with an MssError', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const fields = { version: '1.2.3', sha256: 'b'.repeat(64), size: 4096, boards: ['rpi4'] };
  const base = { ...fields, url: 'https://u.example/b', signature: signUpdate(fields, privateKey), force: false };
  const mutate = mutator(14);
  let accepted = 0;
  for (let i = 0; i < 100_000; i++) {
    const doc = mutate(base) as Record<string, unknown>;
    try {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) continue;
      const p = validateUpdateDoc(doc, 1 << 30);
      accepted++;
      // a signature check costs ~0.5 ms: a sample of the accepted documents is enough
      if (accepted % 100 === 0) verifyUpdateSignature(p, publicKey);
    } catch (err) {
      if (!(err instanceof MssError)) t.fail(`non-MssError for ${JSON.stringify(doc).slice(0, 200)}: ${(err as Error).stack}`);
    }
  }
  t.true(accepted > 0 && accepted < 100_000, `accepted ${accepted}`);
});

test('board profiles: 20,000 mutated profiles validate or fail with the path of a field', (t) => {
  const base = boardById('rk3588')!;
  const mutate = mutator(7);
  for (let i = 0; i < 20_000; i++) {
    const doc = mutate(base);
    try {
      validateBoardProfile(doc, 'fuzz');
    } catch (err) {
      if (!(err instanceof MssError) || !/^invalid board profile:\n  board\(fuzz\)/.test(err.message)) t.fail(`unexpected ${String(err)}`);
    }
  }
  t.pass();
});
