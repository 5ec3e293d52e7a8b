/**
 * MS-WMLOG codec entry point: turns what a player sent (a WMSP `log-line` Pragma, an XML LogStats body, a
 * web-server `MX_STATS_LogLine:` body) into one typed PlayerLog, and back. Pure: no I/O, bounded, total.
 */
import { MssError } from '../../core/errors.js';
import type { W3cForm, WmlogRecord } from './fields.js';
import { parseW3cLine, parseWebServerLog } from './w3c.js';
import { parseXmlLog, type NameValue } from './xml.js';

export * from './fields.js';
export { parseW3cLine, formatW3cLine, parseWebServerLog, buildWebServerLog, MAX_W3C_LINE } from './w3c.js';
export { parseXmlLog, buildXmlLog, escapeXml, MAX_XML_CHARS, type XmlLog, type NameValue } from './xml.js';

/** the four log kinds of MS-WMLOG 2.5-2.8 */
export type PlayerLogKind = 'legacy' | 'streaming' | 'rendering' | 'connect-time';
/** how the log was encoded on the wire */
export type PlayerLogEncoding = 'w3c' | 'xml' | 'web';

export interface PlayerLog {
  kind: PlayerLogKind;
  encoding: PlayerLogEncoding;
  /** field count of the W3C line (Summary for XML); undefined for connect-time logs */
  form: W3cForm | undefined;
  record: WmlogRecord;
  contentDescription: NameValue[];
  vendor: Array<{ tag: string; values: NameValue[] }>;
}

export interface PlayerLogInput {
  /** Content-Type of the POST, if any */
  contentType?: string;
  body: Buffer;
  /** the value of a `Pragma: log-line=` token (legacy WMSP logs carry the line there, with an empty body) */
  logLine?: string;
  /** largest body accepted */
  maxBytes: number;
}

export const LOGSTATS_CONTENT_TYPE = 'application/x-wms-LogStats';

const XML_TYPES = ['application/x-wms-sendevent', 'application/x-wms-logstats', 'application/x-wms-logplaystats', 'application/x-wms-logconnectstats', 'text/xml', 'application/xml'];

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new MssError('malformed', `log body: ${body.length} bytes are not valid UTF-8`);
  }
}

/** Decodes a log a player (or proxy) sent, whichever of the three encodings it used. */
export function parsePlayerLog(input: PlayerLogInput): PlayerLog {
  const { body, maxBytes } = input;
  if (body.length > maxBytes) {
    throw new MssError('too-large', `log body: ${body.length} bytes, limit ${maxBytes}`, { bytes: body.length, limit: maxBytes });
  }
  const mediaType = (input.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (body.length === 0) {
    if (input.logLine === undefined || input.logLine.trim() === '') {
      throw new MssError('malformed', 'log: empty body and no log-line Pragma');
    }
    if (input.logLine.length > maxBytes) {
      throw new MssError('too-large', `log-line Pragma: ${input.logLine.length} characters, limit ${maxBytes}`);
    }
    const { form, record } = parseW3cLine(input.logLine, 'log-line Pragma');
    return { kind: classify(record, form), encoding: 'w3c', form, record, contentDescription: [], vendor: [] };
  }
  let text = decodeUtf8(body);
  if (mediaType === 'application/x-wms-sendevent') {
    // a WMSP SendEvent remote-log (MS-WMSP 2.2.5): the rendering log XML sits inside the event's CDL
    const open = text.search(/<XML\s*>/i);
    const close = text.search(/<\/XML\s*>/i);
    if (open < 0 || close < open) throw new MssError('malformed', 'SendEvent: no <XML>...</XML> log in the event body');
    text = text.slice(open, close + text.slice(close).indexOf('>') + 1);
  }
  const start = text.replace(/^\uFEFF/, '').trimStart();
  if (XML_TYPES.includes(mediaType) || start.startsWith('<')) {
    const xml = parseXmlLog(text);
    const kind = mediaType === 'application/x-wms-logconnectstats' || xml.summaryForm === undefined ? 'connect-time' : classify(xml.record, xml.summaryForm);
    return { kind, encoding: 'xml', form: xml.summaryForm, record: xml.record, contentDescription: xml.contentDescription, vendor: xml.vendor };
  }
  if (start.startsWith('MX_STATS_LogLine:')) {
    const { form, record } = parseWebServerLog(text);
    return { kind: classify(record, form), encoding: 'web', form, record, contentDescription: [], vendor: [] };
  }
  if (mediaType === '' || mediaType === 'text/plain') {
    const { form, record } = parseW3cLine(text, 'log body');
    return { kind: classify(record, form), encoding: 'w3c', form, record, contentDescription: [], vendor: [] };
  }
  throw new MssError('malformed', `log: content type ${JSON.stringify(mediaType)} is not a log format (expected ${LOGSTATS_CONTENT_TYPE} or text/plain)`);
}

/**
 * Which of the log kinds a record is: 52-field lines and protocol "Cache" are rendering logs; a 47-field line
 * with both codec fields "-" follows the streaming template (2.6.1); everything else is a legacy log.
 */
export function classify(record: WmlogRecord, form: W3cForm): PlayerLogKind {
  if (form === 52 || (record.protocol ?? '').toLowerCase() === 'cache') return 'rendering';
  if (form === 47 && record.audiocodec === '-' && record.videocodec === '-') return 'streaming';
  return 'legacy';
}
