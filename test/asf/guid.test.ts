import test from '../helpers/test.js';
import { ASF_GUID, ASF_GUID_BYTES, guidFromBytes, guidName, guidToBytes } from '../../src/asf/guid.js';
import { MssError } from '../../src/core/errors.js';

test('GUID text is stored with the first three groups little-endian', (t) => {
  const b = guidToBytes(ASF_GUID.Header);
  t.is(b.toString('hex'), '3026b2758e66cf11a6d900aa0062ce6c');
  t.is(guidFromBytes(b), ASF_GUID.Header);
});

test('every named GUID survives a round trip and is found by name', (t) => {
  for (const [name, text] of Object.entries(ASF_GUID)) {
    t.is(guidFromBytes(guidToBytes(text)), text);
    t.is(guidName(text), name);
    t.true(ASF_GUID_BYTES[name as keyof typeof ASF_GUID].equals(guidToBytes(text)));
  }
  t.is(guidName('00000000-0000-0000-0000-000000000000'), 'unknown');
});

test('on-disk first bytes match the spec table', (t) => {
  t.is(ASF_GUID_BYTES.SimpleIndex.subarray(0, 8).toString('hex'), '90080033b1e5cf11');
  t.is(ASF_GUID_BYTES.Index.subarray(0, 8).toString('hex'), 'd329e2d6da35d111');
  t.is(ASF_GUID_BYTES.Data.subarray(0, 8).toString('hex'), '3626b2758e66cf11');
});

test('bad GUID input is an MssError', (t) => {
  t.throws(() => guidToBytes('not-a-guid'), { instanceOf: MssError });
  t.throws(() => guidFromBytes(Buffer.alloc(10)), { instanceOf: MssError, message: /GUID at byte 0/ });
  t.throws(() => guidFromBytes(Buffer.alloc(20), 8), { instanceOf: MssError });
});
