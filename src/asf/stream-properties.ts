/**
 * Stream Properties object: stream number and type, and the codec, picture size or audio format read
 * from its Type-Specific Data (WAVEFORMATEX for audio; size + BITMAPINFOHEADER for video).
 */
import { guidName } from './guid.js';
import { ByteReader } from './reader.js';

export type AsfStreamType = 'audio' | 'video' | 'command' | 'jfif' | 'binary' | 'unknown';

export interface AsfStreamInfo {
  number: number;
  type: AsfStreamType;
  /** readable codec: FourCC for video ('WMV2', 'H264'), ffmpeg-style name for audio ('wmav2', 'aac') */
  codec: string;
  /** lowercase ffmpeg codec name ('wmv2', 'h264', 'wmav2', 'aac'), 'unknown' when not known */
  codecName: string;
  codecTag: number | string;
  bitrate: number; // bps
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  bitsPerSample?: number;
  encrypted: boolean;
  name?: string;
  /** Type-Specific Data (WAVEFORMATEX / video info + BITMAPINFOHEADER) */
  typeSpecificData: Buffer;
  errorCorrectionType: string;
  /** true when the Stream Properties object was embedded in an Extended Stream Properties object */
  embedded: boolean;
}

const AUDIO_CODECS: Record<number, string> = {
  0x0001: 'pcm_s16le',
  0x0002: 'adpcm_ms',
  0x0006: 'pcm_alaw',
  0x0007: 'pcm_mulaw',
  0x000a: 'wmavoice',
  0x0011: 'adpcm_ima_wav',
  0x0050: 'mp2',
  0x0055: 'mp3',
  0x00ff: 'aac',
  0x0160: 'wmav1',
  0x0161: 'wmav2',
  0x0162: 'wmapro',
  0x0163: 'wmalossless',
  0x1610: 'aac',
  0x2000: 'ac3',
  0x706d: 'aac',
};

const VIDEO_CODECS: Record<string, string> = {
  WMV1: 'wmv1',
  WMV2: 'wmv2',
  WMV3: 'wmv3',
  WMVA: 'vc1',
  WVC1: 'vc1',
  MSS1: 'mss1',
  MSS2: 'mss2',
  H264: 'h264',
  AVC1: 'h264',
  X264: 'h264',
  MP4S: 'mpeg4',
  M4S2: 'mpeg4',
  MP43: 'msmpeg4v3',
  MP42: 'msmpeg4v2',
  MPG4: 'msmpeg4v1',
  XVID: 'mpeg4',
  DIVX: 'mpeg4',
  FMP4: 'mpeg4',
  MJPG: 'mjpeg',
  HEVC: 'hevc',
  H265: 'hevc',
};

export function parseStreamProperties(raw: Buffer, at: number, embedded: boolean): AsfStreamInfo {
  const r = new ByteReader(raw, 24, raw.length, 'StreamProperties', at);
  const streamType = r.guid('Stream Type');
  const errorCorrectionType = r.guid('Error Correction Type');
  r.u64('Time Offset');
  const tsLen = r.u32('Type-Specific Data Length');
  const ecLen = r.u32('Error Correction Data Length');
  const flagsAt = r.pos;
  const flags = r.u16('Flags');
  r.u32('Reserved');
  const tsd = r.bytes(tsLen, 'Type-Specific Data');
  r.bytes(ecLen, 'Error Correction Data');
  const number = flags & 0x7f;
  if (number === 0) r.fail('stream number 0 (must be 1..127)', 'Flags', flagsAt);
  const typeName = guidName(streamType);
  const type: AsfStreamType =
    typeName === 'AudioMedia' ? 'audio'
    : typeName === 'VideoMedia' ? 'video'
    : typeName === 'CommandMedia' ? 'command'
    : typeName === 'JfifMedia' ? 'jfif'
    : typeName === 'BinaryMedia' ? 'binary'
    : 'unknown';
  const s: AsfStreamInfo = {
    number,
    type,
    codec: type,
    codecName: 'unknown',
    codecTag: 0,
    bitrate: 0,
    encrypted: (flags & 0x8000) !== 0,
    typeSpecificData: tsd,
    errorCorrectionType,
    embedded,
  };
  if (type === 'audio' && tsd.length >= 16) {
    const tag = tsd.readUInt16LE(0);
    s.codecTag = tag;
    s.codecName = AUDIO_CODECS[tag] ?? 'unknown';
    s.codec = AUDIO_CODECS[tag] ?? `0x${tag.toString(16).padStart(4, '0')}`;
    s.channels = tsd.readUInt16LE(2);
    s.sampleRate = tsd.readUInt32LE(4);
    s.bitrate = tsd.readUInt32LE(8) * 8;
    s.bitsPerSample = tsd.readUInt16LE(14);
  } else if (type === 'video' && tsd.length >= 11 + 20) {
    // Encoded Image Width/Height (4+4), Reserved Flags (1), Format Data Size (2), BITMAPINFOHEADER
    s.width = tsd.readUInt32LE(0);
    s.height = tsd.readUInt32LE(4);
    const compression = tsd.subarray(11 + 16, 11 + 20);
    const fourcc = compression.toString('latin1').replace(/\0+$/, '');
    s.codecTag = /^[\x20-\x7e]{1,4}$/.test(fourcc) ? fourcc : compression.readUInt32LE(0);
    s.codec = typeof s.codecTag === 'string' ? s.codecTag : `0x${compression.readUInt32LE(0).toString(16)}`;
    s.codecName = VIDEO_CODECS[fourcc.toUpperCase()] ?? 'unknown';
  } else if (type === 'jfif') {
    s.codec = 'JFIF';
    s.codecName = 'mjpeg';
    if (tsd.length >= 8) {
      s.width = tsd.readUInt32LE(0);
      s.height = tsd.readUInt32LE(4);
    }
  }
  return s;
}

