/**
 * The part of a `.nsc` multicast station file (MS-MSB 2.2.1) a player needs before it can play: the group and
 * port, the unicast fallback URL and the log URL. Strings may be plain ASCII or block-encoded (`02` + 6-bit
 * characters over EncodedDataHeader + UTF-16LE text); the ASF headers in [Formats] are not read here.
 * Pure and bounded; CRC mismatches are tolerated (the spec's own example has one).
 */
import { MssError } from '../core/errors.js';

export const MAX_NSC_CHARS = 512 * 1024;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz{}';
const MAX_STRING_BYTES = 8192;

export interface NscStation {
  name?: string;
  ipAddress?: string;
  ipPort?: number;
  unicastUrl?: string;
  logUrl?: string;
}

/** Decodes an encoded `.nsc` string value (type 02: 6-bit; type 01: hex pairs) to text. */
export function decodeNscString(value: string, key: string): string {
  const kind = value.slice(0, 2);
  const body = value.slice(2);
  let bytes: Buffer;
  if (kind === '02') {
    const out: number[] = [];
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < body.length; i++) {
      const v = ALPHABET.indexOf(body[i]!);
      if (v < 0) throw new MssError('malformed', `.nsc ${key}: character ${JSON.stringify(body[i])} at ${i + 2} is not in the encoding alphabet`);
      acc = ((acc << 6) | v) & 0xffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 0xff);
      }
    }
    bytes = Buffer.from(out);
  } else if (kind === '01') {
    if (!/^([0-9A-Fa-f]{2})*$/.test(body)) throw new MssError('malformed', `.nsc ${key}: type-01 value is not hex pairs`);
    bytes = Buffer.from(body, 'hex');
  } else {
    throw new MssError('malformed', `.nsc ${key}: unknown encoding type ${JSON.stringify(kind)}`);
  }
  if (bytes.length < 9) throw new MssError('truncated', `.nsc ${key}: encoded block has ${bytes.length} bytes, the header alone is 9`);
  const length = bytes.readUInt32BE(5);
  if (length > MAX_STRING_BYTES || 9 + length > bytes.length) {
    throw new MssError('malformed', `.nsc ${key}: encoded length ${length} does not fit the ${bytes.length - 9} bytes present`);
  }
  return bytes.subarray(9, 9 + length).toString('utf16le').replace(/\u0000+$/, '');
}

/** Reads the [Address] section of an `.nsc` file. */
export function parseNsc(text: string): NscStation {
  if (text.length > MAX_NSC_CHARS) throw new MssError('too-large', `.nsc is ${text.length} characters, limit ${MAX_NSC_CHARS}`);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let section = '';
  let sawAddress = false;
  const out: NscStation = {};
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.toLowerCase();
      if (section === 'address') sawAddress = true;
      continue;
    }
    if (section !== 'address') continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue; // continuation of a wrapped value or junk: ignored
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    const text = () => (value === '' ? undefined : /^0[12][0-9A-Za-z{}]{12,}$/.test(value) ? decodeNscString(value, key) || undefined : value);
    switch (key) {
      case 'name': out.name = text(); break;
      case 'ip address': out.ipAddress = text(); break;
      case 'ip port': {
        const m = /^0x([0-9A-Fa-f]{1,8})$/.exec(value);
        if (!m) throw new MssError('malformed', `.nsc IP Port ${JSON.stringify(value.slice(0, 20))} is not 0x + hex digits`);
        out.ipPort = parseInt(m[1]!, 16);
        break;
      }
      case 'unicast url': out.unicastUrl = text(); break;
      case 'log url': out.logUrl = text(); break;
      default: break; // unknown keys are skipped (MS-MSB)
    }
  }
  if (!sawAddress) throw new MssError('malformed', '.nsc has no [Address] section');
  return out;
}
