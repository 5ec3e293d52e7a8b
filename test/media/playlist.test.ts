import test from '../helpers/test.js';
import path from 'node:path';
import { MssError, type MssErrorCode } from '../../src/core/errors.js';
import { parseClockValue, parseWsxPlaylist, resolveMediaSrc } from '../../src/media/playlist.js';
import { seededRandom as prng } from '../helpers/prng.js';

const base = '/srv/media/lists';

test('a looping playlist resolves every src against the playlist directory', (t) => {
  const p = parseWsxPlaylist(
    `<?wsx version="1.0"?>
<smil>
  <seq repeatCount="indefinite">
    <media src="intro.wmv" clipEnd="10s"/>
    <media src="clips/main.wmv" clipBegin="00:01:00" clipEnd="00:02:30.5"/>
    <media src="./clips\\\\win.wmv" clipBegin="1:05" dur="500ms"/>
  </seq>
</smil>`,
    base,
  );
  t.true(p.loop);
  t.deepEqual(p.entries, [
    { path: '/srv/media/lists/intro.wmv', clipEnd: 10_000 },
    { path: '/srv/media/lists/clips/main.wmv', clipBegin: 60_000, clipEnd: 150_500 },
    { path: '/srv/media/lists/clips/win.wmv', clipBegin: 65_000, clipEnd: 65_500 },
  ]);
});

test('without repeatCount the playlist plays once; counted repeats expand', (t) => {
  const once = parseWsxPlaylist('<smil><seq><media src="a.wmv"/><media src="b.wmv"/></seq></smil>', base);
  t.false(once.loop);
  t.deepEqual(once.entries.map((e) => path.basename(e.path)), ['a.wmv', 'b.wmv']);
  const rep = parseWsxPlaylist('<SMIL><seq><media src="a.wmv" repeatCount="2"/><seq repeatCount="2"><video src="b.wmv"/></seq></seq></SMIL>', base);
  t.deepEqual(rep.entries.map((e) => path.basename(e.path)), ['a.wmv', 'a.wmv', 'b.wmv', 'b.wmv']);
  const rootLoop = parseWsxPlaylist('<smil repeatCount="indefinite"><head><meta name="x"/></head><media src="a.wmv"/></smil>', base);
  t.true(rootLoop.loop);
  t.is(rootLoop.entries.length, 1);
  const nested = parseWsxPlaylist('<smil><seq><seq repeatCount="indefinite"><media src="a.wmv"/></seq></seq></smil>', base);
  t.true(nested.loop);
});

test('an absolute src inside the playlist directory is allowed', (t) => {
  const p = parseWsxPlaylist('<smil><media src="/srv/media/lists/sub/x.wmv"/></smil>', base);
  t.is(p.entries[0]!.path, '/srv/media/lists/sub/x.wmv');
});

test('src values that leave the playlist directory are refused', (t) => {
  const bad: Array<[string, RegExp, MssErrorCode]> = [
    ['../secret.wmv', /climbs out with '\.\.'/, 'forbidden'],
    ['clips/../../x.wmv', /climbs out/, 'forbidden'],
    ['clips\\..\\..\\x.wmv', /climbs out/, 'forbidden'],
    ['/etc/passwd', /outside the playlist directory/, 'forbidden'],
    ['/srv/media/listsX/a.wmv', /outside the playlist directory/, 'forbidden'],
    ['C:\\media\\a.wmv', /Windows drive path/, 'forbidden'],
    ['http://evil/a.wmv', /is a URL/, 'unsupported'],
    ['file:///etc/passwd', /is a URL/, 'unsupported'],
    ['a\u0000.wmv', /NUL/, 'forbidden'],
    ['.', /playlist directory itself/, 'forbidden'],
  ];
  for (const [src, re, code] of bad) {
    const err = t.throws(() => parseWsxPlaylist(`<smil><media src="${src}"/></smil>`, base), undefined, src);
    t.true(err instanceof MssError);
    t.is((err as MssError).code, code, src);
    t.regex(err!.message, re, src);
    t.regex(err!.message, /offset 6/, src);
  }
  t.is(resolveMediaSrc('a%2e%2e/x.wmv', base), '/srv/media/lists/a%2e%2e/x.wmv', 'percent signs are literal, never decoded');
});

test('malformed playlists get precise errors', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /has no <smil> element/],
    ['<playlist/>', /top-level element is <playlist>, expected <smil>/],
    ['<smil><seq><media src="a.wmv"/></smil>', /<\/smil> does not close <seq> opened at offset 6/],
    ['<smil><seq><media src="a.wmv"/></seq>', /<smil> opened at offset 0 is never closed/],
    ['<smil></smil>', /has no <media src=...> entries/],
    ['<smil><media/></smil>', /<media> has no src \(offset 6\)/],
    ['<smil><media src=""/></smil>', /empty src/],
    ['<smil><media src="a.wmv" clipBegin="soon"/></smil>', /clipbegin="soon" is not a clock value/],
    ['<smil><media src="a.wmv" clipBegin="20s" clipEnd="10s"/></smil>', /clipEnd \(10000 ms\) is not after clipBegin \(20000 ms\)/],
    ['<smil><seq repeatCount="0"><media src="a.wmv"/></seq></smil>', /repeatCount "0" must be/],
    ['<smil><seq repeatCount="5000"><media src="a.wmv"/></seq></smil>', /repeatCount "5000" must be/],
    ['<smil><media src="a.wmv"/><seq repeatCount="indefinite"><media src="b.wmv"/></seq></smil>', /only supported on <smil> or a <seq> that is its only content/],
    ['<smil><media src="a.wmv" repeatCount="indefinite"/></smil>', /put it on the <seq>/],
    ['<smil><par><media src="a.wmv"/></par></smil>', /<par> \(offset 6\) is not supported/],
    ['<?wsx version="2.0"?><smil><media src="a.wmv"/></smil>', /version="2.0".*is not 1.0/],
    ['<smil/><smil/>', /more than one top-level element/],
    ['<smil><seq repeatCount="1000"><seq repeatCount="1000"><media src="a"/></seq></seq></smil>', /more than 10000 entries/],
    ['<smil>' + '<seq>'.repeat(40) + '<media src="a"/>' + '</seq>'.repeat(40) + '</smil>', /nest deeper than 32/],
    ['<smil>' + 'x'.repeat(1024 * 1024) + '</smil>', /more than the 1048576 allowed/],
  ];
  for (const [text, re] of cases) {
    const err = t.throws(() => parseWsxPlaylist(text, base), undefined, text.slice(0, 60));
    t.true(err instanceof MssError, text.slice(0, 60));
    t.regex(err!.message, re, text.slice(0, 60));
  }
});

test('SMIL clock values', (t) => {
  t.is(parseClockValue('00:01:30.5'), 90_500);
  t.is(parseClockValue('1:30'), 90_000);
  t.is(parseClockValue('90'), 90_000);
  t.is(parseClockValue('2.5s'), 2_500);
  t.is(parseClockValue('1500ms'), 1_500);
  t.is(parseClockValue('2min'), 120_000);
  t.is(parseClockValue('1h'), 3_600_000);
  t.is(parseClockValue('1:75'), undefined);
  t.is(parseClockValue('-5s'), undefined);
  t.is(parseClockValue('5 fortnights'), undefined);
});

test('parseWsxPlaylist returns entries inside baseDir or throws MssError on 20k mutations (seeded fuzz)', (t) => {
  const rand = prng(7);
  const src = '<?wsx version="1.0"?><smil><seq repeatCount="indefinite"><media src="a.wmv" clipBegin="1s" clipEnd="5s"/><media src="d/b.wmv"/></seq></smil>';
  const alphabet = '<>/="\'.\\:%?! seqmdia0123456789';
  for (let i = 0; i < 20_000; i++) {
    const chars = src.split('');
    for (let e = 1 + Math.floor(rand() * 6); e > 0; e--) {
      const pos = Math.floor(rand() * chars.length);
      const op = rand();
      if (op < 0.4) chars[pos] = alphabet[Math.floor(rand() * alphabet.length)]!;
      else if (op < 0.7) chars.splice(pos, 1 + Math.floor(rand() * 4));
      else chars.splice(pos, 0, alphabet[Math.floor(rand() * alphabet.length)]!);
    }
    try {
      const p = parseWsxPlaylist(chars.join(''), base);
      for (const e of p.entries) if (!e.path.startsWith(base + '/')) t.fail(`escaped: ${e.path} from ${chars.join('')}`);
    } catch (err) {
      if (!(err instanceof MssError)) t.fail(`non-MssError ${String(err)} for ${JSON.stringify(chars.join(''))}`);
    }
  }
  t.pass();
});
