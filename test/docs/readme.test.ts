/**
 * The README's shell examples are copied into terminals as they are: an `&` inside a word (a source or URL query
 * string) must be quoted, or the shell runs the command in the background and the rest as another command.
 */
import test from '../helpers/test.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const README = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');

/** shell lines of the ```sh blocks */
function shellLines(md: string): string[] {
  const out: string[] = [];
  for (const m of md.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) out.push(...m[1]!.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')));
  return out;
}

/** `&` outside quotes that is part of a word (not `&&`, not a lone background `&`) */
export function unquotedAmpersands(line: string): number[] {
  const hits: number[] = [];
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === '\\') i++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) break;
    else if (c === '&' && line[i + 1] !== '&' && line[i - 1] !== '&' && !/\s/.test(line[i - 1] ?? ' ') && !/\s/.test(line[i + 1] ?? ' ')) hits.push(i);
  }
  return hits;
}

test('the checker finds an unquoted & in a word and passes quoted ones', (t) => {
  t.deepEqual(unquotedAmpersands("mss encode --source v4l2:/dev/video0?size=640x480&fps=25"), [49]);
  t.deepEqual(unquotedAmpersands("mss encode --source 'v4l2:/dev/video0?size=640x480&fps=25' && echo ok"), []);
  t.deepEqual(unquotedAmpersands('curl "http://h/x?a=1&b=2"'), []);
});

test('README shell examples quote every & that belongs to an argument', (t) => {
  const lines = shellLines(README);
  t.true(lines.length > 10);
  const bad = lines.filter((l) => unquotedAmpersands(l).length > 0);
  t.deepEqual(bad, []);
});
