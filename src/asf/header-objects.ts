/**
 * Typed readers for the smaller Header Object children. Each takes the object's raw bytes (including
 * its 24-byte head) and its absolute offset (for messages); each is bounded by the object's size.
 */
import { ASF_GUID, guidName } from './guid.js';
import { ByteReader } from './reader.js';

export interface AsfScriptCommand {
  /** presentation time in ms (includes preroll) */
  presentationTime: number;
  type: string;
  name: string;
}

export interface AsfMarker {
  /** byte offset into the Data Object's packets */
  offset: bigint;
  /** 100-ns units */
  presentationTime: bigint;
  sendTime: number;
  flags: number;
  description: string;
}

export interface AsfContentDescription {
  title: string;
  author: string;
  copyright: string;
  description: string;
  rating: string;
}

export type ExtendedContentValue = string | number | boolean | bigint | Buffer;

export interface AsfCodecEntry {
  type: 'video' | 'audio' | 'unknown';
  name: string;
  description: string;
  information: Buffer;
}

export interface AsfMutualExclusion {
  /** 'bitrate', 'language' or 'unknown' (by Exclusion Type GUID) */
  kind: 'bitrate' | 'language' | 'unknown';
  exclusionType: string;
  streams: number[];
}

export interface AsfPayloadExtensionSystem {
  id: string;
  name: string;
  /** bytes per payload, or 0xFFFF when variable (then each instance has a WORD length) */
  dataSize: number;
  info: Buffer;
}

export interface AsfExtendedStreamProperties {
  streamNumber: number;
  startTime: bigint;
  endTime: bigint;
  dataBitrate: number;
  bufferSize: number;
  initialBufferFullness: number;
  alternateDataBitrate: number;
  alternateBufferSize: number;
  alternateInitialBufferFullness: number;
  maximumObjectSize: number;
  flags: number;
  languageIndex: number;
  averageTimePerFrame: bigint;
  names: { languageIndex: number; name: string }[];
  payloadExtensionSystems: AsfPayloadExtensionSystem[];
  /** offset inside the object's raw bytes of an embedded Stream Properties object */
  embeddedStreamPropertiesOffset?: number;
}

export interface AsfMetadataRecord {
  languageIndex: number;
  streamNumber: number;
  name: string;
  value: ExtendedContentValue;
}

export interface AsfStreamPriority {
  streamNumber: number;
  mandatory: boolean;
}

const MUTEX_KIND: Record<string, AsfMutualExclusion['kind']> = {
  [ASF_GUID.MutexBitrate]: 'bitrate',
  [ASF_GUID.MutexLanguage]: 'language',
};

export function parseContentDescription(raw: Buffer, at: number): AsfContentDescription {
  const r = new ByteReader(raw, 24, raw.length, 'ContentDescription', at);
  const lens = [r.u16('Title Length'), r.u16('Author Length'), r.u16('Copyright Length'), r.u16('Description Length'), r.u16('Rating Length')];
  const [title, author, copyright, description, rating] = lens.map((n, i) =>
    r.utf16(n, ['Title', 'Author', 'Copyright', 'Description', 'Rating'][i]!),
  ) as [string, string, string, string, string];
  return { title, author, copyright, description, rating };
}

/** Reads a typed value (Extended Content Description / Metadata data types). */
function readTypedValue(r: ByteReader, type: number, len: number, field: string, boolIsWord: boolean): ExtendedContentValue {
  const start = r.pos;
  const bytes = r.bytes(len, field);
  const need = (n: number) => {
    if (len < n) r.fail(`value type ${type} needs ${n} bytes, length is ${len}`, field, start);
  };
  switch (type) {
    case 0:
      return bytes.length ? bytes.toString('utf16le', 0, bytes.length & ~1).replace(/\0+$/, '') : '';
    case 1:
      return Buffer.from(bytes);
    case 2:
      if (boolIsWord && len === 2) return bytes.readUInt16LE(0) !== 0;
      need(4);
      return bytes.readUInt32LE(0) !== 0;
    case 3:
      need(4);
      return bytes.readUInt32LE(0);
    case 4:
      need(8);
      return bytes.readBigUInt64LE(0);
    case 5:
      need(2);
      return bytes.readUInt16LE(0);
    case 6: // GUID (Metadata objects)
      return Buffer.from(bytes);
    default:
      return Buffer.from(bytes);
  }
}

export function parseExtendedContentDescription(raw: Buffer, at: number): Record<string, ExtendedContentValue> {
  const r = new ByteReader(raw, 24, raw.length, 'ExtendedContentDescription', at);
  const count = r.u16('Content Descriptors Count');
  const out: Record<string, ExtendedContentValue> = Object.create(null);
  for (let i = 0; i < count; i++) {
    const name = r.utf16(r.u16(`descriptor ${i} Name Length`), `descriptor ${i} Name`);
    const type = r.u16(`descriptor ${i} Value Data Type`);
    const len = r.u16(`descriptor ${i} Value Length`);
    out[name] = readTypedValue(r, type, len, `descriptor ${i} Value`, false);
  }
  return out;
}

export function parseCodecList(raw: Buffer, at: number): AsfCodecEntry[] {
  const r = new ByteReader(raw, 24, raw.length, 'CodecList', at);
  r.guid('Reserved');
  const count = r.u32('Codec Entries Count');
  const out: AsfCodecEntry[] = [];
  for (let i = 0; i < count; i++) {
    // each entry takes at least 8 bytes: a huge count fails on the first missing entry, never allocates
    const type = r.u16(`entry ${i} Type`);
    const name = r.utf16(r.u16(`entry ${i} Codec Name Length`) * 2, `entry ${i} Codec Name`);
    const description = r.utf16(r.u16(`entry ${i} Codec Description Length`) * 2, `entry ${i} Codec Description`);
    const information = Buffer.from(r.bytes(r.u16(`entry ${i} Codec Information Length`), `entry ${i} Codec Information`));
    out.push({ type: type === 1 ? 'video' : type === 2 ? 'audio' : 'unknown', name, description, information });
  }
  return out;
}

export function parseMutualExclusion(raw: Buffer, at: number): AsfMutualExclusion {
  const r = new ByteReader(raw, 24, raw.length, 'BitrateMutualExclusion', at);
  const exclusionType = r.guid('Exclusion Type');
  const count = r.u16('Stream Numbers Count');
  const streams: number[] = [];
  for (let i = 0; i < count; i++) streams.push(r.u16(`stream number ${i}`) & 0x7f);
  return { kind: MUTEX_KIND[exclusionType] ?? 'unknown', exclusionType, streams };
}

export function parseStreamBitrates(raw: Buffer, at: number): Map<number, number> {
  const r = new ByteReader(raw, 24, raw.length, 'StreamBitrateProperties', at);
  const count = r.u16('Bitrate Records Count');
  const out = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const stream = r.u16(`record ${i} Flags`) & 0x7f;
    out.set(stream, r.u32(`record ${i} Average Bitrate`));
  }
  return out;
}

export function parseExtendedStreamProperties(raw: Buffer, at: number): AsfExtendedStreamProperties {
  const r = new ByteReader(raw, 24, raw.length, 'ExtendedStreamProperties', at);
  const esp: AsfExtendedStreamProperties = {
    startTime: r.u64('Start Time'),
    endTime: r.u64('End Time'),
    dataBitrate: r.u32('Data Bitrate'),
    bufferSize: r.u32('Buffer Size'),
    initialBufferFullness: r.u32('Initial Buffer Fullness'),
    alternateDataBitrate: r.u32('Alternate Data Bitrate'),
    alternateBufferSize: r.u32('Alternate Buffer Size'),
    alternateInitialBufferFullness: r.u32('Alternate Initial Buffer Fullness'),
    maximumObjectSize: r.u32('Maximum Object Size'),
    flags: r.u32('Flags'),
    streamNumber: r.u16('Stream Number') & 0x7f,
    languageIndex: r.u16('Stream Language ID Index'),
    averageTimePerFrame: r.u64('Average Time Per Frame'),
    names: [],
    payloadExtensionSystems: [],
  };
  const nameCount = r.u16('Stream Name Count');
  const extCount = r.u16('Payload Extension System Count');
  for (let i = 0; i < nameCount; i++) {
    const languageIndex = r.u16(`stream name ${i} Language ID Index`);
    esp.names.push({ languageIndex, name: r.utf16(r.u16(`stream name ${i} Name Length`), `stream name ${i} Name`) });
  }
  for (let i = 0; i < extCount; i++) {
    const id = r.guid(`extension system ${i} ID`);
    const dataSize = r.u16(`extension system ${i} Data Size`);
    const info = Buffer.from(r.bytes(r.u32(`extension system ${i} Info Length`), `extension system ${i} Info`));
    esp.payloadExtensionSystems.push({ id, name: guidName(id), dataSize, info });
  }
  if (r.remaining >= 24) {
    const g = r.guid('embedded object ID');
    if (g === ASF_GUID.StreamProperties) esp.embeddedStreamPropertiesOffset = r.pos - 16;
    else r.fail(`unexpected embedded object ${g}`, 'embedded Stream Properties', r.pos - 16);
  } else if (r.remaining > 0) {
    r.fail(`${r.remaining} stray bytes after the payload extension systems`, 'end of object');
  }
  return esp;
}

export function parseLanguageList(raw: Buffer, at: number): string[] {
  const r = new ByteReader(raw, 24, raw.length, 'LanguageList', at);
  const count = r.u16('Language ID Records Count');
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(r.utf16(r.u8(`record ${i} Language ID Length`), `record ${i} Language ID`));
  return out;
}

export function parseMetadata(raw: Buffer, at: number): AsfMetadataRecord[] {
  const r = new ByteReader(raw, 24, raw.length, 'Metadata', at);
  const count = r.u16('Description Records Count');
  const out: AsfMetadataRecord[] = [];
  for (let i = 0; i < count; i++) {
    const languageIndex = r.u16(`record ${i} Reserved`);
    const streamNumber = r.u16(`record ${i} Stream Number`);
    const nameLen = r.u16(`record ${i} Name Length`);
    const type = r.u16(`record ${i} Data Type`);
    const dataLen = r.u32(`record ${i} Data Length`);
    const name = r.utf16(nameLen, `record ${i} Name`);
    const value = readTypedValue(r, type, dataLen, `record ${i} Data`, true);
    out.push({ languageIndex, streamNumber, name, value });
  }
  return out;
}

export function parseStreamPrioritization(raw: Buffer, at: number): AsfStreamPriority[] {
  const r = new ByteReader(raw, 24, raw.length, 'StreamPrioritization', at);
  const count = r.u16('Priority Records Count');
  const out: AsfStreamPriority[] = [];
  for (let i = 0; i < count; i++) {
    const streamNumber = r.u16(`record ${i} Stream Number`) & 0x7f;
    out.push({ streamNumber, mandatory: (r.u16(`record ${i} Priority Flags`) & 1) !== 0 });
  }
  return out;
}

export function parseScriptCommandObject(raw: Buffer, at = 0): AsfScriptCommand[] {
  const r = new ByteReader(raw, 24, raw.length, 'ScriptCommand', at);
  r.guid('Reserved');
  const count = r.u16('Commands Count');
  const typeCount = r.u16('Command Types Count');
  const types: string[] = [];
  for (let i = 0; i < typeCount; i++) types.push(r.utf16(r.u16(`type ${i} Name Length`) * 2, `type ${i} Name`));
  const out: AsfScriptCommand[] = [];
  for (let i = 0; i < count; i++) {
    const presentationTime = r.u32(`command ${i} Presentation Time`);
    const typeAt = r.pos;
    const typeIndex = r.u16(`command ${i} Type Index`);
    if (typeIndex >= types.length) r.fail(`type index ${typeIndex} but ${types.length} types`, `command ${i} Type Index`, typeAt);
    out.push({ presentationTime, type: types[typeIndex]!, name: r.utf16(r.u16(`command ${i} Name Length`) * 2, `command ${i} Name`) });
  }
  return out;
}

/** Marker object (layout checked against FFmpeg asfdec_f.c: name length in bytes, description length in WCHARs). */
export function parseMarkerObject(raw: Buffer, at = 0): { name: string; markers: AsfMarker[] } {
  const r = new ByteReader(raw, 24, raw.length, 'Marker', at);
  r.guid('Reserved');
  const count = r.u32('Markers Count');
  r.u16('Reserved 2');
  const name = r.utf16(r.u16('Name Length'), 'Name');
  const markers: AsfMarker[] = [];
  for (let i = 0; i < count; i++) {
    const offset = r.u64(`marker ${i} Offset`);
    const presentationTime = r.u64(`marker ${i} Presentation Time`);
    r.u16(`marker ${i} Entry Length`);
    const sendTime = r.u32(`marker ${i} Send Time`);
    const flags = r.u32(`marker ${i} Flags`);
    const len = r.u32(`marker ${i} Description Length`);
    if (len > r.remaining / 2) r.fail(`description of ${len} characters runs past the object`, `marker ${i} Description Length`, r.pos - 4);
    markers.push({ offset, presentationTime, sendTime, flags, description: r.utf16(len * 2, `marker ${i} Description`) });
  }
  return { name, markers };
}

