/**
 * Which board this is and what it has: capture devices (/dev/video*), ALSA cards, serial ports, and the ffmpeg
 * encoders that exist. Reads only /dev, /proc and `ffmpeg -encoders`; every probe is bounded and failure-tolerant
 * (a missing file means "none", never an exception).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { genericArmv7 } from './generic-armv7.js';
import { genericX8664 } from './generic-x86_64.js';
import { rpi4 } from './rpi4.js';
import type { BoardProfile } from './types.js';

export type { BoardProfile } from './types.js';
export const BOARD_PROFILES: readonly BoardProfile[] = [rpi4, genericArmv7, genericX8664];

export function boardById(id: string): BoardProfile | undefined {
  return BOARD_PROFILES.find((b) => b.id === id);
}

function readSmall(path: string): string {
  try {
    return readFileSync(path).subarray(0, 4096).toString('utf8').replace(/\0/g, '');
  } catch {
    return '';
  }
}

/** The profile for this machine: MSS_BOARD wins, then the device-tree model, then the CPU architecture. */
export function detectBoard(env: NodeJS.ProcessEnv = process.env, arch: string = process.arch): BoardProfile {
  const forced = env.MSS_BOARD ? boardById(env.MSS_BOARD) : undefined;
  if (forced) return forced;
  const model = readSmall('/proc/device-tree/model');
  if (/Raspberry Pi 4|Raspberry Pi Compute Module 4/i.test(model)) return rpi4;
  // an unknown ARM board: software encoding at modest bitrates is the safe assumption
  if (arch === 'arm' || arch === 'arm64') return genericArmv7;
  return genericX8664;
}

function listDev(pattern: RegExp): string[] {
  try {
    return readdirSync('/dev')
      .filter((n) => pattern.test(n))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .map((n) => `/dev/${n}`);
  } catch {
    return [];
  }
}

export interface DetectedDevices {
  videoDevices: string[];
  /** ALSA capture devices as hw:CARD,DEVICE */
  audioDevices: string[];
  serialPorts: string[];
}

export function detectDevices(): DetectedDevices {
  const audio: string[] = [];
  // /proc/asound/pcm lines: "01-00: USB Audio : USB Audio : playback 1 : capture 1"
  for (const line of readSmall('/proc/asound/pcm').split('\n')) {
    const m = /^(\d+)-(\d+):.*capture/.exec(line);
    if (m) audio.push(`hw:${Number(m[1])},${Number(m[2])}`);
  }
  return {
    videoDevices: listDev(/^video\d+$/),
    audioDevices: audio,
    serialPorts: listDev(/^(ttyUSB|ttyACM|ttyAMA|serial)\d+$/),
  };
}

const encoderCache = new Map<string, Promise<Set<string>>>();

/** Encoder names `ffmpeg -encoders` lists (cached per ffmpeg path); an empty set when ffmpeg cannot run. */
export function ffmpegEncoders(ffmpegPath = 'ffmpeg'): Promise<Set<string>> {
  let p = encoderCache.get(ffmpegPath);
  if (!p) {
    p = new Promise((resolve) => {
      execFile(ffmpegPath, ['-hide_banner', '-encoders'], { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => {
        if (err) return resolve(new Set());
        const names = new Set<string>();
        for (const line of stdout.split('\n')) {
          const m = /^\s*[VAS][.A-Z]{5}\s+(\S+)/.exec(line);
          if (m) names.add(m[1]!);
        }
        resolve(names);
      });
    });
    encoderCache.set(ffmpegPath, p);
  }
  return p;
}

/** The hardware H.264 encoder of the board when both ffmpeg and the device node have it. */
export function usableHardwareH264(board: BoardProfile, encoders: ReadonlySet<string>): string | undefined {
  const enc = board.h264HardwareEncoder;
  if (!enc || !encoders.has(enc)) return undefined;
  if (board.h264HardwareDevice && !existsSync(board.h264HardwareDevice)) return undefined;
  return enc;
}
