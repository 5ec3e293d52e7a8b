/**
 * What a player is told about content, from its ASF header: the ContentDescription of the media contract. The media
 * core describes files and live streams with it; a protocol describes a header that arrives mid-stream (a playlist
 * entry, a new encoder header) the same way.
 */
import type { ContentDescription } from '../contracts/media.js';
import type { AsfHeader } from './header.js';

export function describeHeader(header: AsfHeader, headerBytes: Buffer, extra: Partial<ContentDescription> = {}): ContentDescription {
  return {
    headerBytes,
    packetSize: header.fileProperties.packetSize,
    prerollMs: header.fileProperties.prerollMs,
    durationMs: header.durationMs,
    bitrate: header.totalBitrate || header.fileProperties.maxBitrate,
    streams: header.streams.map((s) => ({ number: s.number, type: s.type, codec: s.codec, bitrate: s.bitrate, width: s.width, height: s.height })),
    exclusiveGroups: (header.mutualExclusion ?? []).filter((m) => m.kind === 'bitrate').map((m) => [...m.streams]),
    packetCount: 0,
    fileSize: 0,
    generation: 0,
    protected: (header.protection?.length ?? 0) > 0,
    ...extra,
  };
}
