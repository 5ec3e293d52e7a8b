import test from '../helpers/test.js';
import { MssError } from '../../src/core/errors.js';
import { buildAsx, parseAsx } from '../../src/media/asx.js';
import { seededRandom as prng } from '../helpers/prng.js';

test('buildAsx writes ASX 3.0 with every entry, ref and log URL, escaped', (t) => {
  const text = buildAsx({
    title: 'Live <Cam> & "friends"',
    logUrl: 'http://10.0.0.1:8080/log?a=1&b=2',
    entries: [
      { title: "Lobby's cam", refs: ['mmsh://10.0.0.1:8080/live?x=1&y="2"', 'http://10.0.0.1:8080/live'], logUrl: 'http://log/e1' },
      { refs: ['mmsh://10.0.0.1:8080/vod/a b.wmv'] },
    ],
  });
  t.true(text.startsWith('<ASX version="3.0">\r\n'));
  t.true(text.includes('<Title>Live &lt;Cam&gt; &amp; &quot;friends&quot;</Title>'));
  t.true(text.includes('<Ref href="mmsh://10.0.0.1:8080/live?x=1&amp;y=&quot;2&quot;"/>'));
  t.true(text.includes('<LogURL href="http://10.0.0.1:8080/log?a=1&amp;b=2"/>'));
  t.true(text.includes('<Title>Lobby&apos;s cam</Title>'));
  t.false(/&(?!amp;|lt;|gt;|quot;|apos;)/.test(text), 'no raw ampersand');
});

test('parseAsx reads back what buildAsx wrote', (t) => {
  const doc = {
    title: 'Live <Cam> & "friends"',
    logUrl: 'http://10.0.0.1:8080/log?a=1&b=2',
    entries: [
      { title: "Lobby's cam", refs: ['mmsh://h/live?x=1&y="2"', 'http://h/live'], logUrl: 'http://log/e1' },
      { refs: ['mmsh://h/vod/a b.wmv'] },
    ],
  };
  const parsed = parseAsx(buildAsx(doc));
  t.is(parsed.version, '3.0');
  t.is(parsed.title, doc.title);
  t.is(parsed.logUrl, doc.logUrl);
  t.is(parsed.entries.length, 2);
  t.is(parsed.entries[0]!.title, "Lobby's cam");
  t.deepEqual(parsed.entries[0]!.refs, doc.entries[0]!.refs);
  t.is(parsed.entries[0]!.logUrl, 'http://log/e1');
  t.deepEqual(parsed.entries[1]!.refs, ['mmsh://h/vod/a b.wmv']);
});

test('parseAsx tolerates real-world looseness: case, unquoted attributes, missing end tags, comments, bare &', (t) => {
  const text = `\ufeff<?xml version="1.0"?>
<!-- made by hand -->
<asx VERSION=3.0>
 <TITLE>News & Weather</TITLE>
 <LOGURL HREF="http://logs.example/a"/>
 <ENTRY>
   <REF HREF = 'mms://a.example/news' />
   <Ref href=http://b.example/news?a=1&b=2>
   <ref href="mmsh://c.example/news"></ref>
   <Param name="x" value="y"/>
 <Entry><Title>Second</title><Ref href="http://d.example/x"/>
 <entry></entry>
 <EntryRef href="http://e.example/more.asx"/>
</ASX>
<ASX><Entry><Ref href="http://ignored"/></Entry></ASX>`;
  const p = parseAsx(text);
  t.is(p.version, '3.0');
  t.is(p.title, 'News & Weather');
  t.deepEqual(p.logUrls, ['http://logs.example/a']);
  t.deepEqual(
    p.entries.map((e) => e.entryRef ?? e.refs),
    [['mms://a.example/news', 'http://b.example/news?a=1&b=2', 'mmsh://c.example/news'], ['http://d.example/x'], 'http://e.example/more.asx'],
  );
  t.is(p.entries[1]!.title, 'Second');
});

test('parseAsx reads the [Reference] INI form in Ref order', (t) => {
  const p = parseAsx('[Reference]\r\nRef2=http://b/x?MSWMExt=.asf\r\nRef1=http://a/x?MSWMExt=.asf\r\n');
  t.deepEqual(p.entries[0]!.refs, ['http://a/x?MSWMExt=.asf', 'http://b/x?MSWMExt=.asf']);
});

test('parseAsx refuses garbage with a precise MssError', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /no <ASX> element/],
    ['hello world', /no <ASX> element/],
    ['<html><body>404</body></html>', /no <ASX> element/],
    ['<ASX version="3.0"></ASX>', /no <Entry>/],
    ['<ASX><Entry><Ref/></Entry></ASX>', /<Ref> has no href at offset 12/],
    ['<ASX><Entry><Ref href="x', /attribute value is not closed at offset 22/],
    ['<ASX><!-- never closed', /comment is not closed at offset 5/],
    ['[Reference]\nnothing', /no RefN= line/],
    ['<ASX>' + '<Entry><Ref href="u"/></Entry>'.repeat(1001) + '</ASX>', /more than 1000 entries/],
    ['<ASX><Entry>' + '<Ref href="u"/>'.repeat(33) + '</Entry></ASX>', /more than 32 refs/],
    ['x'.repeat(300 * 1024), /more than the 262144 allowed/],
  ];
  for (const [text, re] of cases) {
    const err = t.throws(() => parseAsx(text), undefined, text.slice(0, 40));
    t.true(err instanceof MssError);
    t.regex(err!.message, re);
  }
});

test('buildAsx refuses empty announcements and control characters', (t) => {
  t.throws(() => buildAsx({ entries: [] }), { message: /at least one entry/ });
  t.throws(() => buildAsx({ entries: [{ refs: [] }] }), { message: /entries\[0\] needs at least one ref/ });
  t.throws(() => buildAsx({ entries: [{ refs: ['http://x/\u0001'] }] }), { message: /entries\[0\]\.refs\[0\] holds a control character/ });
});

test('parseAsx either parses or throws MssError on 20k mutated documents (seeded fuzz)', (t) => {
  const rand = prng(42);
  const base = buildAsx({ title: 't', logUrl: 'http://l', entries: [{ title: 'a', refs: ['mmsh://h/a', 'http://h/a'] }, { refs: ['mmsh://h/b'] }] });
  const alphabet = '<>/="\'&;!-?[] \nAaEeRrXxSs';
  for (let i = 0; i < 20_000; i++) {
    const chars = base.split('');
    const edits = 1 + Math.floor(rand() * 8);
    for (let e = 0; e < edits; e++) {
      const pos = Math.floor(rand() * chars.length);
      const op = rand();
      if (op < 0.4) chars[pos] = alphabet[Math.floor(rand() * alphabet.length)]!;
      else if (op < 0.7) chars.splice(pos, 1 + Math.floor(rand() * 5));
      else if (op < 0.9) chars.splice(pos, 0, alphabet[Math.floor(rand() * alphabet.length)]!);
      else chars.length = pos;
    }
    try {
      const p = parseAsx(chars.join(''));
      t.true(p.entries.length > 0);
    } catch (err) {
      if (!(err instanceof MssError)) t.fail(`non-MssError ${String(err)} for ${JSON.stringify(chars.join(''))}`);
    }
  }
  t.pass();
});
