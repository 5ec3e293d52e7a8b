/**
 * .asx announcements (Advanced Stream Redirector, ASX 3.0): the small XML file a web page or a player
 * fetches to learn the stream URLs of a publishing point. `buildAsx` writes what the server announces;
 * `parseAsx` reads what real servers and pages serve, which is often loose: mixed-case tags, unquoted
 * attributes, missing end tags, or the older `[Reference]` INI form that Windows Media Services sends.
 */
import { MssError } from '../core/errors.js';
import { escapeXml, tokenizeMarkup } from './markup.js';

export interface AsxEntry {
  title?: string;
  /** URLs to try in order: the first that plays wins, the rest are fallbacks */
  refs: string[];
  logUrl?: string;
}

export interface AsxAnnouncement {
  title?: string;
  entries: AsxEntry[];
  logUrl?: string;
}

export interface ParsedAsxEntry extends AsxEntry {
  /** every LOGURL of this entry, in order (logUrl is the first) */
  logUrls: string[];
  /** set for an <EntryRef href>: another .asx to fetch in place of this entry (refs is then empty) */
  entryRef?: string;
}

export interface ParsedAsx {
  version?: string;
  title?: string;
  logUrl?: string;
  logUrls: string[];
  entries: ParsedAsxEntry[];
}

export const MAX_ASX_CHARS = 256 * 1024;
export const MAX_ASX_ENTRIES = 1000;
export const MAX_ASX_REFS_PER_ENTRY = 32;
const MAX_URL_CHARS = 4096;

// characters XML 1.0 cannot carry at all, even escaped
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function checkText(value: string, what: string, max = MAX_URL_CHARS): string {
  if (typeof value !== 'string') throw new MssError('invalid-argument', `${what} must be a string`);
  if (value.length > max) throw new MssError('invalid-argument', `${what} is longer than ${max} characters`);
  if (XML_FORBIDDEN.test(value)) throw new MssError('invalid-argument', `${what} holds a control character XML cannot carry`);
  return escapeXml(value);
}

/** ASX 3.0 document (CRLF line ends, as Windows tools write them). Every text and attribute is escaped. */
export function buildAsx(doc: AsxAnnouncement): string {
  if (!Array.isArray(doc.entries) || doc.entries.length === 0) throw new MssError('invalid-argument', 'an .asx needs at least one entry');
  if (doc.entries.length > MAX_ASX_ENTRIES) throw new MssError('invalid-argument', `an .asx holds at most ${MAX_ASX_ENTRIES} entries`);
  const lines = ['<ASX version="3.0">'];
  if (doc.title !== undefined) lines.push(`  <Title>${checkText(doc.title, 'title', 1024)}</Title>`);
  if (doc.logUrl !== undefined) lines.push(`  <LogURL href="${checkText(doc.logUrl, 'logUrl')}"/>`);
  doc.entries.forEach((entry, i) => {
    if (!Array.isArray(entry.refs) || entry.refs.length === 0) throw new MssError('invalid-argument', `entries[${i}] needs at least one ref`);
    if (entry.refs.length > MAX_ASX_REFS_PER_ENTRY) throw new MssError('invalid-argument', `entries[${i}] has more than ${MAX_ASX_REFS_PER_ENTRY} refs`);
    lines.push('  <Entry>');
    if (entry.title !== undefined) lines.push(`    <Title>${checkText(entry.title, `entries[${i}].title`, 1024)}</Title>`);
    entry.refs.forEach((ref, j) => lines.push(`    <Ref href="${checkText(ref, `entries[${i}].refs[${j}]`)}"/>`));
    if (entry.logUrl !== undefined) lines.push(`    <LogURL href="${checkText(entry.logUrl, `entries[${i}].logUrl`)}"/>`);
    lines.push('  </Entry>');
  });
  lines.push('</ASX>', '');
  return lines.join('\r\n');
}

function cleanUrl(href: string | undefined, what: string, offset: number): string {
  const url = (href ?? '').trim();
  if (url === '') throw new MssError('malformed', `.asx: ${what} has no href at offset ${offset}`, { offset });
  if (url.length > MAX_URL_CHARS) throw new MssError('too-large', `.asx: ${what} href is longer than ${MAX_URL_CHARS} characters at offset ${offset}`, { offset });
  return url;
}

/** The `[Reference]` form: `Ref1=http://...` lines, one entry with the refs in number order. */
function parseReferenceIni(text: string): ParsedAsx {
  const refs: Array<{ n: number; url: string }> = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*Ref(\d{1,4})\s*=\s*(\S.*?)\s*$/i.exec(line);
    if (m) refs.push({ n: Number(m[1]), url: m[2]! });
    if (refs.length > MAX_ASX_REFS_PER_ENTRY) throw new MssError('too-large', `.asx [Reference] has more than ${MAX_ASX_REFS_PER_ENTRY} refs`);
  }
  if (refs.length === 0) throw new MssError('malformed', '.asx [Reference] section has no RefN= line');
  refs.sort((a, b) => a.n - b.n);
  return { logUrls: [], entries: [{ refs: refs.map((r) => r.url), logUrls: [] }] };
}

/** Reads an .asx. Throws MssError ('malformed' / 'too-large') naming the offset when it is not one. */
export function parseAsx(text: string): ParsedAsx {
  if (typeof text !== 'string') throw new MssError('malformed', '.asx must be text');
  if (text.length > MAX_ASX_CHARS) throw new MssError('too-large', `.asx is ${text.length} characters, more than the ${MAX_ASX_CHARS} allowed`);
  if (/^\s*\[Reference\]/i.test(text.replace(/^\ufeff/, ''))) return parseReferenceIni(text);

  const tokens = tokenizeMarkup(text, { what: '.asx', maxChars: MAX_ASX_CHARS, maxTokens: 50_000 });
  const out: ParsedAsx = { logUrls: [], entries: [] };
  let inAsx = false;
  let sawAsx = false;
  let entry: ParsedAsxEntry | undefined;
  let titleOf: { target: { title?: string } } | undefined;

  const closeEntry = () => {
    if (entry) {
      if (entry.refs.length === 0 && entry.entryRef === undefined) {
        // an entry without any URL cannot be played; skip it (real files have empty placeholder entries)
      } else out.entries.push(entry);
    }
    entry = undefined;
  };

  for (const tok of tokens) {
    if (tok.kind === 'pi') continue;
    if (!inAsx) {
      if (tok.kind === 'open' && tok.name === 'asx') {
        if (sawAsx) break; // a second document: ignore it
        inAsx = sawAsx = true;
        const v = tok.attrs.get('version');
        if (v !== undefined) out.version = v;
        if (tok.selfClosing) inAsx = false;
      }
      continue;
    }
    if (tok.kind === 'text') {
      if (titleOf) titleOf.target.title = ((titleOf.target.title ?? '') + tok.text).trim().slice(0, 1024);
      continue;
    }
    if (tok.kind === 'close') {
      if (tok.name === 'title') titleOf = undefined;
      else if (tok.name === 'entry') closeEntry();
      else if (tok.name === 'asx') {
        closeEntry();
        inAsx = false;
      }
      continue;
    }
    // open tags
    switch (tok.name) {
      case 'entry':
        closeEntry(); // a missing </Entry> ends the previous entry
        if (out.entries.length >= MAX_ASX_ENTRIES) throw new MssError('too-large', `.asx has more than ${MAX_ASX_ENTRIES} entries`, { offset: tok.offset });
        titleOf = undefined;
        entry = { refs: [], logUrls: [] };
        if (tok.selfClosing) closeEntry();
        break;
      case 'ref':
        if (!entry) break; // a Ref outside an Entry has no meaning in ASX 3.0
        if (entry.refs.length >= MAX_ASX_REFS_PER_ENTRY) throw new MssError('too-large', `.asx entry has more than ${MAX_ASX_REFS_PER_ENTRY} refs`, { offset: tok.offset });
        entry.refs.push(cleanUrl(tok.attrs.get('href'), '<Ref>', tok.offset));
        break;
      case 'entryref': {
        closeEntry();
        if (out.entries.length >= MAX_ASX_ENTRIES) throw new MssError('too-large', `.asx has more than ${MAX_ASX_ENTRIES} entries`, { offset: tok.offset });
        out.entries.push({ refs: [], logUrls: [], entryRef: cleanUrl(tok.attrs.get('href'), '<EntryRef>', tok.offset) });
        break;
      }
      case 'logurl': {
        const url = cleanUrl(tok.attrs.get('href'), '<LogURL>', tok.offset);
        const target = entry ?? out;
        if (target.logUrls.length < MAX_ASX_REFS_PER_ENTRY) {
          target.logUrls.push(url);
          target.logUrl ??= url;
        }
        break;
      }
      case 'title':
        if (!tok.selfClosing) titleOf = { target: entry ?? out };
        break;
      default:
        break; // Abstract, Author, Copyright, Param, Banner, MoreInfo, Repeat...: not needed to play
    }
  }
  closeEntry();
  if (!sawAsx) throw new MssError('malformed', '.asx has no <ASX> element');
  if (out.entries.length === 0) throw new MssError('malformed', '.asx has no <Entry> with a <Ref> or <EntryRef>');
  return out;
}
