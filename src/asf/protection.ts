/**
 * Content protection (DRM) objects of an ASF header: recognised and described, never changed. mss serves,
 * proxies, archives and pushes protected content byte-intact (the header objects stay as they are, payloads are
 * untouched) and decrypts or encrypts nothing; it only tells operators what protects a file: the kind of object,
 * the key id and the license acquisition URL where the object states them.
 *
 * Objects: Content Encryption (WMDRM 7: ASCII key id and license URL), Extended Content Encryption (WMDRM 10: a
 * UTF-16 WRMHEADER XML document), Digital Signature, Advanced Content Encryption (header extension: WMDRM for
 * network devices and others, one record per system), and PlayReady's Protection System Identifier object
 * (a PlayReady Object whose Rights Management Header is WRMHEADER XML). Every reader is bounded by its object.
 */
import { MssError } from '../core/errors.js';
import { ASF_GUID, guidName } from './guid.js';
import { ByteReader } from './reader.js';

export type AsfProtectionKind = 'content-encryption' | 'extended-content-encryption' | 'digital-signature' | 'advanced-content-encryption' | 'playready';

export interface AsfProtection {
  kind: AsfProtectionKind;
  /** byte offset of the object inside the Header Object */
  offset: number;
  /** the object's size in bytes (it is kept whole) */
  size: number;
  /** Content Encryption's Protection Type ("DRM"), or the protection system's name */
  system?: string;
  /** protection system GUID (PlayReady, Advanced Content Encryption records) */
  systemId?: string;
  systemVersion?: number;
  /** key id where the object states one (ASCII, or the base64 KID of a WRMHEADER) */
  keyId?: string;
  /** license acquisition URL where the object states one */
  licenseUrl?: string;
  /** Digital Signature: the signature type */
  signatureType?: number;
  /** Advanced Content Encryption: the streams a record covers (0 = the whole file) */
  streams?: number[];
  /** Advanced Content Encryption: one entry per protection system */
  records?: AsfProtection[];
  /** the object could not be read (a layout this reader does not know): it is still kept and served as it is */
  unreadable?: string;
}

/** GUID names of the top-level and header-extension objects that carry protection. */
export const PROTECTION_OBJECT_NAMES: ReadonlySet<string> = new Set(['ContentEncryption', 'ExtendedContentEncryption', 'DigitalSignature', 'ProtectionSystemIdentifier', 'AdvancedContentEncryption']);

/** Most bytes of a WRMHEADER searched for KID and LA_URL (real ones are a few hundred bytes; PlayReady caps at 15 KB). */
const MAX_XML_BYTES = 64 * 1024;
/** Longest key id or URL reported (they are shown, never used) */
const MAX_FIELD = 2048;

function ascii(b: Buffer): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.toString('latin1', 0, Math.min(end, MAX_FIELD));
}

function systemName(guid: string): string {
  switch (guidName(guid)) {
    case 'ProtectionSystemPlayReady':
      return 'PlayReady';
    case 'ProtectionSystemWmdrmNetworkDevices':
      return 'WMDRM-ND';
    default:
      return guid;
  }
}

function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_m, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]!);
}

/** KID and license URL of a WRMHEADER (WMDRM 10 and PlayReady 4.0 elements, PlayReady 4.1+ KID attributes). */
export function wrmHeaderFacts(xml: string): { keyId?: string; licenseUrl?: string } {
  const text = xml.length > MAX_XML_BYTES ? xml.slice(0, MAX_XML_BYTES) : xml;
  if (!/<WRMHEADER[\s>]/.test(text)) return {};
  const element = (name: string) => new RegExp(`<${name}(?:\\s[^>]{0,512})?>([^<]{1,${MAX_FIELD}})</${name}>`).exec(text)?.[1]?.trim();
  const keyId = element('KID') ?? /<KID\s[^>]{0,512}?VALUE="([^"]{1,256})"/.exec(text)?.[1];
  const licenseUrl = element('LA_URL') ?? element('LAINFO');
  const out: { keyId?: string; licenseUrl?: string } = {};
  if (keyId) out.keyId = xmlUnescape(keyId);
  if (licenseUrl) out.licenseUrl = xmlUnescape(licenseUrl);
  return out;
}

/** Text of a UTF-16LE (WRMHEADER) or single-byte XML blob, bounded. */
function xmlText(b: Buffer): string {
  const n = Math.min(b.length, MAX_XML_BYTES);
  // a UTF-16LE document has NULs in every other byte of its ASCII markup
  const utf16 = n >= 2 && (b[1] === 0 || (b[0] === 0xff && b[1] === 0xfe));
  return utf16 ? b.toString('utf16le', 0, n & ~1).replace(/^\uFEFF/, '') : b.toString('latin1', 0, n);
}

/** Content Encryption Object: secret data, protection type, key id, license URL (all length-prefixed, ASCII). */
export function parseContentEncryption(raw: Buffer, at: number): AsfProtection {
  const r = new ByteReader(raw, 24, raw.length, 'ContentEncryption', at);
  r.skip(r.u32('Secret Data Length'), 'Secret Data');
  const system = ascii(r.bytes(r.u32('Protection Type Length'), 'Protection Type'));
  const keyId = ascii(r.bytes(r.u32('Key ID Length'), 'Key ID'));
  const licenseUrl = ascii(r.bytes(r.u32('License URL Length'), 'License URL'));
  const out: AsfProtection = { kind: 'content-encryption', offset: 0, size: raw.length, system: system || 'DRM' };
  if (keyId) out.keyId = keyId;
  if (licenseUrl) out.licenseUrl = licenseUrl;
  return out;
}

/** Extended Content Encryption Object: one data blob (a WRMHEADER for WMDRM 10). */
export function parseExtendedContentEncryption(raw: Buffer, at: number): AsfProtection {
  const r = new ByteReader(raw, 24, raw.length, 'ExtendedContentEncryption', at);
  const data = r.bytes(r.u32('Data Size'), 'Data');
  return { kind: 'extended-content-encryption', offset: 0, size: raw.length, system: 'WMDRM', ...wrmHeaderFacts(xmlText(data)) };
}

export function parseDigitalSignature(raw: Buffer, at: number): AsfProtection {
  const r = new ByteReader(raw, 24, raw.length, 'DigitalSignature', at);
  const signatureType = r.u32('Signature Type');
  r.skip(r.u32('Signature Data Length'), 'Signature Data');
  return { kind: 'digital-signature', offset: 0, size: raw.length, signatureType };
}

/** PlayReady Object: Length, record count, records of (type, length, value); type 1 is the WRMHEADER. */
function playReadyObjectFacts(pro: Buffer, at: number): { keyId?: string; licenseUrl?: string } {
  const r = new ByteReader(pro, 0, pro.length, 'PlayReadyObject', at);
  const length = r.u32('Length');
  if (length > pro.length) r.fail(`Length ${length} runs past the ${pro.length}-byte data`, 'Length', 0);
  const count = r.u16('Record Count');
  for (let i = 0; i < count; i++) {
    const type = r.u16(`record ${i} Type`);
    const value = r.bytes(r.u16(`record ${i} Length`), `record ${i} Value`);
    if (type === 1) return wrmHeaderFacts(xmlText(value));
  }
  return {};
}

/** ASF Protection System Identifier Object (PlayReady): system id, version, the PlayReady Object. */
export function parseProtectionSystemIdentifier(raw: Buffer, at: number): AsfProtection {
  const r = new ByteReader(raw, 24, raw.length, 'ProtectionSystemIdentifier', at);
  const systemId = r.guid('System ID');
  const systemVersion = r.u32('System Version');
  const data = r.bytes(r.u32('Data Size'), 'Data');
  const facts = systemId === ASF_GUID.ProtectionSystemPlayReady ? playReadyObjectFacts(data, at + 24 + 24) : {};
  return { kind: 'playready', offset: 0, size: raw.length, system: systemName(systemId), systemId, systemVersion, ...facts };
}

/** Advanced Content Encryption Object (header extension): records per protection system and the streams each covers. */
export function parseAdvancedContentEncryption(raw: Buffer, at: number): AsfProtection {
  const r = new ByteReader(raw, 24, raw.length, 'AdvancedContentEncryption', at);
  const count = r.u16('Content Encryption Records Count');
  const records: AsfProtection[] = [];
  for (let i = 0; i < count; i++) {
    const systemId = r.guid(`record ${i} System ID`);
    const systemVersion = r.u32(`record ${i} System Version`);
    const objects = r.u16(`record ${i} Encrypted Object Record Count`);
    const streams: number[] = [];
    for (let j = 0; j < objects; j++) {
      const idType = r.u16(`record ${i} object ${j} ID Type`);
      const id = r.bytes(r.u16(`record ${i} object ${j} ID Length`), `record ${i} object ${j} ID`);
      // type 1: the id is a stream number (WORD)
      if (idType === 1 && id.length >= 2) streams.push(id.readUInt16LE(0));
    }
    const data = r.bytes(r.u32(`record ${i} Data Size`), `record ${i} Data`);
    const rec: AsfProtection = { kind: 'advanced-content-encryption', offset: 0, size: 0, system: systemName(systemId), systemId, systemVersion, streams, ...wrmHeaderFacts(xmlText(data)) };
    records.push(rec);
  }
  return { kind: 'advanced-content-encryption', offset: 0, size: raw.length, records };
}

const PARSERS: Record<string, (raw: Buffer, at: number) => AsfProtection> = {
  ContentEncryption: parseContentEncryption,
  ExtendedContentEncryption: parseExtendedContentEncryption,
  DigitalSignature: parseDigitalSignature,
  ProtectionSystemIdentifier: parseProtectionSystemIdentifier,
  AdvancedContentEncryption: parseAdvancedContentEncryption,
};

const KIND_OF: Record<string, AsfProtectionKind> = {
  ContentEncryption: 'content-encryption',
  ExtendedContentEncryption: 'extended-content-encryption',
  DigitalSignature: 'digital-signature',
  ProtectionSystemIdentifier: 'playready',
  AdvancedContentEncryption: 'advanced-content-encryption',
};

/**
 * Like parseProtectionObject, but a DRM object whose inside cannot be read is reported as unreadable instead of
 * failing the header: what protects a file must never keep it from being served untouched.
 */
export function describeProtectionObject(name: string, raw: Buffer, offset: number, base = 0): AsfProtection {
  try {
    return parseProtectionObject(name, raw, offset, base);
  } catch (err) {
    if (!(err instanceof MssError) || !KIND_OF[name]) throw err;
    return { kind: KIND_OF[name]!, offset, size: raw.length, unreadable: err.message };
  }
}

/**
 * Describes one protection object (raw bytes with their 24-byte head; `offset` inside the Header Object, `base`
 * the Header Object's offset in the input). Throws MssError (truncated, malformed) for a broken object.
 */
export function parseProtectionObject(name: string, raw: Buffer, offset: number, base = 0): AsfProtection {
  const parse = PARSERS[name];
  if (!parse) throw new MssError('invalid-argument', `${name} is not a protection object`);
  const p = parse(raw, base + offset);
  p.offset = offset;
  return p;
}

/** One line for people: "PlayReady (key id …, license https://…)". */
export function describeProtection(p: AsfProtection): string {
  const label: Record<AsfProtectionKind, string> = {
    'content-encryption': 'Content Encryption',
    'extended-content-encryption': 'Extended Content Encryption',
    'digital-signature': 'Digital Signature',
    'advanced-content-encryption': 'Advanced Content Encryption',
    playready: 'PlayReady',
  };
  const facts: string[] = [];
  if (p.system && p.kind !== 'playready') facts.push(p.system);
  if (p.signatureType !== undefined) facts.push(`type ${p.signatureType}`);
  if (p.keyId) facts.push(`key id ${p.keyId}`);
  if (p.licenseUrl) facts.push(`license ${p.licenseUrl}`);
  if (p.unreadable) facts.push(`unreadable: ${p.unreadable}`);
  for (const r of p.records ?? []) facts.push(`${r.system}${r.streams?.length ? ` streams ${r.streams.join(',')}` : ''}${r.keyId ? ` key id ${r.keyId}` : ''}${r.licenseUrl ? ` license ${r.licenseUrl}` : ''}`);
  return facts.length ? `${label[p.kind]} (${facts.join(', ')})` : label[p.kind];
}
