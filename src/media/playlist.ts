/**
 * Server-side playlists (.wsx, the SMIL subset Windows Media Services uses):
 *
 *   <?wsx version="1.0"?>
 *   <smil>
 *     <seq repeatCount="indefinite">
 *       <media src="intro.wmv" clipEnd="10s"/>
 *       <media src="clips/main.wmv" clipBegin="00:01:00" clipEnd="00:02:30.5"/>
 *     </seq>
 *   </smil>
 *
 * Pure: no file access. Every src is resolved against the playlist's directory and refused if it climbs out
 * of it (`..`, absolute paths elsewhere, URLs). The caller still has to refuse symlinks that point outside
 * (realpath) when it opens the files. Times are returned in milliseconds.
 */
import path from 'node:path';
import { MssError } from '../core/errors.js';
import { tokenizeMarkup, type MarkupToken } from './markup.js';

export interface WsxEntry {
  /** absolute path inside baseDir */
  path: string;
  /** ms into the file where playing starts */
  clipBegin?: number;
  /** ms into the file where playing stops */
  clipEnd?: number;
}

export interface WsxPlaylist {
  entries: WsxEntry[];
  /** the whole sequence repeats forever (repeatCount="indefinite" on <smil> or the outermost <seq>) */
  loop: boolean;
}

export const MAX_WSX_CHARS = 1024 * 1024;
export const MAX_WSX_ENTRIES = 10_000;
const MAX_DEPTH = 32;
const MAX_REPEAT = 1000;
const MAX_SRC_CHARS = 1024;
const WHAT = '.wsx playlist';

interface Element {
  name: string;
  attrs: Map<string, string>;
  offset: number;
  children: Element[];
}

function fail(message: string, offset?: number): never {
  throw new MssError('malformed', `${WHAT}: ${message}${offset === undefined ? '' : ` (offset ${offset})`}`, offset === undefined ? {} : { offset });
}

/** Builds the element tree; playlists are written by operators, so nesting must be right. */
function buildTree(tokens: MarkupToken[]): { root: Element | undefined; version?: string; versionOffset?: number } {
  const top: Element = { name: '#document', attrs: new Map(), offset: 0, children: [] };
  const stack: Element[] = [top];
  let version: string | undefined;
  let versionOffset: number | undefined;
  for (const tok of tokens) {
    const parent = stack[stack.length - 1]!;
    switch (tok.kind) {
      case 'pi':
        if (tok.name === 'wsx') {
          version = tok.attrs.get('version') ?? '';
          versionOffset = tok.offset;
        }
        break;
      case 'text':
        break; // SMIL text between elements carries nothing we play
      case 'open': {
        const el: Element = { name: tok.name, attrs: tok.attrs, offset: tok.offset, children: [] };
        parent.children.push(el);
        if (!tok.selfClosing) {
          if (stack.length > MAX_DEPTH) fail(`elements nest deeper than ${MAX_DEPTH}`, tok.offset);
          stack.push(el);
        }
        break;
      }
      case 'close':
        if (parent === top || parent.name !== tok.name) {
          fail(`</${tok.name}> does not close ${parent === top ? 'any open element' : `<${parent.name}> opened at offset ${parent.offset}`}`, tok.offset);
        }
        stack.pop();
        break;
    }
  }
  if (stack.length > 1) {
    const open = stack[stack.length - 1]!;
    fail(`<${open.name}> opened at offset ${open.offset} is never closed`);
  }
  const roots = top.children;
  if (roots.length > 1) fail(`more than one top-level element (<${roots[1]!.name}>)`, roots[1]!.offset);
  return { root: roots[0], version, versionOffset };
}

/** SMIL clock value → ms: `hh:mm:ss(.f)`, `mm:ss(.f)`, or a number with an optional h/min/s/ms metric (s by default). */
export function parseClockValue(text: string): number | undefined {
  const v = text.trim();
  let m = /^(\d{1,6}):([0-5]\d):([0-5]\d(?:\.\d{1,6})?)$/.exec(v);
  if (m) return Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000);
  m = /^([0-5]?\d):([0-5]\d(?:\.\d{1,6})?)$/.exec(v);
  if (m) return Math.round((Number(m[1]) * 60 + Number(m[2])) * 1000);
  m = /^(\d{1,9}(?:\.\d{1,6})?)\s*(h|min|s|ms)?$/.exec(v);
  if (m) {
    const scale = { h: 3_600_000, min: 60_000, s: 1000, ms: 1 }[(m[2] ?? 's') as 'h' | 'min' | 's' | 'ms'];
    const ms = Math.round(Number(m[1]) * scale);
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  return undefined;
}

/** Resolves a media src against baseDir, refusing anything that would leave it. */
export function resolveMediaSrc(src: string, baseDir: string, offset?: number): string {
  const where = offset === undefined ? '' : ` at offset ${offset}`;
  const refuse = (why: string): never => {
    throw new MssError('forbidden', `${WHAT}: src ${JSON.stringify(src.slice(0, 200))}${where} ${why}`, offset === undefined ? { src } : { src, offset });
  };
  if (src.trim() === '') fail('<media> has an empty src', offset);
  if (src.length > MAX_SRC_CHARS) fail(`src longer than ${MAX_SRC_CHARS} characters`, offset);
  if (src.includes('\0')) refuse('holds a NUL character');
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(src)) {
    throw new MssError('unsupported', `${WHAT}: src ${JSON.stringify(src.slice(0, 200))}${where} is a URL; only files in the playlist's directory can be played`, { src });
  }
  // Windows-made playlists use backslashes; a drive letter (C:\...) is an absolute path we cannot honour
  const normalized = src.trim().replace(/\\/g, '/');
  if (/^[A-Za-z]:/.test(normalized)) refuse('is a Windows drive path outside the playlist directory');
  if (normalized.split('/').includes('..')) refuse("climbs out with '..'");
  const base = path.resolve(baseDir);
  const resolved = path.resolve(base, normalized);
  if (resolved !== base && !resolved.startsWith(base.endsWith(path.sep) ? base : base + path.sep)) refuse(`is outside the playlist directory ${base}`);
  if (resolved === base) refuse('names the playlist directory itself, not a file');
  return resolved;
}

function repeatCountOf(el: Element): number | 'indefinite' {
  const raw = el.attrs.get('repeatcount');
  if (raw === undefined) return 1;
  if (raw.trim().toLowerCase() === 'indefinite') return 'indefinite';
  if (!/^\d{1,4}$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > MAX_REPEAT) {
    fail(`<${el.name}> repeatCount ${JSON.stringify(raw)} must be "indefinite" or a whole number 1..${MAX_REPEAT}`, el.offset);
  }
  return Number(raw);
}

const MEDIA_ELEMENTS = new Set(['media', 'video', 'audio', 'ref']);
const UNSUPPORTED = new Set(['par', 'excl', 'switch', 'priorityclass', 'smiltext']);

export function parseWsxPlaylist(text: string, baseDir: string): WsxPlaylist {
  if (typeof text !== 'string') fail('must be text');
  const tokens = tokenizeMarkup(text, { what: WHAT, maxChars: MAX_WSX_CHARS, maxTokens: 4 * MAX_WSX_ENTRIES });
  const { root, version, versionOffset } = buildTree(tokens);
  if (version !== undefined && version.trim() !== '1.0') {
    throw new MssError('unsupported', `${WHAT}: <?wsx version=${JSON.stringify(version)}?> (offset ${versionOffset}) is not 1.0`);
  }
  if (!root || root.name !== 'smil') fail(root ? `top-level element is <${root.name}>, expected <smil>` : 'has no <smil> element', root?.offset);

  let loop = false;
  const entries: WsxEntry[] = [];

  const add = (items: WsxEntry[], at: number) => {
    if (entries.length + items.length > MAX_WSX_ENTRIES) fail(`more than ${MAX_WSX_ENTRIES} entries (repeats included)`, at);
    entries.push(...items);
  };

  // Returns the entries of `el` in play order, repeats expanded (bounded as they grow).
  // `outermost`: nothing plays before or after `el`, so an indefinite repeat inside it is a whole-playlist loop
  const collect = (el: Element, outermost: boolean): WsxEntry[] => {
    const out: WsxEntry[] = [];
    const onlyContent = outermost && el.children.filter((c) => c.name === 'seq' || c.name === 'body' || MEDIA_ELEMENTS.has(c.name)).length === 1;
    const push = (items: WsxEntry[]) => {
      if (out.length + items.length + entries.length > MAX_WSX_ENTRIES) fail(`more than ${MAX_WSX_ENTRIES} entries (repeats included)`, el.offset);
      out.push(...items);
    };
    for (const child of el.children) {
      if (MEDIA_ELEMENTS.has(child.name)) push(mediaEntries(child));
      else if (child.name === 'seq') {
        const count = repeatCountOf(child);
        if (count === 'indefinite') {
          if (!onlyContent) {
            throw new MssError('unsupported', `${WHAT}: repeatCount="indefinite" is only supported on <smil> or a <seq> that is its only content (offset ${child.offset})`);
          }
          loop = true;
        }
        const inner = collect(child, onlyContent && (count === 'indefinite' || count === 1));
        for (let r = 0; r < (count === 'indefinite' ? 1 : count); r++) push(inner);
      } else if (UNSUPPORTED.has(child.name)) {
        throw new MssError('unsupported', `${WHAT}: <${child.name}> (offset ${child.offset}) is not supported; use <seq> and <media>`);
      } else if (child.name === 'body') push(collect(child, onlyContent));
      // <head>, <meta>, <clientData> and the like describe, they do not play
    }
    return out;
  };

  const mediaEntries = (el: Element): WsxEntry[] => {
    const src = el.attrs.get('src');
    if (src === undefined) fail(`<${el.name}> has no src`, el.offset);
    const entry: WsxEntry = { path: resolveMediaSrc(src, baseDir, el.offset) };
    const time = (attr: string): number | undefined => {
      const raw = el.attrs.get(attr);
      if (raw === undefined) return undefined;
      const ms = parseClockValue(raw);
      if (ms === undefined) fail(`<${el.name}> ${attr}=${JSON.stringify(raw.slice(0, 40))} is not a clock value (like 30s, 1:30 or 00:01:30.5)`, el.offset);
      return ms;
    };
    const begin = time('clipbegin');
    let end = time('clipend');
    const dur = time('dur');
    if (end === undefined && dur !== undefined) end = (begin ?? 0) + dur;
    if (begin !== undefined && begin > 0) entry.clipBegin = begin;
    if (end !== undefined) {
      if (end <= (begin ?? 0)) fail(`<${el.name}> clipEnd (${end} ms) is not after clipBegin (${begin ?? 0} ms)`, el.offset);
      entry.clipEnd = end;
    }
    const count = repeatCountOf(el);
    if (count === 'indefinite') throw new MssError('unsupported', `${WHAT}: repeatCount="indefinite" on <${el.name}> (offset ${el.offset}) is not supported; put it on the <seq>`);
    return Array.from({ length: count }, () => ({ ...entry }));
  };

  const rootRepeat = repeatCountOf(root);
  if (rootRepeat === 'indefinite') loop = true;
  const body = collect(root, rootRepeat === 'indefinite' || rootRepeat === 1);
  for (let r = 0; r < (rootRepeat === 'indefinite' ? 1 : rootRepeat); r++) add(body, root.offset);
  if (entries.length === 0) fail('has no <media src=...> entries');
  return { entries, loop };
}
