/**
 * Which board this is and what it has: capture devices (/dev/video*), ALSA cards, serial ports, and the ffmpeg
 * encoders that exist. Reads only /dev, /proc and `ffmpeg -encoders`; every probe is bounded and failure-tolerant
 * (a missing file means "none", never an exception).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { MssError } from '../src/core/errors.js';
import { amlogicS905 } from './amlogic-s905.js';
import { genericArm64 } from './generic-arm64.js';
import { genericArmv7 } from './generic-armv7.js';
import { genericX8664 } from './generic-x86_64.js';
import { rk3588 } from './rk3588.js';
import { rpi4 } from './rpi4.js';
import { rpi5 } from './rpi5.js';
import { readBoardProfileFile, validateBoardProfile } from './schema.js';
import type { BoardProfile } from './types.js';

export type { BoardProfile } from './types.js';
/** Specific boards first: detection takes the first whose match fits, then the generic profile of the CPU. */
export const BOARD_PROFILES: readonly BoardProfile[] = [rpi4, rpi5, rk3588, amlogicS905, genericArm64, genericArmv7, genericX8664];

let validated = false;
/** Every built-in profile passes the schema (checked once, before the first use). */
function builtins(): readonly BoardProfile[] {
  if (!validated) {
    for (const b of BOARD_PROFILES) validateBoardProfile(b, `board/${b.id}.ts`);
    validated = true;
  }
  return BOARD_PROFILES;
}

export function boardById(id: string): BoardProfile | undefined {
  return builtins().find((b) => b.id === id);
}

function readSmall(path: string): string {
  try {
    return readFileSync(path).subarray(0, 4096).toString('utf8');
  } catch {
    return '';
  }
}

/** What the kernel says about the board: the device-tree model and compatible list (ARM), DMI (PCs). */
export interface BoardFacts {
  deviceTreeModel: string;
  compatible: string[];
  dmiVendor: string;
  dmiProduct: string;
  arch: string;
}

/**
 * Reads the facts straight from /proc and /sys (the files systeminformation reads too), synchronously: config
 * loading needs the board before anything starts, and loading systeminformation costs ~12 MB of RSS.
 */
export function readBoardFacts(root = '/', arch: string = process.arch): BoardFacts {
  const text = (p: string) => readSmall(join(root, p)).replace(/\0+$/, '').replace(/\0/g, ' ').trim();
  return {
    deviceTreeModel: text('proc/device-tree/model'),
    compatible: readSmall(join(root, 'proc/device-tree/compatible')).split('\0').map((s) => s.trim()).filter(Boolean),
    dmiVendor: text('sys/class/dmi/id/sys_vendor'),
    dmiProduct: text('sys/class/dmi/id/product_name'),
    arch,
  };
}

/** The same facts through systeminformation (for `mss probe --board`, where its cost does not matter). */
export async function boardFactsFromSystemInformation(): Promise<BoardFacts> {
  const { systemInformation } = await import('../src/device/system-information.js');
  const si = await systemInformation();
  const sys = await si.system();
  const files = readBoardFacts();
  const dt = files.deviceTreeModel;
  return { ...files, deviceTreeModel: dt || (files.compatible.length > 0 ? sys.model : ''), dmiVendor: files.dmiVendor || (dt ? '' : sys.manufacturer), dmiProduct: files.dmiProduct || (dt ? '' : sys.model) };
}

export type BoardSource = 'MSS_BOARD' | 'config' | 'file' | 'device-tree' | 'compatible' | 'dmi' | 'arch';

export interface BoardChoice {
  profile: BoardProfile;
  source: BoardSource;
  /** what matched, for the log */
  detail: string;
}

const matches = (patterns: readonly string[] | undefined, value: string) => !!value && (patterns ?? []).some((p) => new RegExp(p, 'i').test(value));

/** The built-in profile that fits these facts (specific boards by model, then by arch). */
export function matchBoard(facts: BoardFacts): BoardChoice {
  for (const b of builtins()) {
    if (matches(b.match.deviceTreeModel, facts.deviceTreeModel)) return { profile: b, source: 'device-tree', detail: facts.deviceTreeModel };
  }
  for (const b of builtins()) {
    const hit = facts.compatible.find((c) => matches(b.match.compatible, c));
    if (hit) return { profile: b, source: 'compatible', detail: hit };
  }
  for (const b of builtins()) {
    if (matches(b.match.dmiProduct, facts.dmiProduct)) return { profile: b, source: 'dmi', detail: facts.dmiProduct };
  }
  const arch = facts.arch === 'arm64' ? genericArm64 : facts.arch === 'arm' ? genericArmv7 : genericX8664;
  return { profile: arch, source: 'arch', detail: facts.arch };
}

/**
 * The profile to use: MSS_BOARD wins, then the config's `board` (an id or a JSON profile file), then detection.
 * An unknown id or a profile that does not validate throws MssError('invalid-config') naming the bad field.
 */
export function selectBoard(choice = 'auto', env: NodeJS.ProcessEnv = process.env, facts: () => BoardFacts = () => readBoardFacts()): BoardChoice {
  const forced = env.MSS_BOARD?.trim();
  const [wanted, source]: [string, BoardSource] = forced ? [forced, 'MSS_BOARD'] : [choice, 'config'];
  if (wanted && wanted !== 'auto') {
    if (isAbsolute(wanted)) return { profile: readBoardProfileFile(wanted), source: 'file', detail: wanted };
    const b = boardById(wanted);
    if (!b) throw new MssError('invalid-config', `${source === 'MSS_BOARD' ? 'MSS_BOARD' : 'board'}: unknown board profile ${JSON.stringify(wanted)}; known: ${BOARD_PROFILES.map((p) => p.id).join(', ')}, or an absolute path to a JSON profile`);
    return { profile: b, source, detail: wanted };
  }
  return matchBoard(facts());
}

/** The profile for this machine (MSS_BOARD, else detection). */
export function detectBoard(env: NodeJS.ProcessEnv = process.env, arch: string = process.arch): BoardProfile {
  return selectBoard('auto', env, () => readBoardFacts('/', arch)).profile;
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
