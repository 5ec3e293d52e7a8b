/**
 * `.nsc` multicast station files (MS-MSB 2.2.1): build and parse. ASCII only, CRLF lines, an [Address] section
 * (group, port, TTL, fallback and log URLs, ...) and a [Formats] section with every ASF header the stream uses,
 * each block-encoded with its 11-bit Format ID as the EncodedDataHeader key.
 *
 * Block encoding (2.2.1.3): a 9-byte EncodedDataHeader (CRC byte, Key and Length big-endian) followed by the
 * data is read as one bit string, most significant bit first, and written six bits per character from a
 * 64-character alphabet, the last group zero-filled; the text is prefixed "02". Strings that are not plain
 * printable ASCII go through UTF-16LE with their terminating NUL first (2.2.1.2).
 *
 * Pure and bounded. Parsing is lenient where files in the wild differ (unknown keys skipped, properties in any
 * order, a wrapped encoded value joined, a CRC mismatch noted but accepted: the spec's own example has one).
 */
import { createHash } from 'node:crypto';
import { MssError } from '../../core/errors.js';

export const MAX_NSC_CHARS = 1024 * 1024;
/** largest ASF header a Format entry may carry once decoded */
export const MAX_NSC_FORMAT_BYTES = 512 * 1024;
export const MAX_NSC_FORMATS = 64;
const MAX_STRING_BYTES = 8192;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz{}';
const INVERSE = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) t[ALPHABET.charCodeAt(i)] = i;
  return t;
})();
const BLOCK_VALUE = /^0[12][0-9A-Za-z{}]{12,}$/;
const PRINTABLE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
export const FORMAT_ID_MASK = 0x7ff;

export interface NscFormat {
  /** N of FormatN (1-based, as written) */
  index: number;
  /** the 11-bit Format ID that MSB packets carry in wStreamID */
  formatId: number;
  /** ASF Header Object + the first 50 bytes of the Data Object */
  header: Buffer;
  description?: string;
}

/** What an .nsc says. Integers absent from the file are undefined; strings absent or empty are undefined. */
export interface NscStation {
  name?: string;
  version?: string;
  multicastAdapter?: string;
  ipAddress?: string;
  ipPort?: number;
  ttl?: number;
  defaultEcc?: number;
  logUrl?: string;
  unicastUrl?: string;
  allowSplitting?: number;
  allowCaching?: number;
  cacheExpirationTime?: number;
  networkBufferTime?: number;
  formats: NscFormat[];
  /** things a lenient parser accepted (CRC mismatches) */
  warnings: string[];
}

/** What buildNsc writes: the group and port are required, and at least one format. */
export type NscBuildInput = Omit<NscStation, 'formats' | 'warnings' | 'ipAddress' | 'ipPort' | 'version'> & {
  ipAddress: string;
  ipPort: number;
  formats: Array<Pick<NscFormat, 'formatId' | 'header' | 'description'>>;
};

// -- encoded blocks --------------------------------------------------------------------------------------------

/** The "02" + 6-bit text of EncodedDataHeader(key) + data. */
export function encodeNscBlock(data: Buffer, key = 0): string {
  if (!Number.isInteger(key) || key < 0 || key > 0xffffffff) throw new MssError('invalid-argument', `.nsc block key ${key} is not a 32-bit value`);
  const block = Buffer.alloc(9 + data.length);
  block.writeUInt32BE(key, 1);
  block.writeUInt32BE(data.length, 5);
  data.copy(block, 9);
  let crc = 0;
  for (let i = 1; i < block.length; i++) crc ^= block[i]!;
  block[0] = crc;
  const out: string[] = ['02'];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < block.length; i++) {
    acc = ((acc << 8) | block[i]!) & 0xffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push(ALPHABET[(acc >> bits) & 63]!);
    }
  }
  if (bits > 0) out.push(ALPHABET[(acc << (6 - bits)) & 63]!);
  return out.join('');
}

export interface NscBlock {
  key: number;
  data: Buffer;
  /** the CRC byte matched the Key, Length and data */
  crcOk: boolean;
}

/**
 * Decodes an encoded value (type 02: 6-bit characters; type 01, a legacy form VLC reads too: hex pairs).
 * `what` names the property in errors; `maxBytes` bounds the data.
 */
export function decodeNscBlock(value: string, what: string, maxBytes = MAX_NSC_FORMAT_BYTES): NscBlock {
  const kind = value.slice(0, 2);
  const body = value.slice(2);
  // hex pairs are the longer form: two characters a byte
  if (body.length > (9 + maxBytes) * 2 + 4) throw new MssError('too-large', `.nsc ${what}: encoded value of ${body.length} characters is over the ${maxBytes}-byte limit`);
  let bytes: Buffer;
  if (kind === '02') {
    bytes = Buffer.alloc(Math.floor((body.length * 6) / 8));
    let acc = 0;
    let bits = 0;
    let n = 0;
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      const v = c < 128 ? INVERSE[c]! : -1;
      if (v < 0) throw new MssError('malformed', `.nsc ${what}: character ${JSON.stringify(body[i])} at ${i + 2} is not in the encoding alphabet`);
      acc = ((acc << 6) | v) & 0xffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes[n++] = (acc >> bits) & 0xff;
      }
    }
  } else if (kind === '01') {
    if (!/^(?:[0-9A-Fa-f]{2})*$/.test(body)) throw new MssError('malformed', `.nsc ${what}: type-01 value is not hex pairs`);
    bytes = Buffer.from(body, 'hex');
  } else {
    throw new MssError('malformed', `.nsc ${what}: unknown encoding type ${JSON.stringify(kind)}`);
  }
  if (bytes.length < 9) throw new MssError('truncated', `.nsc ${what}: encoded block has ${bytes.length} bytes, the header alone is 9`);
  const key = bytes.readUInt32BE(1);
  const length = bytes.readUInt32BE(5);
  if (length > maxBytes) throw new MssError('too-large', `.nsc ${what}: encoded length ${length} is over the ${maxBytes}-byte limit`);
  if (9 + length > bytes.length) throw new MssError('malformed', `.nsc ${what}: encoded length ${length} does not fit the ${bytes.length - 9} bytes present`);
  const data = Buffer.from(bytes.subarray(9, 9 + length));
  let crc = 0;
  for (let i = 1; i < 9 + length; i++) crc ^= bytes[i]!;
  return { key, data, crcOk: crc === bytes[0] };
}

/** A string property value: raw when plain printable ASCII is allowed and fits, else encoded UTF-16LE + NUL. */
export function encodeNscString(text: string, opts: { allowRaw?: boolean } = {}): string {
  if (opts.allowRaw && PRINTABLE.test(text) && !BLOCK_VALUE.test(text)) return text;
  return encodeNscBlock(Buffer.from(`${text}\u0000`, 'utf16le'));
}

/** Decodes an encoded string value to text (UTF-16LE, trailing NULs dropped). */
export function decodeNscString(value: string, what: string): string {
  const block = decodeNscBlock(value, what, MAX_STRING_BYTES);
  if (block.data.length % 2 !== 0) throw new MssError('malformed', `.nsc ${what}: encoded string of ${block.data.length} bytes is not UTF-16`);
  return block.data.toString('utf16le').replace(/\u0000+$/, '');
}

/**
 * The Format ID of an ASF header: 11 bits of its SHA-256, so the same header always gets the same ID (the spec
 * suggests a hash so identical headers are listed once). 0 is avoided.
 */
export function formatIdOf(header: Buffer): number {
  const h = createHash('sha256').update(header).digest();
  return (h.readUInt16BE(0) & FORMAT_ID_MASK) || 1;
}

// -- build ------------------------------------------------------------------------------------------------------

const hex8 = (n: number) => `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;

function checkInt(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new MssError('invalid-argument', `.nsc ${name} ${v} is not a 32-bit unsigned integer`);
}

/** Writes a station file with the properties in the order the grammar requires, every line CRLF-terminated. */
export function buildNsc(s: NscBuildInput): string {
  if (s.formats.length === 0) throw new MssError('invalid-argument', '.nsc needs at least one format (ASF header)');
  if (s.formats.length > MAX_NSC_FORMATS) throw new MssError('too-large', `.nsc with ${s.formats.length} formats (at most ${MAX_NSC_FORMATS})`);
  if (!s.ipAddress) throw new MssError('invalid-argument', '.nsc needs an IP Address');
  if (!Number.isInteger(s.ipPort) || s.ipPort < 1 || s.ipPort > 65535) throw new MssError('invalid-argument', `.nsc IP Port ${s.ipPort} is not a UDP port`);
  const ids = new Set<number>();
  for (const f of s.formats) {
    if (!Number.isInteger(f.formatId) || f.formatId < 0 || f.formatId > FORMAT_ID_MASK) throw new MssError('invalid-argument', `.nsc Format ID ${f.formatId} is not 11 bits`);
    if (ids.has(f.formatId)) throw new MssError('invalid-argument', `.nsc Format ID ${f.formatId} is used twice (each header needs its own)`);
    ids.add(f.formatId);
  }
  const lines: string[] = ['[Address]'];
  const str = (key: string, v: string | undefined) => {
    if (v !== undefined && v !== '') lines.push(`${key}=${encodeNscString(v)}`);
  };
  const int = (key: string, v: number | undefined) => {
    checkInt(key, v);
    if (v !== undefined) lines.push(`${key}=${hex8(v)}`);
  };
  str('Name', s.name);
  lines.push('NSC Format Version=3.0');
  str('Multicast Adapter', s.multicastAdapter);
  str('IP Address', s.ipAddress);
  int('IP Port', s.ipPort);
  int('Time To Live', s.ttl);
  int('Default Ecc', s.defaultEcc);
  str('Log URL', s.logUrl);
  str('Unicast URL', s.unicastUrl);
  int('Allow Splitting', s.allowSplitting);
  int('Allow Caching', s.allowCaching);
  int('Cache Expiration Time', s.cacheExpirationTime);
  int('Network Buffer Time', s.networkBufferTime);
  lines.push('[Formats]');
  s.formats.forEach((f, i) => {
    lines.push(`Format${i + 1}=${encodeNscBlock(f.header, f.formatId)}`);
    str(`Description${i + 1}`, f.description);
  });
  return `${lines.join('\r\n')}\r\n`;
}

// -- parse ------------------------------------------------------------------------------------------------------

interface RawProperty {
  section: string;
  key: string;
  value: string;
  line: number;
}

/** Splits the file into properties; an encoded value wrapped onto following lines is joined back. */
function readProperties(text: string): { props: RawProperty[]; sections: Set<string> } {
  const props: RawProperty[] = [];
  const sections = new Set<string>();
  let section = '';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const sec = /^\[([^\]]{1,64})\]$/.exec(line);
    if (sec) {
      section = sec[1]!.toLowerCase();
      sections.add(section);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      const last = props[props.length - 1];
      if (last && last.line === i - 1 && BLOCK_VALUE.test(last.value) && /^[0-9A-Za-z{}]+$/.test(line)) {
        last.value += line;
        last.line = i;
      }
      continue; // anything else without '=' is junk: skipped
    }
    props.push({ section, key: line.slice(0, eq).trim().toLowerCase(), value: line.slice(eq + 1).trim(), line: i });
  }
  return { props, sections };
}

/** Reads a station file: the whole [Address] section and every FormatN/DescriptionN of [Formats]. */
export function parseNsc(text: string): NscStation {
  if (text.length > MAX_NSC_CHARS) throw new MssError('too-large', `.nsc is ${text.length} characters, limit ${MAX_NSC_CHARS}`);
  const { props, sections } = readProperties(text);
  if (!sections.has('address')) throw new MssError('malformed', '.nsc has no [Address] section');
  const out: NscStation = { formats: [], warnings: [] };
  const str = (p: RawProperty): string | undefined => {
    if (p.value === '') return undefined;
    if (!BLOCK_VALUE.test(p.value)) return p.value;
    const block = decodeNscBlock(p.value, p.key, MAX_STRING_BYTES);
    if (!block.crcOk) out.warnings.push(`${p.key}: CRC mismatch (accepted)`);
    if (block.data.length % 2 !== 0) throw new MssError('malformed', `.nsc ${p.key}: encoded string of ${block.data.length} bytes is not UTF-16`);
    return block.data.toString('utf16le').replace(/\u0000+$/, '') || undefined;
  };
  const int = (p: RawProperty): number => {
    const m = /^0x([0-9A-Fa-f]{1,8})$/.exec(p.value);
    if (!m) throw new MssError('malformed', `.nsc ${p.key} ${JSON.stringify(p.value.slice(0, 20))} is not 0x + hex digits`);
    return parseInt(m[1]!, 16);
  };
  const headers = new Map<number, NscFormat>();
  const descriptions = new Map<number, string>();
  for (const p of props) {
    if (p.section === 'address') {
      switch (p.key) {
        case 'name': out.name = str(p); break;
        case 'nsc format version': out.version = str(p); break;
        case 'multicast adapter': out.multicastAdapter = str(p); break;
        case 'ip address': out.ipAddress = str(p); break;
        case 'ip port': out.ipPort = int(p); break;
        case 'time to live': out.ttl = int(p); break;
        case 'default ecc': out.defaultEcc = int(p); break;
        case 'log url': out.logUrl = str(p); break;
        case 'unicast url': out.unicastUrl = str(p); break;
        case 'allow splitting': out.allowSplitting = int(p); break;
        case 'allow caching': out.allowCaching = int(p); break;
        case 'cache expiration time': out.cacheExpirationTime = int(p); break;
        case 'network buffer time': out.networkBufferTime = int(p); break;
        default: break; // unknown and legacy keys (Player URL, Delivery Mode, ...) are skipped
      }
      continue;
    }
    if (p.section !== 'formats') continue;
    const m = /^(format|description)\s*(\d{1,4})$/.exec(p.key);
    if (!m) continue;
    const index = Number(m[2]);
    if (m[1] === 'description') {
      const d = str(p);
      if (d !== undefined) descriptions.set(index, d);
      continue;
    }
    if (headers.size >= MAX_NSC_FORMATS) throw new MssError('too-large', `.nsc has more than ${MAX_NSC_FORMATS} formats`);
    if (!BLOCK_VALUE.test(p.value)) throw new MssError('malformed', `.nsc ${p.key} is not an encoded block`);
    const block = decodeNscBlock(p.value, p.key, MAX_NSC_FORMAT_BYTES);
    if (!block.crcOk) out.warnings.push(`${p.key}: CRC mismatch (accepted)`);
    if (block.key > FORMAT_ID_MASK) throw new MssError('malformed', `.nsc ${p.key}: Format ID ${block.key} has bits above the low 11 set`);
    headers.set(index, { index, formatId: block.key, header: block.data });
  }
  const seen = new Set<number>();
  for (const f of [...headers.values()].sort((a, b) => a.index - b.index)) {
    if (seen.has(f.formatId)) throw new MssError('malformed', `.nsc Format${f.index}: Format ID ${f.formatId} is used by an earlier format`);
    seen.add(f.formatId);
    const d = descriptions.get(f.index);
    out.formats.push(d === undefined ? f : { ...f, description: d });
  }
  return out;
}
