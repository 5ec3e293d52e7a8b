/**
 * A small, tolerant tokenizer for the XML-like announcement and playlist files (.asx, .wsx).
 * Real .asx files are often not well-formed XML (mixed-case tags, unquoted attributes, bare `&`), so this
 * does not validate nesting: it yields tags and text in order and leaves structure to the caller.
 * Bounded and total: input size, token count, attributes per tag and name lengths are capped; anything
 * it cannot tokenize is an MssError('malformed') naming the byte offset.
 */
import { MssError } from '../core/errors.js';

export type MarkupToken =
  | { kind: 'open'; name: string; attrs: Map<string, string>; selfClosing: boolean; offset: number }
  | { kind: 'close'; name: string; offset: number }
  | { kind: 'text'; text: string; offset: number }
  /** processing instruction such as `<?wsx version="1.0"?>` */
  | { kind: 'pi'; name: string; attrs: Map<string, string>; offset: number };

export interface MarkupLimits {
  /** what the file is, for error messages (".asx", ".wsx playlist") */
  what: string;
  maxChars: number;
  maxTokens: number;
}

const MAX_ATTRS = 64;
const MAX_NAME = 64;
const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:.-]/;

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes XML character and entity references; anything unknown (a bare `&`) is kept as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,6});/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) return String.fromCodePoint(code);
      return whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/** Escapes text for an XML attribute value or element content. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function tokenizeMarkup(input: string, limits: MarkupLimits): MarkupToken[] {
  if (input.length > limits.maxChars) {
    throw new MssError('too-large', `${limits.what} is ${input.length} characters, more than the ${limits.maxChars} allowed`, { size: input.length });
  }
  const tokens: MarkupToken[] = [];
  const n = input.length;
  let i = input.charCodeAt(0) === 0xfeff ? 1 : 0; // byte order mark
  const fail = (message: string, at: number): never => {
    throw new MssError('malformed', `${limits.what}: ${message} at offset ${at}`, { offset: at });
  };
  const push = (t: MarkupToken) => {
    if (tokens.length >= limits.maxTokens) {
      throw new MssError('too-large', `${limits.what} has more than ${limits.maxTokens} tags and text runs`, { offset: t.offset });
    }
    tokens.push(t);
  };
  const readName = (): string => {
    const start = i;
    if (i < n && NAME_START.test(input[i]!)) {
      i++;
      while (i < n && NAME_CHAR.test(input[i]!)) i++;
    }
    if (i - start > MAX_NAME) fail(`name longer than ${MAX_NAME} characters`, start);
    return input.slice(start, i);
  };
  const skipWs = () => {
    while (i < n && /\s/.test(input[i]!)) i++;
  };
  const readAttrs = (tagStart: number, end: '>' | '?>'): { attrs: Map<string, string>; selfClosing: boolean } => {
    const attrs = new Map<string, string>();
    for (;;) {
      skipWs();
      if (i >= n) fail('tag is not closed', tagStart);
      if (input.startsWith(end, i)) {
        i += end.length;
        return { attrs, selfClosing: false };
      }
      if (end === '>' && input.startsWith('/>', i)) {
        i += 2;
        return { attrs, selfClosing: true };
      }
      const nameAt = i;
      const name = readName().toLowerCase();
      if (!name) fail(`unexpected ${JSON.stringify(input[i])} in tag`, i);
      skipWs();
      let value = '';
      if (input[i] === '=') {
        i++;
        skipWs();
        const q = input[i];
        if (q === '"' || q === "'") {
          const close = input.indexOf(q, i + 1);
          if (close < 0) fail('attribute value is not closed', i);
          value = input.slice(i + 1, close);
          i = close + 1;
        } else {
          const start = i;
          while (i < n && !/[\s>]/.test(input[i]!) && !input.startsWith('/>', i) && !(end === '?>' && input.startsWith('?>', i))) i++;
          value = input.slice(start, i);
        }
      }
      if (attrs.size >= MAX_ATTRS) fail(`more than ${MAX_ATTRS} attributes in one tag`, nameAt);
      if (!attrs.has(name)) attrs.set(name, decodeEntities(value)); // first one wins, like browsers
    }
  };

  let textStart = i;
  const flushText = (end: number) => {
    if (end > textStart) {
      const raw = input.slice(textStart, end);
      if (raw.trim() !== '') push({ kind: 'text', text: decodeEntities(raw), offset: textStart });
    }
  };
  while (i < n) {
    const lt = input.indexOf('<', i);
    if (lt < 0) break;
    i = lt;
    const next = input[i + 1];
    if (input.startsWith('<!--', i)) {
      flushText(i);
      const end = input.indexOf('-->', i + 4);
      if (end < 0) fail('comment is not closed', i);
      i = end + 3;
      textStart = i;
    } else if (input.startsWith('<![CDATA[', i)) {
      flushText(i);
      const end = input.indexOf(']]>', i + 9);
      if (end < 0) fail('CDATA section is not closed', i);
      push({ kind: 'text', text: input.slice(i + 9, end), offset: i });
      i = end + 3;
      textStart = i;
    } else if (next === '!') {
      flushText(i); // <!DOCTYPE ...> and the like: skipped
      const end = input.indexOf('>', i);
      if (end < 0) fail('declaration is not closed', i);
      i = end + 1;
      textStart = i;
    } else if (next === '?') {
      flushText(i);
      const at = i;
      i += 2;
      const name = readName().toLowerCase();
      if (!name) fail('processing instruction has no name', at);
      const { attrs } = readAttrs(at, '?>');
      push({ kind: 'pi', name, attrs, offset: at });
      textStart = i;
    } else if (next === '/') {
      flushText(i);
      const at = i;
      i += 2;
      const name = readName().toLowerCase();
      if (!name) fail('closing tag has no name', at);
      skipWs();
      if (input[i] !== '>') fail(`closing tag </${name}> is not closed`, at);
      i++;
      push({ kind: 'close', name, offset: at });
      textStart = i;
    } else if (next !== undefined && NAME_START.test(next)) {
      flushText(i);
      const at = i;
      i += 1;
      const name = readName().toLowerCase();
      const { attrs, selfClosing } = readAttrs(at, '>');
      push({ kind: 'open', name, attrs, selfClosing, offset: at });
      textStart = i;
    } else {
      i += 1; // a lone '<' in text: tolerated as text
    }
  }
  flushText(n);
  return tokens;
}
