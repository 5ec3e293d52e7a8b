/**
 * The ffmpeg argument list for a source + profile + chosen encoders (pure). ffmpeg writes live ASF in the chunked
 * `asf_stream` form to stdout, flushed per packet so the Node side sees each ASF packet as soon as it is made.
 */
import { existsSync } from 'node:fs';
import type { EncoderChoice, EncodingProfile } from './profiles.js';
import { sourceHasAudio, sourceHasVideo, type CaptureSource } from './source.js';

export interface FfmpegCommandOptions {
  source: CaptureSource;
  profile: EncodingProfile;
  encoders: EncoderChoice;
  /** TrueType font for the clock overlay on testsrc; absent: ffmpeg's `testsrc` with its frame counter instead */
  fontFile?: string;
}

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/TTF/DejaVuSansMono.ttf',
  '/usr/share/fonts/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf',
];

/** A monospace font for the clock overlay, when the system has one. */
export function findOverlayFont(): string | undefined {
  return FONT_CANDIDATES.find((f) => existsSync(f));
}

/** Wall clock (HH:MM:SS) and stream time (pts) burnt into the picture: the latency ruler. */
function clockOverlay(fontFile: string): string {
  const font = fontFile.replace(/[\\:']/g, (c) => '\\' + c);
  const text = String.raw`%{localtime\:%H\\\:%M\\\:%S} %{pts\:hms}`;
  return `drawtext=fontfile=${font}:fontsize=20:fontcolor=white:box=1:boxcolor=black@0.6:x=8:y=8:text='${text}'`;
}

function inputArgs(src: CaptureSource, profile: EncodingProfile, fontFile: string | undefined): string[] {
  switch (src.kind) {
    case 'testsrc': {
      const size = `${src.width}x${src.height}`;
      // without a font, the older testsrc pattern shows a running frame counter instead of the clock
      const video = fontFile ? `testsrc2=size=${size}:rate=${src.fps},${clockOverlay(fontFile)}` : `testsrc=size=${size}:rate=${src.fps}`;
      return ['-re', '-f', 'lavfi', '-i', video, '-re', '-f', 'lavfi', '-i', `sine=frequency=1000:beep_factor=4:sample_rate=${profile.audio.sampleRate}`];
    }
    case 'file':
      return ['-re', ...(src.loop ? ['-stream_loop', '-1'] : []), '-i', src.path];
    case 'v4l2': {
      const v = src.video;
      const args = ['-f', 'v4l2', '-thread_queue_size', '64'];
      if (v.format) args.push('-input_format', v.format);
      if (v.fps) args.push('-framerate', String(v.fps));
      if (v.width && v.height) args.push('-video_size', `${v.width}x${v.height}`);
      args.push('-i', src.device);
      if (src.audio) {
        args.push('-f', 'alsa', '-thread_queue_size', '1024');
        if (src.audio.sampleRate) args.push('-sample_rate', String(src.audio.sampleRate));
        if (src.audio.channels) args.push('-channels', String(src.audio.channels));
        args.push('-i', src.audio.device);
      }
      return args;
    }
    case 'alsa': {
      const args = ['-f', 'alsa', '-thread_queue_size', '1024'];
      if (src.sampleRate) args.push('-sample_rate', String(src.sampleRate));
      if (src.channels) args.push('-channels', String(src.channels));
      return [...args, '-i', src.device];
    }
  }
}

/** Input stream specifiers of the video and audio, by source layout. */
function streamRefs(src: CaptureSource): { video?: string; audio?: string } {
  switch (src.kind) {
    case 'testsrc':
      return { video: '0:v:0', audio: '1:a:0' };
    case 'file':
      return { video: '0:v:0?', audio: '0:a:0?' };
    case 'v4l2':
      return { video: '0:v:0', audio: src.audio ? '1:a:0' : undefined };
    case 'alsa':
      return { audio: '0:a:0' };
  }
}

function videoCodecArgs(index: number, encoder: string, bitrate: number, gop: number): string[] {
  const s = `:v:${index}`;
  const args = [`-c${s}`, encoder, `-b${s}`, String(bitrate), `-maxrate${s}`, String(Math.round(bitrate * 1.2)), `-bufsize${s}`, String(bitrate), `-g${s}`, String(gop)];
  if (encoder === 'libx264') args.push(`-preset${s}`, 'veryfast', `-tune${s}`, 'zerolatency', `-profile${s}`, 'main');
  return args;
}

export function buildFfmpegArgs(opts: FfmpegCommandOptions): string[] {
  const { source: src, profile, encoders } = opts;
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];
  args.push(...inputArgs(src, profile, src.kind === 'testsrc' ? opts.fontFile : undefined));
  const refs = streamRefs(src);
  if (src.kind === 'file' && src.passthrough) {
    args.push('-map', '0', '-c', 'copy');
  } else {
    const renditions = sourceHasVideo(src) ? profile.video : [];
    if (renditions.length > 0 && refs.video) {
      const inRef = refs.video.replace(/\?$/, '');
      const chains = renditions.map((r, i) => `[s${i}]scale=${r.width}:${r.height},format=yuv420p[v${i}]`);
      const split = renditions.length > 1 ? `[${inRef}]split=${renditions.length}${renditions.map((_, i) => `[s${i}]`).join('')};` : `[${inRef}]null[s0];`;
      args.push('-filter_complex', split + chains.join(';'));
      renditions.forEach((_, i) => args.push('-map', `[v${i}]`));
      const gop = Math.max(1, Math.round(profile.fps * profile.keyframeSeconds));
      renditions.forEach((r, i) => args.push(...videoCodecArgs(i, encoders.video[r.codec]!, r.bitrate, gop)));
      args.push('-r', String(profile.fps));
    }
    if (sourceHasAudio(src) && refs.audio) {
      const a = profile.audio;
      args.push('-map', refs.audio, '-c:a', encoders.audio[a.codec]!, '-b:a', String(a.bitrate), '-ar', String(a.sampleRate), '-ac', String(a.channels));
    }
  }
  args.push('-flush_packets', '1', '-f', 'asf_stream', '-packet_size', String(profile.packetSize), 'pipe:1');
  return args;
}
