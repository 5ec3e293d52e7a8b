/**
 * MS-WMLOG XML logs (2.4, 2.8): `<XML><Summary>W3C line</Summary><c-ip>…</c-ip>…</XML>`, optionally with a
 * `<ContentDescription>` and vendor elements. Real documents are messy (the spec's own grammar has closing tags
 * without the slash; proxies duplicate tags), so the reader is forgiving about tags but strict about values:
 * one regex per known tag, first occurrence wins, per-field tags override the Summary line.
 * Pure and bounded: a value or an MssError, linear in the input.
 */
import { MssError } from '../../core/errors.js';
import { ALL_FIELDS, checkFieldValue, fieldsOfForm, isWmlogField, toToken, type W3cForm, type WmlogField, type WmlogRecord } from './fields.js';
import { formatW3cLine, parseW3cLine } from './w3c.js';

/** the largest XML document the codec looks at, whatever the caller allows */
export const MAX_XML_CHARS = 1024 * 1024;
const MAX_EXTRA_VALUE = 1024;
const MAX_PAIRS = 64;
const MAX_VENDOR_BLOCKS = 16;

export type NameValue = [name: string, value: string];

export interface XmlLog {
  /** the form of the Summary line, or undefined when the Summary is empty (connect-time logs) */
  summaryForm: W3cForm | undefined;
  record: WmlogRecord;
  contentDescription: NameValue[];
  /** vendor-defined elements (MS-WMLOG 1.7): kept for export, never interpreted */
  vendor: Array<{ tag: string; values: NameValue[] }>;
}

const ENTITY = /&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/g;

const BARE_AMP = /&(?!(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);)/;

function decodeEntities(text: string, what: string): string {
  if (BARE_AMP.test(text)) throw new MssError('malformed', `${what}: bare "&" or unknown entity (write &amp;)`);
  return text.replace(ENTITY, (_m, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new MssError('malformed', `${what}: character reference &${e}; is not a character`);
    return String.fromCodePoint(code);
  });
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

function tagPattern(tag: string): RegExp {
  const t = tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // the value has no '<'; the closing tag may lack its slash (typos in the spec's grammar)
  return new RegExp(`<${t}\\s*>([^<]*)<\\/?${t}\\s*>`, 'i');
}

const FIELD_PATTERNS = new Map<WmlogField, RegExp>(ALL_FIELDS.map((f) => [f, tagPattern(f)]));

/** Element value → W3C token: surrounding whitespace dropped, inner whitespace becomes `_` (MS-WMLOG 2.4). */
function fieldValue(field: WmlogField, raw: string): string {
  const what = `XML log: <${field}>`;
  const decoded = decodeEntities(raw, what).trim();
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(decoded)) {
    throw new MssError('malformed', `${what} contains control characters`, { field });
  }
  const value = decoded === '' ? '-' : decoded.replace(/\s+/g, '_');
  const problem = checkFieldValue(field, value);
  if (problem) throw new MssError('malformed', `${what} ${problem}`, { field });
  return value;
}

/** the element <tag>…</tag> whose content starts at `start` (just after its open tag); linear indexOf search */
function elementFrom(xml: string, tag: string, openAt: number, start: number): { inner: string; open: number; end: number } {
  const closeText = `</${tag}>`;
  const close = xml.indexOf(closeText, start);
  if (close < 0) throw new MssError('malformed', `XML log: <${tag}> at character ${openAt} is not closed`, { offset: openAt });
  return { inner: xml.slice(start, close), open: openAt, end: close + closeText.length };
}

const PAIR = /<([A-Za-z_][A-Za-z0-9_.:-]{0,63})\s*>([^<]*)<\/\1\s*>/g;

function pairsOf(inner: string, what: string): NameValue[] {
  const out: NameValue[] = [];
  for (const m of inner.matchAll(PAIR)) {
    if (out.length >= MAX_PAIRS) throw new MssError('too-large', `${what}: more than ${MAX_PAIRS} entries`);
    const name = m[1]!;
    const value = decodeEntities(m[2]!, `${what} <${name}>`).trim();
    if (value.length > MAX_EXTRA_VALUE) throw new MssError('too-large', `${what} <${name}>: ${value.length} characters, limit ${MAX_EXTRA_VALUE}`);
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) throw new MssError('malformed', `${what} <${name}> contains control characters`);
    out.push([name, value]);
  }
  return out;
}

/** Parses an XML log document (the body of an application/x-wms-LogStats POST or an RTSP log SET_PARAMETER). */
export function parseXmlLog(text: string): XmlLog {
  if (text.length > MAX_XML_CHARS) throw new MssError('too-large', `XML log: ${text.length} characters, limit ${MAX_XML_CHARS}`);
  let doc = text.replace(/^\uFEFF/, '').trim();
  if (doc.startsWith('<?')) {
    const end = doc.indexOf('?>');
    if (end < 0) throw new MssError('malformed', 'XML log: XML declaration is not closed');
    doc = doc.slice(end + 2).trim();
  }
  if (!/^<XML\s*>/i.test(doc)) throw new MssError('malformed', `XML log: must start with <XML>, got ${JSON.stringify(doc.slice(0, 20))}`, { offset: 0 });
  if (!/<\/XML\s*>$/i.test(doc)) throw new MssError('malformed', 'XML log: must end with </XML>', { offset: doc.length });
  const body = doc.replace(/^<XML\s*>/i, '').replace(/<\/XML\s*>$/i, '');

  let summaryForm: W3cForm | undefined;
  const record: WmlogRecord = {};
  const summary = /<Summary\s*>([^<]*)<\/?Summary\s*>/i.exec(body);
  if (summary && summary[1]!.trim() !== '') {
    const parsed = parseW3cLine(decodeEntities(summary[1]!, 'XML log: <Summary>'), 'XML log: <Summary>');
    summaryForm = parsed.form;
    Object.assign(record, parsed.record);
  }

  // ContentDescription and vendor blocks are cut out first so their inner elements are not read as fields
  let rest = body;
  let contentDescription: NameValue[] = [];
  const vendor: XmlLog['vendor'] = [];
  let blocks = 0;
  // an element whose content starts with another element is a block (ContentDescription or a vendor's);
  // blocks are cut out first so their inner elements are never read as log fields
  const blockOpen = /<([A-Za-z_][A-Za-z0-9_.:-]{0,63})>(?=\s*<[A-Za-z_])/g;
  for (let m = blockOpen.exec(rest); m; m = blockOpen.exec(rest)) {
    const tag = m[1]!;
    if (tag.toLowerCase() === 'summary' || isWmlogField(tag)) continue;
    if (++blocks > MAX_VENDOR_BLOCKS + 1) throw new MssError('too-large', `XML log: more than ${MAX_VENDOR_BLOCKS} vendor elements`);
    const block = elementFrom(rest, tag, m.index, m.index + m[0].length);
    if (tag === 'ContentDescription') {
      if (contentDescription.length === 0) contentDescription = pairsOf(block.inner, 'XML log: <ContentDescription>');
    } else {
      if (vendor.length >= MAX_VENDOR_BLOCKS) throw new MssError('too-large', `XML log: more than ${MAX_VENDOR_BLOCKS} vendor elements`);
      vendor.push({ tag, values: pairsOf(block.inner, `XML log: <${tag}>`) });
    }
    rest = rest.slice(0, block.open) + rest.slice(block.end);
    blockOpen.lastIndex = block.open;
  }

  let fieldCount = 0;
  for (const [field, pattern] of FIELD_PATTERNS) {
    const m = pattern.exec(rest);
    if (!m) continue;
    record[field] = fieldValue(field, m[1]!);
    fieldCount++;
  }
  if (summaryForm === undefined && fieldCount === 0) {
    throw new MssError('malformed', 'XML log: neither a <Summary> line nor any log field element');
  }
  // without a Summary (connect-time logs) the elements must say something beyond the address players fake
  if (summaryForm === undefined && !Object.entries(record).some(([f, v]) => f !== 'c-ip' && v !== '-')) {
    throw new MssError('malformed', 'XML log: no <Summary> line and every field element is empty');
  }
  return { summaryForm, record, contentDescription, vendor };
}

export interface BuildXmlLogOptions {
  /** the Summary line's form; connect-time logs have an empty Summary */
  form: W3cForm | 'connect-time';
  contentDescription?: NameValue[];
}

const CONNECT_TIME_FIELDS: readonly WmlogField[] = ['c-dns', 'c-ip', 'c-os', 'c-osversion', 'date', 'time', 'c-cpu', 'transport'];

/** Builds an XML log document as WMP sends it (application/x-wms-LogStats body). */
export function buildXmlLog(record: WmlogRecord, opts: BuildXmlLogOptions): string {
  const parts: string[] = ['<XML>'];
  if (opts.form === 'connect-time') {
    parts.push('<Summary></Summary>');
    for (const f of CONNECT_TIME_FIELDS) parts.push(`<${f}>${escapeXml(toToken(f, record[f]))}</${f}>`);
  } else {
    parts.push(`<Summary>${escapeXml(formatW3cLine(record, opts.form))}</Summary>`);
    for (const f of fieldsOfForm(opts.form)) parts.push(`<${f}>${escapeXml(toToken(f, record[f]))}</${f}>`);
  }
  if (opts.contentDescription && opts.contentDescription.length > 0) {
    parts.push('<ContentDescription>');
    for (const [name, value] of opts.contentDescription.slice(0, MAX_PAIRS)) {
      const safe = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name) ? name : 'entry';
      parts.push(`<${safe}>${escapeXml(value.slice(0, MAX_EXTRA_VALUE))}</${safe}>`);
    }
    parts.push('</ContentDescription>');
  }
  parts.push('</XML>');
  return parts.join('\r\n');
}
