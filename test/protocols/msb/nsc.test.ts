import test from '../../helpers/test.js';
import { isMssError } from '../../../src/core/errors.js';
import { buildNsc, decodeNscBlock, decodeNscString, encodeNscBlock, encodeNscString, formatIdOf, parseNsc } from '../../../src/protocols/msb/nsc.js';
import { FormatBook } from '../../../src/protocols/msb/formats.js';

// the encoded values of the MS-MSB 4.3 example file
const SPEC = {
  name: '029W000000000YJG1P05y0Gm1F04q0K01L05G0HG1I02m0801Y0700S00000',
  version: '029G0000000008Cm0k0300000',
  adapter: ['0230000000000UCG0r03S0BW0r03K0BW0n03G0E', 'G0k0340C00o0000'],
  ip: '020G000000000UCW0p03a0BW0n03a0CW0k03G0E00k0340Dm0v0000',
  empty: '020W0000000002000',
  description: '029m000000000SLm1f06u0P01l07S0Sm0W04q0PG1a06a0OG0000',
};

test('strings encode exactly as the spec example does', (t) => {
  t.is(encodeNscString('3.0'), SPEC.version);
  t.is(encodeNscString('239.192.48.179'), SPEC.ip);
  t.is(encodeNscString(''), SPEC.empty);
  t.is(encodeNscString('157.55.149.102'), SPEC.adapter.join(''));
  t.is(encodeNscString('plain', { allowRaw: true }), 'plain');
  t.not(encodeNscString('caf\u00e9', { allowRaw: true }), 'caf\u00e9');
});

test('the spec example values decode; its Name has a CRC that does not match and is still read', (t) => {
  t.is(decodeNscString(SPEC.version, 'v'), '3.0');
  t.is(decodeNscString(SPEC.ip, 'ip'), '239.192.48.179');
  t.is(decodeNscString(SPEC.empty, 'log url'), '');
  t.is(decodeNscString(SPEC.description, 'd'), 'Windows Media');
  const name = decodeNscBlock(SPEC.name, 'name');
  t.false(name.crcOk);
  t.is(name.data.toString('utf16le'), 'MY_COMPUTER, bpp\u0000');
});

test('the spec example file parses: wrapped value joined, integers, empty strings absent, the CRC noted', (t) => {
  const header = Buffer.concat([Buffer.from('3026b2758e66cf11a6d900aa0062ce6c', 'hex'), Buffer.alloc(40, 1)]);
  const text = [
    '[Address]', `Name=${SPEC.name}`, `NSC Format Version=${SPEC.version}`, `Multicast Adapter=${SPEC.adapter[0]}`, SPEC.adapter[1],
    `IP Address=${SPEC.ip}`, 'IP Port=0x00004A41', 'Time To Live=0x00000020', 'Default Ecc=0x0000000A', `Log URL=${SPEC.empty}`,
    `Unicast URL=${SPEC.empty}`, 'Allow Splitting=0x00000001', 'Allow Caching=0x00000001', 'Cache Expiration Time=0x00015180',
    'Network Buffer Time=0x000001F4', 'Player URL=legacy', '[Formats]', `Format1=${encodeNscBlock(header, 0x39e)}`, `Description1=${SPEC.description}`,
  ].join('\r\n');
  const s = parseNsc(text);
  t.like(s, {
    name: 'MY_COMPUTER, bpp', version: '3.0', multicastAdapter: '157.55.149.102', ipAddress: '239.192.48.179', ipPort: 0x4a41, ttl: 32,
    defaultEcc: 10, logUrl: undefined, unicastUrl: undefined, allowSplitting: 1, allowCaching: 1, cacheExpirationTime: 86400, networkBufferTime: 500,
  });
  t.deepEqual(s.warnings, ['name: CRC mismatch (accepted)']);
  t.is(s.formats.length, 1);
  t.is(s.formats[0]!.formatId, 926);
  t.true(s.formats[0]!.header.equals(header));
  t.is(s.formats[0]!.description, 'Windows Media');
});

test('build then parse gives the station back, in the grammar order, CRLF, ASCII only', (t) => {
  const h1 = Buffer.alloc(300, 0xa5);
  const h2 = Buffer.from('another header \u00e9', 'utf8');
  const text = buildNsc({
    name: 'box, live', multicastAdapter: '127.0.0.1', ipAddress: '239.255.1.2', ipPort: 19009, ttl: 1, defaultEcc: 10,
    logUrl: 'http://h:8080/logs', unicastUrl: 'http://h:8080/live', allowSplitting: 1, allowCaching: 0,
    formats: [{ formatId: formatIdOf(h1), header: h1, description: 'Live \u00e9t\u00e9' }, { formatId: 7, header: h2 }],
  });
  t.true(/^[\x00-\x7f]*$/.test(text));
  t.true(text.endsWith('\r\n'));
  t.false(/[^\r]\n/.test(text));
  const keys = text.split('\r\n').map((l) => l.split('=')[0]);
  t.deepEqual(keys.slice(0, 13), ['[Address]', 'Name', 'NSC Format Version', 'Multicast Adapter', 'IP Address', 'IP Port', 'Time To Live', 'Default Ecc', 'Log URL', 'Unicast URL', 'Allow Splitting', 'Allow Caching', '[Formats]']);
  t.true(text.includes('NSC Format Version=3.0\r\n'));
  const s = parseNsc(text);
  t.like(s, { name: 'box, live', version: '3.0', multicastAdapter: '127.0.0.1', ipAddress: '239.255.1.2', ipPort: 19009, ttl: 1, defaultEcc: 10, logUrl: 'http://h:8080/logs', unicastUrl: 'http://h:8080/live', allowSplitting: 1, allowCaching: 0 });
  t.deepEqual(s.warnings, []);
  t.deepEqual(s.formats.map((f) => [f.index, f.formatId, f.description]), [[1, formatIdOf(h1), 'Live \u00e9t\u00e9'], [2, 7, undefined]]);
  t.true(s.formats[1]!.header.equals(h2));
});

test('building refuses what the grammar or the packets cannot carry', (t) => {
  const base = { ipAddress: '239.1.1.1', ipPort: 1234, formats: [{ formatId: 1, header: Buffer.alloc(10) }] };
  t.regex(t.throws(() => buildNsc({ ...base, formats: [] }))!.message, /at least one format/);
  t.regex(t.throws(() => buildNsc({ ...base, ipPort: 0 }))!.message, /IP Port 0/);
  t.regex(t.throws(() => buildNsc({ ...base, formats: [{ formatId: 2048, header: Buffer.alloc(1) }] }))!.message, /not 11 bits/);
  t.regex(t.throws(() => buildNsc({ ...base, formats: [{ formatId: 3, header: Buffer.alloc(1) }, { formatId: 3, header: Buffer.alloc(2) }] }))!.message, /used twice/);
  t.regex(t.throws(() => buildNsc({ ...base, ttl: -1 }))!.message, /Time To Live -1/);
});

test('broken files are MssErrors that name the property', (t) => {
  const err = (text: string) => {
    const e = t.throws(() => parseNsc(text));
    t.true(isMssError(e));
    return e!.message;
  };
  t.regex(err('[Formats]\r\n'), /no \[Address\] section/);
  t.regex(err('[Address]\r\nIP Port=19009\r\n'), /ip port "19009" is not 0x/);
  t.is(parseNsc('[Address]\r\nName=02!!!!!!!!!!!!!!\r\n').name, '02!!!!!!!!!!!!!!'); // not the encoding alphabet: a plain string
  t.regex(t.throws(() => decodeNscString('02!!!!!!!!!!!!!!', 'log url'))!.message, /log url: character "!" at 2/);
  t.regex(err(`[Address]\r\nName=${encodeNscBlock(Buffer.alloc(3))}\r\n`), /name: encoded string of 3 bytes is not UTF-16/);
  t.regex(err('[Address]\r\n[Formats]\r\nFormat1=hello\r\n'), /format1 is not an encoded block/);
  t.regex(err(`[Address]\r\n[Formats]\r\nFormat1=${encodeNscBlock(Buffer.alloc(4), 0x800)}\r\n`), /Format ID 2048 has bits above/);
  t.regex(err(`[Address]\r\n[Formats]\r\nFormat1=${encodeNscBlock(Buffer.alloc(4), 5)}\r\nFormat2=${encodeNscBlock(Buffer.alloc(5), 5)}\r\n`), /Format2: Format ID 5 is used by an earlier/);
  t.regex(err('x'.repeat(1024 * 1024 + 1)), /limit/);
  const cut = encodeNscBlock(Buffer.alloc(20), 0).slice(0, 20); // Length says 20, fewer bytes follow
  t.regex(t.throws(() => decodeNscBlock(cut, 'x'))!.message, /x: encoded length 20 does not fit the \d+ bytes present/);
  t.regex(t.throws(() => decodeNscBlock(encodeNscBlock(Buffer.alloc(100)), 'x', 50))!.message, /over the 50-byte limit/);
  t.regex(t.throws(() => decodeNscBlock('0201', 'k'))!.message, /k: encoded block has 1 bytes, the header alone is 9/);
  t.regex(t.throws(() => decodeNscBlock('0301020304050607080910', 'k'))!.message, /unknown encoding type "03"/);
});

test('type-01 (hex) blocks are accepted as VLC does', (t) => {
  const block = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 4]), Buffer.from('hi\u0000', 'utf16le').subarray(0, 4)]);
  block[0] = [...block.subarray(1)].reduce((a, b) => a ^ b, 0);
  t.is(decodeNscString(`01${block.toString('hex')}`, 'k'), 'hi');
});

test('the format book gives a header the same ID again, a new header a different one, and forgets the oldest', (t) => {
  const book = new FormatBook(3);
  const a = Buffer.from('header a');
  const id = book.idFor(a);
  t.is(id, formatIdOf(a));
  t.is(book.idFor(Buffer.from('header a')), id);
  const ids = new Set([id, book.idFor(Buffer.from('b')), book.idFor(Buffer.from('c'))]);
  t.is(ids.size, 3);
  book.idFor(Buffer.from('d'));
  t.is(book.size, 3);
  t.false(book.list().some((e) => e.header.equals(a)));
  t.true(book.list().every((e) => e.formatId >= 1 && e.formatId <= 0x7ff));
});
