/**
 * ASF file layout: Header Object, Data Object (50-byte head + fixed-size packets), then index objects.
 * `parseAsfFile` works on a buffer; `openAsfFile` reads only the header and indexes and fetches
 * packets on demand (files can be GBs).
 */
import { promises as fs } from 'node:fs';
import type { AsfLayoutCache } from './layout-cache.js';
import { MssError, systemReason } from '../core/errors.js';
import { ASF_GUID_BYTES, guidEquals, guidFromBytes } from './guid.js';
import {
  DATA_OBJECT_HEAD_SIZE,
  MAX_HEADER_OBJECT_SIZE,
  parseDataObjectHead,
  parseHeaderObject,
  readObjectHead,
  type AsfDataObjectHead,
  type AsfHeader,
} from './header.js';
import { measureStreamBitrates, readSendTime } from './packet.js';
import { ByteReader, qwordToNumber } from './reader.js';

export interface SimpleIndexEntry {
  packetNumber: number;
  packetCount: number;
}

export interface SimpleIndex {
  fileId: Buffer;
  intervalMs: number;
  maxPacketCount: number;
  entries: SimpleIndexEntry[];
}

/**
 * Index Object (newer than the Simple Index): per specifier (stream), byte offsets of the packet to
 * start from at each time step, relative to the first data packet. Used when no Simple Index exists.
 */
export interface AsfIndexObject {
  intervalMs: number;
  specifiers: { streamNumber: number; indexType: number }[];
  /** per specifier, per time step: byte offset from the first data packet, or -1 for an invalid entry */
  offsets: number[][];
}

export interface AsfFileLayout {
  header: AsfHeader;
  /** Header Object + 50-byte Data Object head = the `$H` payload */
  headerBytes: Buffer;
  dataObject: AsfDataObjectHead;
  dataObjectOffset: number;
  firstPacketOffset: number;
  packetSize: number;
  packetCount: number;
  simpleIndexes: SimpleIndex[];
  /** Index Objects (rare in FFmpeg files, common in Windows Media ones) */
  indexObjects: AsfIndexObject[];
  /** top-level objects after the Data Object (indexes and others), by name and offset */
  trailingObjects: { guid: string; name: string; offset: number; size: number }[];
}

/** Upper bound for everything after the Data Object (indexes: a 1 s Simple Index of a 10-day file is ~5 MB). */
const MAX_TRAILING_BYTES = 64 * 1024 * 1024;
/** How much of the end of an open-ended (live capture) file is searched for trailing objects. */
const OPEN_ENDED_TAIL_BYTES = 8 * 1024 * 1024;

export function parseSimpleIndex(raw: Buffer, at: number): SimpleIndex {
  const r = new ByteReader(raw, 24, raw.length, 'SimpleIndex', at);
  const fileId = Buffer.from(r.bytes(16, 'File ID'));
  const intervalAt = r.pos;
  const interval = r.u64('Index Entry Time Interval');
  if (interval === 0n || interval > 0xffffffffn * 10000n) r.fail(`interval ${interval} (100-ns units) is not usable`, 'Index Entry Time Interval', intervalAt);
  const maxPacketCount = r.u32('Maximum Packet Count');
  const countAt = r.pos;
  const count = r.u32('Index Entries Count');
  if (count * 6 > r.remaining) {
    throw new MssError('truncated', `SimpleIndex at byte ${at}: ${count} entries at byte ${at + countAt} need ${count * 6} bytes, object has ${r.remaining}`, {
      object: 'SimpleIndex',
      offset: at + countAt,
    });
  }
  const entries: SimpleIndexEntry[] = new Array(count);
  for (let i = 0; i < count; i++) entries[i] = { packetNumber: r.u32('Packet Number'), packetCount: r.u16('Packet Count') };
  return { fileId, intervalMs: Number(interval) / 10000, maxPacketCount, entries };
}

export function parseIndexObject(raw: Buffer, at: number): AsfIndexObject {
  const r = new ByteReader(raw, 24, raw.length, 'Index', at);
  const intervalMs = r.u32('Index Entry Time Interval');
  if (intervalMs === 0) r.fail('interval 0 ms', 'Index Entry Time Interval', 24);
  const specCount = r.u16('Index Specifiers Count');
  const blockCount = r.u32('Index Blocks Count');
  if (specCount === 0) r.fail('no index specifiers', 'Index Specifiers Count', 28);
  const specifiers: AsfIndexObject['specifiers'] = [];
  for (let i = 0; i < specCount; i++) specifiers.push({ streamNumber: r.u16(`specifier ${i} Stream Number`) & 0x7f, indexType: r.u16(`specifier ${i} Index Type`) });
  const offsets: number[][] = specifiers.map(() => []);
  for (let b = 0; b < blockCount; b++) {
    const countAt = r.pos;
    const entries = r.u32(`block ${b} Index Entry Count`);
    // each entry is 4 bytes per specifier: check before reading so a huge count fails at once
    if (entries * 4 * specCount > r.remaining - 8 * specCount) {
      throw new MssError('truncated', `Index at byte ${at}: block ${b} claims ${entries} entries at byte ${at + countAt}, more than the object holds`, {
        object: 'Index',
        offset: at + countAt,
      });
    }
    const positions: number[] = [];
    for (let s = 0; s < specCount; s++) positions.push(qwordToNumber(r.u64(`block ${b} Block Position ${s}`), 'Index', 'Block Position', at + r.pos - 8));
    for (let e = 0; e < entries; e++) {
      for (let s = 0; s < specCount; s++) {
        const off = r.u32(`block ${b} entry ${e} Offset`);
        offsets[s]!.push(off === 0xffffffff ? -1 : positions[s]! + off);
      }
    }
  }
  return { intervalMs, specifiers, offsets };
}

/** Top-level objects that may follow the packets of an open-ended Data Object. */
const TRAILING_GUIDS = [ASF_GUID_BYTES.SimpleIndex, ASF_GUID_BYTES.Index, ASF_GUID_BYTES.MediaObjectIndex, ASF_GUID_BYTES.TimecodeIndex, ASF_GUID_BYTES.Header];
const TRAILING_FIRST_BYTES = new Set(TRAILING_GUIDS.map((g) => g[0]!));

function startsTrailingObject(buf: Buffer, at: number): boolean {
  return at + 16 <= buf.length && TRAILING_FIRST_BYTES.has(buf[at]!) && TRAILING_GUIDS.some((g) => guidEquals(buf, at, g));
}

/** The 12-byte `$E` end frame ffmpeg's ASF muxer appends to a non-seekable output. */
function isEndFrame(buf: Buffer, at: number): boolean {
  return buf.length - at === 12 && buf[at] === 0x24 && buf[at + 1] === 0x45 && buf.readUInt16LE(at + 2) === 8;
}

/** A live-style Data Object (size 0, or 50 with no count): its packets run until a trailing object or the end. */
function isOpenEnded(data: AsfDataObjectHead): boolean {
  return data.size === 0n || (data.size === BigInt(DATA_OBJECT_HEAD_SIZE) && data.totalPackets === 0n);
}

/**
 * Number of packets in a Data Object with a declared size, which must fit in `available` bytes.
 */
function countDeclaredPackets(header: AsfHeader, data: AsfDataObjectHead, dataObjectOffset: number, available: number): { count: number; dataEnd: number; end: number } {
  const ps = header.fileProperties.packetSize;
  if (data.size > BigInt(available - dataObjectOffset)) {
    throw new MssError('truncated', `Data Object at byte ${dataObjectOffset}: size ${data.size} runs past the end of the file (${available - dataObjectOffset} bytes left)`, {
      object: 'Data',
      offset: dataObjectOffset,
    });
  }
  const body = Number(data.size) - DATA_OBJECT_HEAD_SIZE;
  if (body % ps !== 0) {
    throw new MssError('malformed', `Data Object at byte ${dataObjectOffset}: ${body} bytes of packets is not a multiple of the packet size ${ps}`, {
      object: 'Data',
      offset: dataObjectOffset,
    });
  }
  return { count: body / ps, dataEnd: dataObjectOffset + Number(data.size), end: available };
}

/**
 * Open-ended Data Object: packets at `first + k * ps` until a trailing top-level object starts at a
 * packet boundary or fewer than a packet's bytes remain. `window` holds the file bytes from
 * `windowStart` to the end (the whole file, or its tail when the file is large).
 */
function countOpenEndedPackets(first: number, ps: number, fileSize: number, window: Buffer, windowStart: number): { count: number; dataEnd: number; end: number } {
  const max = Math.floor(Math.max(0, fileSize - first) / ps);
  let k = Math.max(0, Math.ceil((windowStart - first) / ps));
  for (; k < max; k++) {
    if (startsTrailingObject(window, first + k * ps - windowStart)) return { count: k, dataEnd: first + k * ps, end: fileSize };
  }
  // what is left is shorter than a packet: a trailing object, ffmpeg's `$E`, or the cut-off last
  // packet of an interrupted capture (ignored)
  const restAt = first + max * ps - windowStart;
  const rest = window.subarray(restAt);
  const keep = startsTrailingObject(window, restAt) || isEndFrame(window, restAt) || rest.length === 0;
  return { count: max, dataEnd: first + max * ps, end: keep ? fileSize : first + max * ps };
}

/** Walks the objects after the packets; a final ffmpeg `$E` frame is tolerated. */
function walkTrailing(buf: Buffer, start: number, base: number, onObject: (name: string, guid: string, at: number, size: number) => void): void {
  let pos = start;
  while (pos < buf.length) {
    if (isEndFrame(buf, pos)) return;
    const head = readObjectHead(buf, pos, buf.length, 'file', base);
    onObject(head.name, head.guid, base + pos, head.size);
    pos += head.size;
  }
}

export function parseAsfFile(buf: Buffer): AsfFileLayout & { packet(i: number): Buffer } {
  const header = parseHeaderObject(buf, 0);
  const dataObjectOffset = header.raw.length;
  const dataObject = parseDataObjectHead(buf, dataObjectOffset);
  const firstPacket = dataObjectOffset + DATA_OBJECT_HEAD_SIZE;
  const ps = header.fileProperties.packetSize;
  const { count, dataEnd, end } = isOpenEnded(dataObject)
    ? countOpenEndedPackets(firstPacket, ps, buf.length, buf, 0)
    : countDeclaredPackets(header, dataObject, dataObjectOffset, buf.length);
  const simpleIndexes: SimpleIndex[] = [];
  const indexObjects: AsfIndexObject[] = [];
  const trailingObjects: AsfFileLayout['trailingObjects'] = [];
  walkTrailing(buf.subarray(dataEnd, end), 0, dataEnd, (name, guid, at, size) => {
    trailingObjects.push({ guid, name, offset: at, size });
    if (name === 'SimpleIndex') simpleIndexes.push(parseSimpleIndex(buf.subarray(at, at + size), at));
    else if (name === 'Index') indexObjects.push(parseIndexObject(buf.subarray(at, at + size), at));
  });
  const packetSize = header.fileProperties.packetSize;
  const firstPacketOffset = dataObjectOffset + DATA_OBJECT_HEAD_SIZE;
  return {
    header,
    headerBytes: Buffer.concat([header.raw, buf.subarray(dataObjectOffset, firstPacketOffset)]),
    dataObject,
    dataObjectOffset,
    firstPacketOffset,
    packetSize,
    packetCount: count,
    simpleIndexes,
    indexObjects,
    trailingObjects,
    packet(i: number): Buffer {
      if (!Number.isInteger(i) || i < 0 || i >= count) {
        throw new MssError('invalid-argument', `packet ${i} outside 0..${count - 1}`, { packet: i });
      }
      const at = firstPacketOffset + i * packetSize;
      return buf.subarray(at, at + packetSize);
    },
  };
}

export interface AsfFileHandle {
  layout: AsfFileLayout;
  readPacket(i: number): Promise<Buffer>;
  readPackets(first: number, count: number): Promise<Buffer[]>;
  close(): Promise<void>;
}

async function readExactly(fh: fs.FileHandle, position: number, length: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new MssError('truncated', `${what} at byte ${position}: file ends after ${done} of ${length} bytes`, { offset: position });
    }
    done += bytesRead;
  }
  return buf;
}

/** Reads and checks the header and index objects of an open file: its layout (packets not read). */
async function readLayout(fh: fs.FileHandle, fileSize: number, maxHeader: number): Promise<AsfFileLayout> {
  const first = await readExactly(fh, 0, Math.min(30, fileSize), 'Header Object');
  if (first.length < 30) throw new MssError('truncated', `Header Object at byte 0: file has only ${fileSize} bytes`, { offset: 0 });
  if (!guidEquals(first, 0, ASF_GUID_BYTES.Header)) {
    throw new MssError('malformed', `Header Object at byte 0: GUID ${guidFromBytes(first, 0)} is not the ASF Header GUID`, { object: 'Header', offset: 0 });
  }
  const claimed = first.readBigUInt64LE(16);
  if (claimed > BigInt(maxHeader)) {
    throw new MssError('too-large', `Header Object at byte 0: size ${claimed} exceeds the ${maxHeader}-byte limit`, { object: 'Header', offset: 0 });
  }
  const headLen = Math.min(Number(claimed) + DATA_OBJECT_HEAD_SIZE, fileSize);
  const headBuf = await readExactly(fh, 0, headLen, 'Header Object');
  const header = parseHeaderObject(headBuf, 0);
  const dataObjectOffset = header.raw.length;
  const dataObject = parseDataObjectHead(headBuf, dataObjectOffset);
  const firstPacket = dataObjectOffset + DATA_OBJECT_HEAD_SIZE;
  const ps = header.fileProperties.packetSize;
  let count: number;
  let dataEnd: number;
  let end: number;
  if (isOpenEnded(dataObject)) {
    // trailing objects of a live capture (an index, ffmpeg's `$E`) sit in the last few MB: scan only those
    const windowStart = Math.max(firstPacket, fileSize - OPEN_ENDED_TAIL_BYTES);
    const tail = await readExactly(fh, windowStart, fileSize - windowStart, 'Data Object tail');
    ({ count, dataEnd, end } = countOpenEndedPackets(firstPacket, ps, fileSize, tail, windowStart));
  } else {
    ({ count, dataEnd, end } = countDeclaredPackets(header, dataObject, dataObjectOffset, fileSize));
  }
  const simpleIndexes: SimpleIndex[] = [];
  const indexObjects: AsfIndexObject[] = [];
  const trailingObjects: AsfFileLayout['trailingObjects'] = [];
  const trailingBytes = end - dataEnd;
  if (trailingBytes > MAX_TRAILING_BYTES) {
    throw new MssError('too-large', `file: ${trailingBytes} bytes after the Data Object at byte ${dataEnd}, more than ${MAX_TRAILING_BYTES}`, { offset: dataEnd });
  }
  if (trailingBytes > 0) {
    const tail = await readExactly(fh, dataEnd, trailingBytes, 'index objects');
    walkTrailing(tail, 0, dataEnd, (name, guid, at, size) => {
      trailingObjects.push({ guid, name, offset: at, size });
      const raw = tail.subarray(at - dataEnd, at - dataEnd + size);
      if (name === 'SimpleIndex') simpleIndexes.push(parseSimpleIndex(raw, at));
      else if (name === 'Index') indexObjects.push(parseIndexObject(raw, at));
    });
  }
  const packetSize = header.fileProperties.packetSize;
  const firstPacketOffset = dataObjectOffset + DATA_OBJECT_HEAD_SIZE;
  return {
    header,
    headerBytes: Buffer.from(headBuf.subarray(0, firstPacketOffset)),
    dataObject,
    dataObjectOffset,
    firstPacketOffset,
    packetSize,
    packetCount: count,
    simpleIndexes,
    indexObjects,
    trailingObjects,
  };
}

/** Opens an ASF file reading the header and index objects only (or taking them from `layouts`); packets are read on demand. */
export async function openAsfFile(path: string, opts: { maxHeaderBytes?: number; layouts?: AsfLayoutCache } = {}): Promise<AsfFileHandle> {
  const maxHeader = Math.min(opts.maxHeaderBytes ?? 16 * 1024 * 1024, MAX_HEADER_OBJECT_SIZE);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MssError(code === 'ENOENT' ? 'not-found' : 'unavailable', `cannot open ${path}: ${systemReason(err)}`, { path });
  }
  try {
    const st = await fh.stat();
    let layout = opts.layouts?.get(path, st);
    if (!layout) {
      layout = await readLayout(fh, st.size, maxHeader);
      opts.layouts?.set(path, st, layout);
    }
    const { firstPacketOffset, packetSize, packetCount: count } = layout;
    const checkRange = (firstPacket: number, n: number) => {
      if (!Number.isInteger(firstPacket) || !Number.isInteger(n) || firstPacket < 0 || n < 0 || firstPacket + n > count) {
        throw new MssError('invalid-argument', `packets ${firstPacket}..${firstPacket + n - 1} outside 0..${count - 1}`, { first: firstPacket, count: n });
      }
    };
    let closed = false;
    return {
      layout,
      async readPacket(i: number): Promise<Buffer> {
        checkRange(i, 1);
        return readExactly(fh, firstPacketOffset + i * packetSize, packetSize, `packet ${i}`);
      },
      async readPackets(firstPacket: number, n: number): Promise<Buffer[]> {
        checkRange(firstPacket, n);
        if (n === 0) return [];
        const all = await readExactly(fh, firstPacketOffset + firstPacket * packetSize, n * packetSize, `packets ${firstPacket}..`);
        const out: Buffer[] = [];
        for (let k = 0; k < n; k++) out.push(all.subarray(k * packetSize, (k + 1) * packetSize));
        return out;
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Packet to start from for media time `mediaTimeMs` (presentation time minus preroll), via the first
 * Simple Index. Null when the file has no (non-empty) index.
 */
export function packetForTime(layout: AsfFileLayout, mediaTimeMs: number): number | null {
  const idx = layout.simpleIndexes.find((s) => s.entries.length > 0);
  const t = Math.max(0, mediaTimeMs) + layout.header.fileProperties.prerollMs;
  if (!idx) return packetFromIndexObject(layout, t);
  let i = Math.floor(t / idx.intervalMs);
  i = Math.min(Math.max(i, 0), idx.entries.length - 1);
  const pkt = idx.entries[i]!.packetNumber;
  return Math.min(pkt, Math.max(0, layout.packetCount - 1));
}

/**
 * Index Object lookup (a video stream's specifier preferred). Entry i is taken to cover presentation
 * time i * interval including preroll, like the Simple Index [verify against a Windows Media file].
 */
function packetFromIndexObject(layout: AsfFileLayout, presentationMs: number): number | null {
  const video = new Set(layout.header.streams.filter((s) => s.type === 'video').map((s) => s.number));
  for (const idx of layout.indexObjects) {
    let spec = idx.specifiers.findIndex((s) => video.has(s.streamNumber));
    if (spec < 0) spec = 0;
    const offsets = idx.offsets[spec]!;
    if (offsets.length === 0) continue;
    let i = Math.min(Math.floor(presentationMs / idx.intervalMs), offsets.length - 1);
    while (i > 0 && offsets[i]! < 0) i--;
    if (offsets[i]! < 0) continue;
    return Math.min(Math.floor(offsets[i]! / layout.packetSize), Math.max(0, layout.packetCount - 1));
  }
  return null;
}

/** Measured bitrate (bps) per stream from up to `maxPackets` packets spread over the file. */
export async function measureFileBitrates(file: AsfFileHandle, maxPackets = 2000): Promise<Map<number, number>> {
  const n = file.layout.packetCount;
  if (n === 0) return new Map();
  const count = Math.min(n, maxPackets);
  return measureStreamBitrates(await file.readPackets(0, count), file.layout.packetSize);
}

/**
 * Packet to start from for media time `mediaTimeMs`: the Simple Index when present, else a binary
 * search for the last packet whose send time is <= the target (send times run on the media-time axis).
 */
export async function seekPacketByTime(file: AsfFileHandle, mediaTimeMs: number): Promise<number> {
  const fromIndex = packetForTime(file.layout, mediaTimeMs);
  if (fromIndex !== null) return fromIndex;
  const n = file.layout.packetCount;
  if (n === 0) return 0;
  let lo = 0;
  let hi = n - 1;
  if (readSendTime(await file.readPacket(0)) >= mediaTimeMs) return 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (readSendTime(await file.readPacket(mid)) <= mediaTimeMs) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

