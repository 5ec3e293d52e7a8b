/**
 * ffmpeg's ASF muxer writes several video streams without saying they are alternatives. For multi-bitrate
 * profiles we add what Windows Media encoders write: a Bitrate Mutual Exclusion Object over the video streams
 * (players and the server pick one of them) and a Stream Bitrate Properties Object (what each stream costs).
 * Pure: takes and returns header bytes (Header Object + 50-byte Data Object head).
 */
import { ASF_GUID_BYTES, parseHeaderObject } from '../asf/index.js';
import { MssError } from '../core/errors.js';

export function withMultiBitrateObjects(headerBytes: Buffer, bitrates: ReadonlyMap<number, number>): Buffer {
  const h = parseHeaderObject(headerBytes);
  const video = h.streams.filter((s) => s.type === 'video').map((s) => s.number);
  if (video.length < 2) return headerBytes;
  const extra: Buffer[] = [];
  if (!h.mutualExclusion?.some((m) => m.kind === 'bitrate')) {
    const o = Buffer.alloc(24 + 16 + 2 + 2 * video.length);
    ASF_GUID_BYTES.BitrateMutualExclusion.copy(o, 0);
    o.writeBigUInt64LE(BigInt(o.length), 16);
    ASF_GUID_BYTES.MutexBitrate.copy(o, 24);
    o.writeUInt16LE(video.length, 40);
    video.forEach((n, i) => o.writeUInt16LE(n, 42 + 2 * i));
    extra.push(o);
  }
  if (!h.streamBitrates || h.streamBitrates.size === 0) {
    const records = h.streams.filter((s) => bitrates.has(s.number));
    const o = Buffer.alloc(24 + 2 + 6 * records.length);
    ASF_GUID_BYTES.StreamBitrateProperties.copy(o, 0);
    o.writeBigUInt64LE(BigInt(o.length), 16);
    o.writeUInt16LE(records.length, 24);
    records.forEach((s, i) => {
      o.writeUInt16LE(s.number & 0x7f, 26 + 6 * i);
      o.writeUInt32LE(bitrates.get(s.number)!, 28 + 6 * i);
    });
    extra.push(o);
  }
  if (extra.length === 0) return headerBytes;
  const headerObjectSize = h.raw.length;
  const added = extra.reduce((s, b) => s + b.length, 0);
  const out = Buffer.concat([headerBytes.subarray(0, headerObjectSize), ...extra, headerBytes.subarray(headerObjectSize)]);
  out.writeBigUInt64LE(BigInt(headerObjectSize + added), 16);
  out.writeUInt32LE(out.readUInt32LE(24) + extra.length, 24);
  const check = parseHeaderObject(out);
  if (!check.mutualExclusion?.some((m) => m.kind === 'bitrate')) throw new MssError('internal', 'multi-bitrate header: the added Bitrate Mutual Exclusion Object did not parse back');
  return out;
}
