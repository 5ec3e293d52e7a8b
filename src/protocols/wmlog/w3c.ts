/**
 * MS-WMLOG W3C syntax (2.2): one line of space-separated tokens in one of three field orders, and the
 * web-server form `MX_STATS_LogLine:` (2.3). Pure, bounded, total: a value or an MssError.
 */
import { MssError } from '../../core/errors.js';
import { checkFieldValue, fieldsOfForm, toToken, type W3cForm, type WmlogRecord } from './fields.js';

/** a 52-field line with every value at its limit stays far below this */
export const MAX_W3C_LINE = 32 * 1024;

export interface W3cLog {
  form: W3cForm;
  record: WmlogRecord;
}

/**
 * Parses a W3C log line. Lines in the spec's examples wrap, so any run of whitespace separates fields.
 * The field count says the form: 44 (basic), 47 (basic + cs-url, cs-media-name, cs-media-role), 52 (rendering).
 */
export function parseW3cLine(line: string, what = 'W3C log line'): W3cLog {
  if (line.length > MAX_W3C_LINE) {
    throw new MssError('too-large', `${what}: ${line.length} characters, limit ${MAX_W3C_LINE}`, { length: line.length });
  }
  const tokens = line.trim().split(/\s+/).filter((t) => t !== '');
  const n = tokens.length;
  if (n !== 44 && n !== 47 && n !== 52) {
    throw new MssError('malformed', `${what}: has ${n} fields, expected 44, 47 or 52`, { fields: n });
  }
  const form = n as W3cForm;
  const names = fieldsOfForm(form);
  const record: WmlogRecord = {};
  for (let i = 0; i < n; i++) {
    const field = names[i]!;
    const value = tokens[i]!;
    const problem = checkFieldValue(field, value);
    if (problem) throw new MssError('malformed', `${what}: field ${i + 1} (${field}) ${problem}`, { field, index: i + 1 });
    record[field] = value;
  }
  return { form, record };
}

/** Builds a W3C line in the given form; missing values become `-`, values are made into tokens. */
export function formatW3cLine(record: WmlogRecord, form: W3cForm): string {
  return fieldsOfForm(form)
    .map((f) => toToken(f, record[f]))
    .join(' ');
}

const WEB_PREFIX = 'MX_STATS_LogLine:';

/**
 * Parses the body a player POSTs to a web-server logging URL (MS-WMLOG 2.3): `MX_STATS_LogLine:` then a
 * separator (SP TAB per the ABNF; the spec's own example shows another character) then a basic line.
 */
export function parseWebServerLog(body: string): W3cLog {
  const text = body.replace(/^\uFEFF/, '').trimStart();
  if (!text.startsWith(WEB_PREFIX)) {
    throw new MssError('malformed', `web-server log: body must start with "${WEB_PREFIX}"`, { offset: 0 });
  }
  let rest = text.slice(WEB_PREFIX.length);
  // skip the separator: whitespace, then at most one stray non-field character before the first field
  rest = rest.replace(/^[ \t]+/, '');
  if (rest.length > 0 && !/^[0-9A-Za-z-]/.test(rest)) rest = rest.slice(1);
  return parseW3cLine(rest, 'web-server log line');
}

export function buildWebServerLog(record: WmlogRecord, form: W3cForm = 47): string {
  return `${WEB_PREFIX} \t${formatW3cLine(record, form)}\r\n`;
}
