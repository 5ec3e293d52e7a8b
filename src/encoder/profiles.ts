/**
 * Named encoding profiles (what ends up in the ASF: codecs, bitrates, sizes) and the choice of an actual ffmpeg
 * encoder for them on this board: WMV2 + WMA2 (every Windows Media player decodes it), H.264 + AAC on the board's
 * hardware encoder when it has one (else libx264), and multi-bitrate sets of several video streams.
 */
import { MssError } from '../core/errors.js';

export interface VideoRendition {
  codec: 'wmv2' | 'h264';
  /** bits per second */
  bitrate: number;
  width: number;
  height: number;
}

export interface EncodingProfile {
  name: string;
  description: string;
  /** one entry = single bitrate; several = multi-bitrate (one ASF video stream each, for stream selection) */
  video: VideoRendition[];
  audio: { codec: 'wmav2' | 'aac'; bitrate: number; sampleRate: number; channels: number };
  fps: number;
  /** key frame interval in seconds (players join a live stream at a key frame) */
  keyframeSeconds: number;
  /** ASF data packet size */
  packetSize: number;
}

const wma = { codec: 'wmav2' as const, bitrate: 64_000, sampleRate: 44_100, channels: 2 };
const aac = { codec: 'aac' as const, bitrate: 96_000, sampleRate: 44_100, channels: 2 };
const common = { fps: 25, keyframeSeconds: 2, packetSize: 3200 };

export const PROFILES: Readonly<Record<string, EncodingProfile>> = {
  'wmv2-300k': { name: 'wmv2-300k', description: 'WMV2 320x240 300 kbit/s + WMA2 64 kbit/s', video: [{ codec: 'wmv2', bitrate: 300_000, width: 320, height: 240 }], audio: wma, ...common },
  'wmv2-500k': { name: 'wmv2-500k', description: 'WMV2 480x360 500 kbit/s + WMA2 64 kbit/s', video: [{ codec: 'wmv2', bitrate: 500_000, width: 480, height: 360 }], audio: wma, ...common },
  'wmv2-1m': { name: 'wmv2-1m', description: 'WMV2 640x480 1 Mbit/s + WMA2 64 kbit/s', video: [{ codec: 'wmv2', bitrate: 1_000_000, width: 640, height: 480 }], audio: wma, ...common },
  'h264-500k': { name: 'h264-500k', description: 'H.264 480x360 500 kbit/s + AAC 96 kbit/s', video: [{ codec: 'h264', bitrate: 500_000, width: 480, height: 360 }], audio: aac, ...common },
  'h264-1m': { name: 'h264-1m', description: 'H.264 640x480 1 Mbit/s + AAC 96 kbit/s', video: [{ codec: 'h264', bitrate: 1_000_000, width: 640, height: 480 }], audio: aac, ...common },
  'h264-2m': { name: 'h264-2m', description: 'H.264 1280x720 2 Mbit/s + AAC 96 kbit/s', video: [{ codec: 'h264', bitrate: 2_000_000, width: 1280, height: 720 }], audio: aac, ...common },
  'mbr-wmv2': {
    name: 'mbr-wmv2',
    description: 'Multi-bitrate WMV2: 640x480 1 Mbit/s, 480x360 500 kbit/s, 320x240 200 kbit/s + WMA2 64 kbit/s',
    video: [
      { codec: 'wmv2', bitrate: 1_000_000, width: 640, height: 480 },
      { codec: 'wmv2', bitrate: 500_000, width: 480, height: 360 },
      { codec: 'wmv2', bitrate: 200_000, width: 320, height: 240 },
    ],
    audio: wma,
    ...common,
  },
  'mbr-h264': {
    name: 'mbr-h264',
    description: 'Multi-bitrate H.264: 1280x720 2 Mbit/s, 640x480 800 kbit/s, 320x240 250 kbit/s + AAC 96 kbit/s',
    video: [
      { codec: 'h264', bitrate: 2_000_000, width: 1280, height: 720 },
      { codec: 'h264', bitrate: 800_000, width: 640, height: 480 },
      { codec: 'h264', bitrate: 250_000, width: 320, height: 240 },
    ],
    audio: aac,
    ...common,
  },
};

export function getProfile(name: string): EncodingProfile {
  const p = PROFILES[name];
  if (!p) throw new MssError('invalid-argument', `unknown encoding profile ${JSON.stringify(name.slice(0, 40))}; known: ${Object.keys(PROFILES).join(', ')}`);
  return p;
}

export function profileBitrate(p: EncodingProfile): number {
  return p.video.reduce((s, v) => s + v.bitrate, 0) + p.audio.bitrate;
}

export interface EncoderChoice {
  /** ffmpeg encoder per video rendition codec */
  video: Record<'wmv2' | 'h264', string | undefined>;
  audio: Record<'wmav2' | 'aac', string | undefined>;
}

/**
 * Picks ffmpeg encoders for a profile from what ffmpeg has and what the board offers in hardware.
 * Throws MssError('unsupported') naming the missing encoder.
 */
export function chooseEncoders(profile: EncodingProfile, available: ReadonlySet<string>, hardwareH264?: string): EncoderChoice {
  const choice: EncoderChoice = { video: { wmv2: undefined, h264: undefined }, audio: { wmav2: undefined, aac: undefined } };
  for (const v of profile.video) {
    if (v.codec === 'wmv2') {
      if (!available.has('wmv2')) throw new MssError('unsupported', `profile ${profile.name}: ffmpeg has no wmv2 encoder`);
      choice.video.wmv2 = 'wmv2';
    } else {
      const h264 = hardwareH264 ?? (available.has('libx264') ? 'libx264' : undefined);
      if (!h264) throw new MssError('unsupported', `profile ${profile.name}: no H.264 encoder (the board has no hardware encoder and ffmpeg has no libx264)`);
      choice.video.h264 = h264;
    }
  }
  const a = profile.audio.codec;
  if (!available.has(a)) throw new MssError('unsupported', `profile ${profile.name}: ffmpeg has no ${a} encoder`);
  choice.audio[a] = a;
  return choice;
}
