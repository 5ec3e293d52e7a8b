/**
 * MS-WMLOG log fields: names, the three W3C field orders (44, 47 and 52 fields) and the shape each value
 * must have. Pure data, shared by the W3C-line and XML codecs and by the W3C file writer.
 */

/** log_data44: the basic line every log kind starts with (MS-WMLOG 2.2.1) */
export const FIELDS_44 = [
  'c-ip', 'date', 'time', 'c-dns', 'cs-uri-stem', 'c-starttime', 'x-duration', 'c-rate', 'c-status', 'c-playerid',
  'c-playerversion', 'c-playerlanguage', 'cs-User-Agent', 'cs-Referer', 'c-hostexe', 'c-hostexever', 'c-os',
  'c-osversion', 'c-cpu', 'filelength', 'filesize', 'avgbandwidth', 'protocol', 'transport', 'audiocodec',
  'videocodec', 'c-channelURL', 'sc-bytes', 'c-bytes', 's-pkts-sent', 'c-pkts-received', 'c-pkts-lost-client',
  'c-pkts-lost-net', 'c-pkts-lost-cont-net', 'c-resendreqs', 'c-pkts-recovered-ECC', 'c-pkts-recovered-resent',
  'c-buffercount', 'c-totalbuffertime', 'c-quality', 's-ip', 's-dns', 's-totalclients', 's-cpu-util',
] as const;

/** the optional tail of the basic line (47-field form) */
export const FIELDS_47_TAIL = ['cs-url', 'cs-media-name', 'cs-media-role'] as const;

/** the tail of log_data52 (rendering logs, MS-WMLOG 2.2.2): note cs-url etc. sit at other positions than in the 47 form */
export const FIELDS_52_TAIL = [
  'cs-user-name', 's-session-id', 's-content-path', 'cs-url', 'cs-media-name', 'c-max-bandwidth', 'cs-media-role', 's-proxied',
] as const;

export const FIELDS_47 = [...FIELDS_44, ...FIELDS_47_TAIL] as const;
export const FIELDS_52 = [...FIELDS_44, ...FIELDS_52_TAIL] as const;

export type WmlogField = (typeof FIELDS_52)[number];
/** every value is a W3C token: no spaces, `-` when empty */
export type WmlogRecord = Partial<Record<WmlogField, string>>;
export type W3cForm = 44 | 47 | 52;

export const ALL_FIELDS: readonly WmlogField[] = FIELDS_52;
const FIELD_SET = new Set<string>(ALL_FIELDS);

export function isWmlogField(name: string): name is WmlogField {
  return FIELD_SET.has(name);
}

export function fieldsOfForm(form: W3cForm): readonly WmlogField[] {
  return form === 44 ? FIELDS_44 : form === 47 ? FIELDS_47 : FIELDS_52;
}

/** the value shape a field must have (besides `-`, which every field accepts) */
export type FieldShape = 'count' | 'decimal' | 'signed-decimal' | 'date' | 'time' | 'status' | 'text';

const SHAPES: Partial<Record<WmlogField, FieldShape>> = {
  date: 'date',
  time: 'time',
  'c-status': 'status',
  'c-rate': 'signed-decimal',
  'c-starttime': 'decimal',
  'x-duration': 'decimal',
  filelength: 'decimal',
  'c-totalbuffertime': 'decimal',
  'c-quality': 'decimal',
  's-cpu-util': 'decimal',
  filesize: 'count',
  avgbandwidth: 'count',
  'sc-bytes': 'count',
  'c-bytes': 'count',
  's-pkts-sent': 'count',
  'c-pkts-received': 'count',
  'c-pkts-lost-client': 'count',
  'c-pkts-lost-net': 'count',
  'c-pkts-lost-cont-net': 'count',
  'c-resendreqs': 'count',
  'c-pkts-recovered-ECC': 'count',
  'c-pkts-recovered-resent': 'count',
  'c-buffercount': 'count',
  's-totalclients': 'count',
  'c-max-bandwidth': 'count',
  's-proxied': 'count',
};

export function shapeOf(field: WmlogField): FieldShape {
  return SHAPES[field] ?? 'text';
}

/** longest accepted value per field (MS-WMLOG caps codec lists at 256 and c-os at 64; URLs get room) */
export function maxLengthOf(field: WmlogField): number {
  switch (field) {
    case 'audiocodec':
    case 'videocodec':
      return 256;
    case 'c-os':
      return 64;
    case 'cs-uri-stem':
    case 'cs-url':
    case 'cs-Referer':
    case 'c-channelURL':
    case 's-content-path':
      return 2048;
    case 'cs-User-Agent':
    case 'cs-media-name':
      return 512;
    default:
      return shapeOf(field) === 'text' ? 256 : 24;
  }
}

const SHAPE_PATTERNS: Record<Exclude<FieldShape, 'text'>, RegExp> = {
  count: /^\d{1,20}$/,
  decimal: /^\d{1,15}(\.\d{1,9})?$/,
  'signed-decimal': /^-?\d{1,15}(\.\d{1,9})?$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  time: /^\d{2}:\d{2}:\d{2}(\.\d{1,3})?$/,
  status: /^\d{3}$/,
};

/** W3C token rules: no whitespace, no control characters (MS-WMLOG section 4: sanitize), bounded */
const TOKEN = /^[^\s\u0000-\u001f\u007f]+$/u;

/** Why `value` is not acceptable for `field`, or undefined when it is. */
export function checkFieldValue(field: WmlogField, value: string): string | undefined {
  const max = maxLengthOf(field);
  if (value.length === 0) return 'is empty (use "-")';
  if (value.length > max) return `is ${value.length} characters, limit ${max}`;
  if (!TOKEN.test(value)) return 'contains whitespace or control characters';
  if (value === '-') return undefined;
  const shape = shapeOf(field);
  if (shape !== 'text' && !SHAPE_PATTERNS[shape].test(value)) return `must be ${describeShape(shape)}, got ${JSON.stringify(value.slice(0, 40))}`;
  return undefined;
}

function describeShape(shape: FieldShape): string {
  switch (shape) {
    case 'count': return 'a whole number';
    case 'decimal': return 'a non-negative number';
    case 'signed-decimal': return 'a number';
    case 'date': return 'a YYYY-MM-DD date';
    case 'time': return 'a hh:mm:ss time';
    case 'status': return 'a 3-digit status';
    default: return 'text';
  }
}

/**
 * Turns any value into a W3C token: control characters dropped, whitespace replaced by `_` (MS-WMLOG 2.2),
 * cut to the field's limit, `-` when empty. Used when building lines from our own data.
 */
export function toToken(field: WmlogField, value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '-';
  let text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '-') : value;
  text = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').replace(/\s+/g, '_');
  if (text === '') return '-';
  const max = maxLengthOf(field);
  return text.length > max ? text.slice(0, max) : text;
}

/** the field names as written in a W3C file's #Fields line (IIS/WMS spell the header columns cs(Name)) */
export function fileColumnName(field: WmlogField): string {
  if (field === 'cs-User-Agent') return 'cs(User-Agent)';
  if (field === 'cs-Referer') return 'cs(Referer)';
  return field;
}

/** The smallest W3C form (at least `min`) whose fields include every field present in `record`. */
export function coveringForm(record: WmlogRecord, min: W3cForm = 44): W3cForm {
  const has = (f: WmlogField) => record[f] !== undefined && record[f] !== '-';
  if (min === 52 || FIELDS_52_TAIL.some((f) => !(FIELDS_47_TAIL as readonly string[]).includes(f) && has(f))) return 52;
  if (min === 47 || FIELDS_47_TAIL.some(has)) return 47;
  return 44;
}
