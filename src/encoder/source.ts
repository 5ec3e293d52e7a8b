/**
 * Capture sources as written in config and on the command line, parsed into a typed value (pure):
 *   testsrc[?size=640x360&fps=25]         ffmpeg's test pattern and a tone, with a clock overlay
 *   file:<path>[?copy]                    a media file played in real time, looped (re-encoded, or passed through)
 *   v4l2:/dev/videoN[?size=WxH&fps=N&format=mjpeg]
 *   alsa:hw:X,Y[?rate=48000&channels=2]
 *   v4l2:/dev/videoN?…+alsa:hw:X,Y        a camera and a sound card together
 */
import { MssError } from '../core/errors.js';

export interface VideoCaptureOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** V4L2 pixel/input format, e.g. mjpeg, yuyv422 */
  format?: string;
}

export type CaptureSource =
  | { kind: 'testsrc'; width: number; height: number; fps: number }
  | { kind: 'file'; path: string; passthrough: boolean; loop: boolean }
  | { kind: 'v4l2'; device: string; video: VideoCaptureOptions; audio?: { device: string; sampleRate?: number; channels?: number } }
  | { kind: 'alsa'; device: string; sampleRate?: number; channels?: number };

const MAX_SOURCE = 1024;

function splitQuery(spec: string): { base: string; params: URLSearchParams } {
  const q = spec.indexOf('?');
  if (q < 0) return { base: spec, params: new URLSearchParams() };
  return { base: spec.slice(0, q), params: new URLSearchParams(spec.slice(q + 1)) };
}

function intParam(params: URLSearchParams, name: string, min: number, max: number, spec: string): number | undefined {
  const v = params.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: ${name} must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

function sizeParam(params: URLSearchParams, spec: string): { width?: number; height?: number } {
  const v = params.get('size');
  if (v === null) return {};
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(v);
  if (!m || Number(m[1]) % 2 || Number(m[2]) % 2 || Number(m[1]) > 7680 || Number(m[2]) > 4320) {
    throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: size must be WIDTHxHEIGHT with even numbers up to 7680x4320, got ${JSON.stringify(v)}`);
  }
  return { width: Number(m[1]), height: Number(m[2]) };
}

function devicePath(dev: string, spec: string): string {
  if (!/^\/dev\/[A-Za-z0-9_./-]+$/.test(dev) || dev.includes('..')) throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: ${JSON.stringify(dev)} is not a /dev path`);
  return dev;
}

function alsaDevice(dev: string, spec: string): string {
  if (!/^(hw|plughw|default|sysdefault)(:[A-Za-z0-9_]+(,\d+){0,2})?$/.test(dev)) {
    throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: ALSA device must look like hw:1,0, got ${JSON.stringify(dev)}`);
  }
  return dev;
}

export function parseSource(spec: string): CaptureSource {
  if (spec.length === 0 || spec.length > MAX_SOURCE) throw new MssError('invalid-argument', `source must be 1..${MAX_SOURCE} characters`);
  if (spec === 'testsrc' || spec.startsWith('testsrc?')) {
    const { params } = splitQuery(spec);
    const size = sizeParam(params, spec);
    return { kind: 'testsrc', width: size.width ?? 320, height: size.height ?? 240, fps: intParam(params, 'fps', 1, 60, spec) ?? 25 };
  }
  if (spec.startsWith('file:')) {
    const { base, params } = splitQuery(spec.slice(5));
    if (base === '') throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: file: needs a path`);
    return { kind: 'file', path: base, passthrough: params.has('copy'), loop: params.get('loop') !== '0' };
  }
  if (spec.startsWith('v4l2:')) {
    const [videoPart, audioPart, extra] = spec.split('+');
    if (extra !== undefined) throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: at most one video and one audio device`);
    const { base, params } = splitQuery(videoPart!.slice(5));
    const size = sizeParam(params, spec);
    const format = params.get('format') ?? undefined;
    if (format !== undefined && !/^[a-z0-9_]{1,32}$/.test(format)) throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: bad format ${JSON.stringify(format)}`);
    const src: CaptureSource = { kind: 'v4l2', device: devicePath(base, spec), video: { ...size, fps: intParam(params, 'fps', 1, 120, spec), format } };
    if (audioPart !== undefined) {
      const audio = parseSource(audioPart);
      if (audio.kind !== 'alsa') throw new MssError('invalid-argument', `source ${JSON.stringify(spec)}: the part after + must be alsa:…`);
      src.audio = { device: audio.device, sampleRate: audio.sampleRate, channels: audio.channels };
    }
    return src;
  }
  if (spec.startsWith('alsa:')) {
    const { base, params } = splitQuery(spec.slice(5));
    return { kind: 'alsa', device: alsaDevice(base, spec), sampleRate: intParam(params, 'rate', 8000, 192000, spec), channels: intParam(params, 'channels', 1, 8, spec) };
  }
  throw new MssError('invalid-argument', `unknown source ${JSON.stringify(spec.slice(0, 80))}: use testsrc, file:<path>, v4l2:/dev/videoN, alsa:hw:X,Y or v4l2:…+alsa:…`);
}

/** Device nodes the source reads (to tell a lost device from an encoder crash). */
export function sourceDevices(src: CaptureSource): string[] {
  if (src.kind === 'v4l2') return [src.device];
  return [];
}

export function sourceHasVideo(src: CaptureSource): boolean {
  return src.kind !== 'alsa';
}

export function sourceHasAudio(src: CaptureSource): boolean {
  return src.kind === 'testsrc' || src.kind === 'file' || src.kind === 'alsa' || (src.kind === 'v4l2' && src.audio !== undefined);
}
