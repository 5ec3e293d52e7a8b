/**
 * ASF Header Object: walk child objects by (GUID, size), keep every object's raw bytes, and extract
 * typed values (file properties, streams, metadata). Builders that change fields patch the raw bytes,
 * so anything not understood is re-emitted untouched.
 */
import { MssError } from '../core/errors.js';
import { ASF_GUID, ASF_GUID_BYTES, guidEquals, guidFromBytes, guidName } from './guid.js';
import { ByteReader, qwordToNumber, utf16Text } from './reader.js';
import { parseStreamProperties, type AsfStreamInfo } from './stream-properties.js';

import {
  parseCodecList,
  parseContentDescription,
  parseExtendedContentDescription,
  parseExtendedStreamProperties,
  parseLanguageList,
  parseMarkerObject,
  parseMetadata,
  parseScriptCommandObject,
  parseMutualExclusion,
  parseStreamBitrates,
  parseStreamPrioritization,
  type AsfCodecEntry,
  type AsfContentDescription,
  type AsfExtendedStreamProperties,
  type AsfMarker,
  type AsfMetadataRecord,
  type AsfScriptCommand,
  type AsfMutualExclusion,
  type AsfStreamPriority,
  type ExtendedContentValue,
} from './header-objects.js';

export { parseStreamProperties } from './stream-properties.js';
export type { AsfStreamInfo, AsfStreamType } from './stream-properties.js';
export type {
  AsfMarker,
  AsfScriptCommand,
  AsfCodecEntry,
  AsfContentDescription,
  AsfExtendedStreamProperties,
  AsfMetadataRecord,
  AsfMutualExclusion,
  AsfStreamPriority,
  ExtendedContentValue,
} from './header-objects.js';

/** Largest Header Object accepted (headers carry metadata and sometimes album art; 64 MiB is far beyond real ones). */
export const MAX_HEADER_OBJECT_SIZE = 64 * 1024 * 1024;
/** Largest data packet size accepted (WMSP/MMS frames carry at most 64 KiB). */
export const MAX_PACKET_SIZE = 65536;
export const HEADER_OBJECT_FIXED = 30;
export const DATA_OBJECT_HEAD_SIZE = 50;
export const FILE_PROPERTIES_SIZE = 104;
const HEADER_EXTENSION_FIXED = 46;
const MAX_NESTING = 4;

export interface AsfObject {
  guid: string;
  name: string; // known name or 'unknown'
  offset: number; // byte offset inside the Header Object
  size: number;
  raw: Buffer;
  children?: AsfObject[];
}

export interface AsfFileProperties {
  fileId: Buffer;
  fileSize: bigint;
  creationDate: bigint;
  dataPacketsCount: bigint;
  playDuration: bigint; // 100-ns, includes preroll
  sendDuration: bigint;
  prerollMs: number;
  broadcast: boolean;
  seekable: boolean;
  packetSize: number;
  maxBitrate: number;
  flags: number;
}

export interface AsfHeader {
  raw: Buffer; // exactly the Header Object bytes
  objects: AsfObject[];
  fileProperties: AsfFileProperties;
  streams: AsfStreamInfo[];
  durationMs: number; // play - preroll, 0 if broadcast
  contentDescription?: AsfContentDescription;
  extendedContent?: Record<string, ExtendedContentValue>;
  mutualExclusion?: AsfMutualExclusion[];
  codecList?: AsfCodecEntry[];
  streamBitrates?: Map<number, number>;
  extendedStreams?: AsfExtendedStreamProperties[];
  languages?: string[];
  metadata?: AsfMetadataRecord[];
  streamPriorities?: AsfStreamPriority[];
  scriptCommands?: AsfScriptCommand[];
  markers?: AsfMarker[];
  /** total bitrate for pacing: sum of per-stream bitrates when all are known, else File Properties Maximum Bitrate */
  totalBitrate: number;
}

/** Reads one object head (GUID + size) at `pos`, checking it fits inside [pos, end). */
export function readObjectHead(
  buf: Buffer,
  pos: number,
  end: number,
  container: string,
  base: number,
): { guid: string; name: string; size: number } {
  if (end - pos < 24) {
    throw new MssError(
      'truncated',
      `${container}: object head at byte ${base + pos} needs 24 bytes, ${Math.max(0, end - pos)} left`,
      { object: container, offset: base + pos },
    );
  }
  const guid = guidFromBytes(buf, pos);
  const name = guidName(guid);
  const size64 = buf.readBigUInt64LE(pos + 16);
  if (size64 < 24n) {
    throw new MssError('malformed', `${name} object (${guid}) at byte ${base + pos}: size ${size64} is smaller than its 24-byte head`, {
      object: name,
      guid,
      offset: base + pos,
    });
  }
  if (size64 > BigInt(end - pos)) {
    throw new MssError(
      'truncated',
      `${name} object (${guid}) at byte ${base + pos}: size ${size64} runs past the end of its container ${container} (${end - pos} bytes left)`,
      { object: name, guid, offset: base + pos, size: size64.toString() },
    );
  }
  return { guid, name, size: Number(size64) };
}

/** Walks a sequence of objects in [start, end) and returns them (raw = subarray of buf). */
function walkObjects(buf: Buffer, start: number, end: number, container: string, base: number, depth: number): AsfObject[] {
  const out: AsfObject[] = [];
  let pos = start;
  while (pos < end) {
    const { guid, name, size } = readObjectHead(buf, pos, end, container, base);
    const obj: AsfObject = { guid, name, offset: pos, size, raw: buf.subarray(pos, pos + size) };
    if (name === 'HeaderExtension') obj.children = walkHeaderExtension(buf, pos, size, base, depth + 1);
    out.push(obj);
    pos += size;
  }
  return out;
}

function walkHeaderExtension(buf: Buffer, pos: number, size: number, base: number, depth: number): AsfObject[] {
  if (depth > MAX_NESTING) throw new MssError('malformed', `HeaderExtension at byte ${base + pos}: nested too deep`, { offset: base + pos });
  const r = new ByteReader(buf, pos + 24, pos + size, 'HeaderExtension', base);
  r.skip(16, 'Reserved Field 1');
  r.u16('Reserved Field 2');
  const dataSize = r.u32('Header Extension Data Size');
  if (dataSize !== size - HEADER_EXTENSION_FIXED) {
    r.fail(`Header Extension Data Size ${dataSize} does not match object size ${size} - 46`, 'Header Extension Data Size', pos + 42);
  }
  return walkObjects(buf, pos + HEADER_EXTENSION_FIXED, pos + size, 'HeaderExtension', base, depth);
}

/**
 * Parses the Header Object starting at `offset` in `buf`. The buffer may hold more (e.g. a whole file
 * or a `$H` payload); only the Header Object's bytes are used and copied into `raw`.
 */
export function parseHeaderObject(buf: Buffer, offset = 0): AsfHeader {
  if (offset < 0 || buf.length - offset < HEADER_OBJECT_FIXED) {
    throw new MssError('truncated', `Header Object at byte ${offset}: needs at least 30 bytes, ${Math.max(0, buf.length - offset)} given`, {
      object: 'Header',
      offset,
    });
  }
  if (!guidEquals(buf, offset, ASF_GUID_BYTES.Header)) {
    throw new MssError('malformed', `Header Object at byte ${offset}: GUID ${guidFromBytes(buf, offset)} is not the ASF Header GUID`, {
      object: 'Header',
      offset,
    });
  }
  const size64 = buf.readBigUInt64LE(offset + 16);
  if (size64 < BigInt(HEADER_OBJECT_FIXED)) {
    throw new MssError('malformed', `Header Object at byte ${offset}: size ${size64} is smaller than its 30-byte fixed part`, { object: 'Header', offset });
  }
  if (size64 > BigInt(MAX_HEADER_OBJECT_SIZE)) {
    throw new MssError('too-large', `Header Object at byte ${offset}: size ${size64} exceeds the ${MAX_HEADER_OBJECT_SIZE}-byte limit`, {
      object: 'Header',
      offset,
      size: size64.toString(),
    });
  }
  const size = Number(size64);
  if (size > buf.length - offset) {
    throw new MssError('truncated', `Header Object at byte ${offset}: size ${size} but only ${buf.length - offset} bytes given`, {
      object: 'Header',
      offset,
      size,
    });
  }
  if (buf[offset + 29] !== 0x02) {
    throw new MssError('malformed', `Header Object at byte ${offset}: Reserved2 at byte ${offset + 29} is 0x${buf[offset + 29]!.toString(16)}, must be 0x02`, {
      object: 'Header',
      offset: offset + 29,
    });
  }
  const raw = Buffer.from(buf.subarray(offset, offset + size)); // own copy: never pin a whole file
  const objects = walkObjects(raw, HEADER_OBJECT_FIXED, size, 'Header', offset, 0);
  parsedObjectCount.set(objects, objects.length);
  return interpretHeader(raw, objects, offset);
}

function interpretHeader(raw: Buffer, objects: AsfObject[], base: number): AsfHeader {
  let fileProps: AsfFileProperties | undefined;
  const streamObjs: { obj: AsfObject; embedded: boolean }[] = [];
  const h: Partial<AsfHeader> = {};
  const extended: AsfExtendedStreamProperties[] = [];

  const visit = (list: AsfObject[]) => {
    for (const o of list) {
      const at = base + o.offset;
      switch (o.name) {
        case 'FileProperties':
          if (fileProps) throw new MssError('malformed', `FileProperties at byte ${at}: second File Properties object`, { offset: at });
          fileProps = parseFileProperties(o.raw, at);
          break;
        case 'StreamProperties':
          streamObjs.push({ obj: o, embedded: false });
          break;
        case 'HeaderExtension':
          visit(o.children ?? []);
          break;
        case 'ExtendedStreamProperties': {
          const esp = parseExtendedStreamProperties(o.raw, at);
          extended.push(esp);
          if (esp.embeddedStreamPropertiesOffset !== undefined) {
            const inner = esp.embeddedStreamPropertiesOffset;
            const head = readObjectHead(o.raw, inner, o.raw.length, 'ExtendedStreamProperties', at);
            const child: AsfObject = { guid: head.guid, name: head.name, offset: o.offset + inner, size: head.size, raw: o.raw.subarray(inner, inner + head.size) };
            o.children = [child];
            streamObjs.push({ obj: child, embedded: true });
          }
          break;
        }
        case 'StreamBitrateProperties':
          h.streamBitrates = parseStreamBitrates(o.raw, at);
          break;
        case 'ContentDescription':
          h.contentDescription = parseContentDescription(o.raw, at);
          break;
        case 'ExtendedContentDescription':
          h.extendedContent = parseExtendedContentDescription(o.raw, at);
          break;
        case 'CodecList':
          h.codecList = parseCodecList(o.raw, at);
          break;
        case 'BitrateMutualExclusion':
          (h.mutualExclusion ??= []).push(parseMutualExclusion(o.raw, at));
          break;
        case 'LanguageList':
          h.languages = parseLanguageList(o.raw, at);
          break;
        case 'Metadata':
          (h.metadata ??= []).push(...parseMetadata(o.raw, at));
          break;
        case 'StreamPrioritization':
          h.streamPriorities = parseStreamPrioritization(o.raw, at);
          break;
        case 'ScriptCommand':
          h.scriptCommands = parseScriptCommandObject(o.raw, at);
          break;
        case 'Marker':
          h.markers = parseMarkerObject(o.raw, at).markers;
          break;
        default:
          break; // kept raw: Padding, Marker, Script Command, Content Encryption, Metadata Library, unknown...
      }
    }
  };
  visit(objects);
  if (!fileProps) throw new MssError('malformed', `Header Object at byte ${base}: no File Properties object`, { object: 'Header', offset: base });

  const streams: AsfStreamInfo[] = [];
  for (const { obj, embedded } of streamObjs) {
    const s = parseStreamProperties(obj.raw, base + obj.offset, embedded);
    if (streams.some((x) => x.number === s.number)) continue; // a stream described twice: first wins
    const esp = extended.find((e) => e.streamNumber === s.number);
    if (esp?.names[0]) s.name = esp.names[0].name;
    s.bitrate = h.streamBitrates?.get(s.number) ?? esp?.dataBitrate ?? s.bitrate;
    streams.push(s);
  }
  if (extended.length) h.extendedStreams = extended;

  const preroll = fileProps.prerollMs;
  const playMs = Number(fileProps.playDuration / 10000n);
  const durationMs = fileProps.broadcast ? 0 : Math.max(0, playMs - preroll);
  // a stream without a known bitrate makes the sum meaningless: fall back to the file's maximum
  const sum = streams.every((s) => s.bitrate > 0) ? streams.reduce((a, s) => a + s.bitrate, 0) : 0;
  return {
    ...h,
    raw,
    objects,
    fileProperties: fileProps,
    streams,
    durationMs,
    totalBitrate: sum > 0 ? sum : fileProps.maxBitrate,
  };
}

export function parseFileProperties(raw: Buffer, at: number): AsfFileProperties {
  const r = new ByteReader(raw, 24, raw.length, 'FileProperties', at);
  if (raw.length < FILE_PROPERTIES_SIZE) r.need(FILE_PROPERTIES_SIZE - 24, 'fixed part (104 bytes)');
  const fileId = Buffer.from(r.bytes(16, 'File ID'));
  const fileSize = r.u64('File Size');
  const creationDate = r.u64('Creation Date');
  const dataPacketsCount = r.u64('Data Packets Count');
  const playDuration = r.u64('Play Duration');
  const sendDuration = r.u64('Send Duration');
  const prerollAt = r.pos;
  const preroll64 = r.u64('Preroll');
  if (preroll64 > 0xffffffffn) r.fail(`preroll ${preroll64} ms is absurd`, 'Preroll', prerollAt);
  const flags = r.u32('Flags');
  const minAt = r.pos;
  const minSize = r.u32('Minimum Data Packet Size');
  const maxSize = r.u32('Maximum Data Packet Size');
  const maxBitrate = r.u32('Maximum Bitrate');
  if (minSize !== maxSize) {
    throw new MssError('unsupported', `FileProperties at byte ${at}: variable packet size (min ${minSize} != max ${maxSize}) at byte ${at + minAt}`, {
      object: 'FileProperties',
      offset: at + minAt,
    });
  }
  if (minSize < 1 || minSize > MAX_PACKET_SIZE) {
    throw new MssError(minSize > MAX_PACKET_SIZE ? 'too-large' : 'malformed', `FileProperties at byte ${at}: packet size ${minSize} at byte ${at + minAt} is outside 1..${MAX_PACKET_SIZE}`, {
      object: 'FileProperties',
      offset: at + minAt,
    });
  }
  return {
    fileId,
    fileSize,
    creationDate,
    dataPacketsCount,
    playDuration,
    sendDuration,
    prerollMs: Number(preroll64),
    broadcast: (flags & 1) !== 0,
    seekable: (flags & 2) !== 0,
    packetSize: minSize,
    maxBitrate,
    flags,
  };
}

// ---- serializing and patching ----

/** Number of children found when an objects array was parsed (Number of Header Objects may disagree). */
const parsedObjectCount = new WeakMap<AsfObject[], number>();

function serializeObject(o: AsfObject): Buffer {
  if (o.name !== 'HeaderExtension' || !o.children) return o.raw;
  const kids = o.children.map(serializeObject);
  const dataSize = kids.reduce((a, k) => a + k.length, 0);
  const head = Buffer.from(o.raw.subarray(0, HEADER_EXTENSION_FIXED));
  head.writeBigUInt64LE(BigInt(HEADER_EXTENSION_FIXED + dataSize), 16);
  head.writeUInt32LE(dataSize, 42);
  return Buffer.concat([head, ...kids]);
}

/**
 * Re-emits the Header Object from `h.objects` (so callers may replace, add or drop objects);
 * byte-identical to the input for an unmodified parsed header.
 */
export function serializeHeaderObject(h: AsfHeader): Buffer {
  const parts = h.objects.map(serializeObject);
  const size = HEADER_OBJECT_FIXED + parts.reduce((a, p) => a + p.length, 0);
  const head = Buffer.from(h.raw.subarray(0, HEADER_OBJECT_FIXED));
  head.writeBigUInt64LE(BigInt(size), 16);
  // keep a declared count that disagreed with the objects found, shifted by objects added or removed
  const declared = h.raw.readUInt32LE(24);
  const parsed = parsedObjectCount.get(h.objects);
  const count = parsed === undefined ? h.objects.length : declared + (h.objects.length - parsed);
  head.writeUInt32LE(count >= 0 && count <= 0xffffffff ? count : h.objects.length, 24);
  return Buffer.concat([head, ...parts], size);
}

export interface AsfDataObjectHead {
  fileId: Buffer;
  size: bigint;
  totalPackets: bigint;
  reserved: number;
}

export function parseDataObjectHead(buf: Buffer, offset = 0): AsfDataObjectHead {
  if (offset < 0 || buf.length - offset < DATA_OBJECT_HEAD_SIZE) {
    throw new MssError('truncated', `Data Object at byte ${offset}: needs 50 bytes, ${Math.max(0, buf.length - offset)} given`, {
      object: 'Data',
      offset,
    });
  }
  if (!guidEquals(buf, offset, ASF_GUID_BYTES.Data)) {
    throw new MssError('malformed', `Data Object at byte ${offset}: GUID ${guidFromBytes(buf, offset)} is not the ASF Data GUID`, {
      object: 'Data',
      offset,
    });
  }
  const size = buf.readBigUInt64LE(offset + 16);
  // 0 is tolerated (some live writers leave the size unknown); otherwise it must cover the fixed part
  if (size !== 0n && size < BigInt(DATA_OBJECT_HEAD_SIZE)) {
    throw new MssError('malformed', `Data Object at byte ${offset}: size ${size} is smaller than its 50-byte fixed part`, { object: 'Data', offset });
  }
  return {
    fileId: Buffer.from(buf.subarray(offset + 24, offset + 40)),
    size,
    totalPackets: buf.readBigUInt64LE(offset + 40),
    reserved: buf.readUInt16LE(offset + 48),
  };
}

export function serializeDataObjectHead(d: AsfDataObjectHead): Buffer {
  const out = Buffer.alloc(DATA_OBJECT_HEAD_SIZE);
  ASF_GUID_BYTES.Data.copy(out, 0);
  out.writeBigUInt64LE(d.size, 16);
  if (d.fileId.length !== 16) throw new MssError('invalid-argument', `Data Object File ID must be 16 bytes, got ${d.fileId.length}`);
  d.fileId.copy(out, 24);
  out.writeBigUInt64LE(d.totalPackets, 40);
  out.writeUInt16LE(d.reserved, 48);
  return out;
}

export interface FilePropertiesPatch {
  fileId?: Buffer;
  fileSize?: bigint;
  creationDate?: bigint;
  dataPacketsCount?: bigint;
  playDuration?: bigint;
  sendDuration?: bigint;
  broadcast?: boolean;
  seekable?: boolean;
  maxBitrate?: number;
}

/** Byte offset (inside the Header Object) of the File Properties object. */
export function filePropertiesOffset(h: AsfHeader): number {
  const fp = h.objects.find((o) => o.name === 'FileProperties');
  if (!fp) throw new MssError('malformed', 'Header Object has no File Properties object', { object: 'Header' });
  return fp.offset;
}

/** Returns a copy of the Header Object bytes with File Properties fields changed in place. */
export function patchFileProperties(headerObject: Buffer, patch: FilePropertiesPatch): Buffer {
  const h = parseHeaderObject(headerObject);
  const out = Buffer.from(h.raw);
  const at = filePropertiesOffset(h);
  if (patch.fileId) {
    if (patch.fileId.length !== 16) throw new MssError('invalid-argument', `File ID must be 16 bytes, got ${patch.fileId.length}`);
    patch.fileId.copy(out, at + 24);
  }
  if (patch.fileSize !== undefined) out.writeBigUInt64LE(patch.fileSize, at + 40);
  if (patch.creationDate !== undefined) out.writeBigUInt64LE(patch.creationDate, at + 48);
  if (patch.dataPacketsCount !== undefined) out.writeBigUInt64LE(patch.dataPacketsCount, at + 56);
  if (patch.playDuration !== undefined) out.writeBigUInt64LE(patch.playDuration, at + 64);
  if (patch.sendDuration !== undefined) out.writeBigUInt64LE(patch.sendDuration, at + 72);
  let flags = out.readUInt32LE(at + 88);
  if (patch.broadcast !== undefined) flags = patch.broadcast ? flags | 1 : flags & ~1;
  if (patch.seekable !== undefined) flags = patch.seekable ? flags | 2 : flags & ~2;
  out.writeUInt32LE(flags >>> 0, at + 88);
  if (patch.maxBitrate !== undefined) out.writeUInt32LE(patch.maxBitrate, at + 100);
  return out;
}

/**
 * Data Object head for a live stream: size 0 (unknown), no packet count, reserved 0x0101. Not 50 (ffmpeg's
 * asf_stream value): VLC 3's ASF demuxer treats every non-zero size as the end of the data and ends a live mmsh
 * stream at once or soon after (measured: 4 of 4 VLC players stopped with size 50, none with size 0).
 */
export function liveDataObjectHead(fileId: Buffer): Buffer {
  return serializeDataObjectHead({ fileId, size: 0n, totalPackets: 0n, reserved: 0x0101 });
}

/**
 * Header Object + 50-byte Data Object head, with Broadcast flag set (Seekable cleared) and
 * size/count/duration fields zeroed: the `$H` payload for a live (broadcast) point.
 * Accepts a bare Header Object or a buffer starting with one (e.g. an earlier `$H` payload).
 */
export function makeBroadcastHeader(headerObject: Buffer): Buffer {
  const h = parseHeaderObject(headerObject);
  const patched = patchFileProperties(h.raw, {
    broadcast: true,
    seekable: false,
    fileSize: 0n,
    creationDate: 0n,
    dataPacketsCount: 0n,
    playDuration: 0n,
    sendDuration: 0n,
  });
  return Buffer.concat([patched, liveDataObjectHead(h.fileProperties.fileId)]);
}

/** Total ASF overhead-free bitrate of the given streams (bps). */
export function streamsBitrate(h: AsfHeader, numbers?: ReadonlySet<number>): number {
  return h.streams.filter((s) => !numbers || numbers.has(s.number)).reduce((a, s) => a + s.bitrate, 0);
}

export { utf16Text, qwordToNumber, ASF_GUID };
