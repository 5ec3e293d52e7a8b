import test from '../helpers/test.js';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseHeaderObject, serializeHeaderObject } from '../../src/asf/header.js';
import { describeProtection, parseProtectionObject, wrmHeaderFacts, PROTECTION_OBJECT_NAMES } from '../../src/asf/protection.js';
import { MssError } from '../../src/core/errors.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { seededRandom } from '../helpers/prng.js';
import {
  advancedContentEncryptionObject,
  contentEncryptionObject,
  digitalSignatureObject,
  DRM_FACTS,
  extendedContentEncryptionObject,
  makeProtectedFile,
  playReadyObject,
} from '../helpers/protected.js';

test('Content Encryption: protection type, key id and license URL', (t) => {
  const p = parseProtectionObject('ContentEncryption', contentEncryptionObject(), 100);
  t.like(p, { kind: 'content-encryption', system: 'DRM', keyId: DRM_FACTS.v7KeyId, licenseUrl: DRM_FACTS.v7LicenseUrl, offset: 100 });
});

test('Extended Content Encryption: key id and license URL from its UTF-16 WRMHEADER', (t) => {
  const p = parseProtectionObject('ExtendedContentEncryption', extendedContentEncryptionObject(), 0);
  t.like(p, { kind: 'extended-content-encryption', keyId: DRM_FACTS.v10KeyId, licenseUrl: DRM_FACTS.v10LicenseUrl });
});

test('PlayReady: the system, its version and the WRMHEADER record of the PlayReady Object', (t) => {
  const p = parseProtectionObject('ProtectionSystemIdentifier', playReadyObject(), 0);
  t.like(p, { kind: 'playready', system: 'PlayReady', systemVersion: 1, keyId: DRM_FACTS.playReadyKeyId, licenseUrl: DRM_FACTS.playReadyLicenseUrl });
  t.regex(describeProtection(p), /^PlayReady \(key id .+, license https:\/\/license\.example\.test\/playready\)$/);
});

test('Digital Signature and Advanced Content Encryption records', (t) => {
  t.like(parseProtectionObject('DigitalSignature', digitalSignatureObject(), 0), { kind: 'digital-signature', signatureType: 2 });
  const a = parseProtectionObject('AdvancedContentEncryption', advancedContentEncryptionObject(2), 0);
  t.is(a.records?.length, 1);
  t.like(a.records![0], { system: 'WMDRM-ND', streams: [2], systemVersion: 1 });
});

test('WRMHEADER 4.1 KID attribute form', (t) => {
  const facts = wrmHeaderFacts('<WRMHEADER version="4.1.0.0"><DATA><PROTECTINFO><KID ALGID="AESCTR" VALUE="q1w2e3=="></KID></PROTECTINFO><LA_URL>https://x/y?a=1&amp;b=2</LA_URL></DATA></WRMHEADER>');
  t.deepEqual(facts, { keyId: 'q1w2e3==', licenseUrl: 'https://x/y?a=1&b=2' });
  t.deepEqual(wrmHeaderFacts('not xml'), {});
});

test('a truncated protection object is refused with the field and byte offset', (t) => {
  const raw = contentEncryptionObject();
  const cut = Buffer.from(raw.subarray(0, 40));
  cut.writeBigUInt64LE(40n, 16);
  const err = t.throws(() => parseProtectionObject('ContentEncryption', cut, 10), { instanceOf: MssError });
  t.is(err!.code, 'truncated');
  t.regex(err!.message, /ContentEncryption: .* at byte \d+ needs \d+ bytes/);
});

test('a DRM object this reader cannot read is kept and reported unreadable, never failing the header', async (t) => {
  const { parseHeaderObject: parse } = await import('../../src/asf/header.js');
  const { upsertHeaderObject } = await import('../../src/asf/header-builders.js');
  const head = parseHeaderObject(await readFile(await fixture(FIXTURES.audio20)));
  const odd = Buffer.concat([contentEncryptionObject().subarray(0, 24), Buffer.from('opaque drm blob')]);
  odd.writeBigUInt64LE(BigInt(odd.length), 16);
  const h = parse(upsertHeaderObject(head.raw, odd));
  t.is(h.protection?.length, 1);
  t.like(h.protection![0], { kind: 'content-encryption', size: odd.length });
  t.regex(h.protection![0]!.unreadable ?? '', /Secret Data/);
  t.regex(describeProtection(h.protection![0]!), /unreadable/);
});

test('a protected file: the header lists every DRM object and re-serialises byte-identical', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mss-drm-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const dst = path.join(dir, 'p.wmv');
  await makeProtectedFile(await fixture(FIXTURES.av20), dst);
  const h = parseHeaderObject(await readFile(dst));
  const kinds = (h.protection ?? []).map((p) => p.kind).sort();
  t.true(kinds.includes('content-encryption') && kinds.includes('extended-content-encryption') && kinds.includes('digital-signature') && kinds.includes('playready'));
  t.deepEqual(serializeHeaderObject(h), h.raw);
});

test('fuzz: every protection object parser returns or throws MssError (100,000 mutations, seeded)', (t) => {
  const seeds: Array<[string, Buffer]> = [
    ['ContentEncryption', contentEncryptionObject()],
    ['ExtendedContentEncryption', extendedContentEncryptionObject()],
    ['DigitalSignature', digitalSignatureObject()],
    ['ProtectionSystemIdentifier', playReadyObject()],
    ['AdvancedContentEncryption', advancedContentEncryptionObject()],
  ];
  t.is(seeds.length, PROTECTION_OBJECT_NAMES.size);
  const rand = seededRandom(Number(process.env.FUZZ_SEED ?? 0xd7a));
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
  const pick = (n: number) => Math.floor(rand() * n);
  for (let i = 0; i < iterations; i++) {
    const [name, seed] = seeds[i % seeds.length]!;
    let buf = Buffer.from(seed);
    for (let r = 1 + pick(3); r > 0; r--) {
      const at = 24 + pick(Math.max(1, buf.length - 24));
      const op = pick(4);
      if (op === 0 && at < buf.length) buf[at] = pick(256);
      else if (op === 1 && at + 4 <= buf.length) buf.writeUInt32LE([0, 1, 0xffff, 0x7fffffff, 0xffffffff, pick(buf.length * 2)][pick(6)]!, at);
      else if (op === 2 && at + 2 <= buf.length) buf.writeUInt16LE(pick(0x10000), at);
      else buf = buf.subarray(0, Math.max(24, at));
    }
    try {
      parseProtectionObject(name, buf, 0);
    } catch (err) {
      if (!(err instanceof MssError)) t.fail(`iteration ${i} (${name}): ${(err as Error).stack}`);
    }
  }
  t.pass();
});
