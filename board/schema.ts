/**
 * The board profile schema: every built-in profile and any JSON profile given as an override is checked against
 * it before use, and a profile that does not validate stops startup with the path of the bad field
 * (e.g. `board(/etc/mss/board.json).ports.http: must be <= 65535, got 70000`).
 */
import { readFileSync } from 'node:fs';
import { MssError } from '../src/core/errors.js';
import { validate, type Schema } from '../src/config/schema.js';
import type { BoardProfile } from './types.js';

const DEV = /^\/dev\/[A-Za-z0-9_./-]{1,64}$/;
const port: Schema = { kind: 'int', doc: 'TCP/UDP port', min: 1, max: 65535 };
const strings = (doc: string, pattern?: RegExp): Schema => ({ kind: 'array', doc, default: [], maxItems: 32, items: { kind: 'string', doc, maxLength: 256, ...(pattern ? { pattern } : {}) } });

export const boardSchema: Schema = {
  kind: 'object',
  doc: 'A board profile',
  fields: {
    id: { kind: 'string', doc: 'Profile id', pattern: /^[a-z0-9][a-z0-9_-]{0,31}$/ },
    description: { kind: 'string', doc: 'What the board is', maxLength: 256 },
    arch: { kind: 'array', doc: 'Node process.arch values', maxItems: 3, items: { kind: 'enum', doc: 'arch', values: ['x64', 'arm64', 'arm'] } },
    match: {
      kind: 'object',
      doc: 'Detection',
      fields: {
        deviceTreeModel: { ...strings('regular expression on /proc/device-tree/model'), optional: true },
        dmiProduct: { ...strings('regular expression on the DMI product name'), optional: true },
        compatible: { ...strings('regular expression on /proc/device-tree/compatible'), optional: true },
      },
    },
    h264HardwareEncoder: { kind: 'string', doc: 'ffmpeg hardware H.264 encoder', pattern: /^[a-z0-9_]{1,32}$/, optional: true },
    h264HardwareDevice: { kind: 'string', doc: 'device node of the encoder', pattern: DEV, optional: true },
    videoDevice: { kind: 'string', doc: 'default V4L2 device', pattern: DEV },
    audioDevice: { kind: 'string', doc: 'default ALSA device', pattern: /^(hw|plughw):\d{1,2},\d{1,2}$/ },
    capture: {
      kind: 'array',
      doc: 'capture hardware',
      maxItems: 16,
      items: {
        kind: 'object',
        doc: 'a capture device',
        fields: {
          device: { kind: 'string', doc: 'device node', pattern: DEV },
          kind: { kind: 'enum', doc: 'connection', values: ['csi', 'usb', 'hdmi', 'tuner'] },
          formats: strings('fourcc', /^[A-Z0-9 ]{4}$/),
        },
      },
    },
    serialPorts: strings('serial device', DEV),
    camera: { kind: 'object', doc: 'camera line', fields: { baudRate: { kind: 'int', doc: 'baud', min: 1200, max: 921600 }, address: { kind: 'int', doc: 'VISCA address', min: 1, max: 7 } } },
    maxEncodeBitrate: { kind: 'int', doc: 'real-time encode limit, bit/s', min: 64_000, max: 200_000_000 },
    leds: {
      kind: 'object',
      doc: '/sys/class/leds names',
      fields: Object.fromEntries(['status', 'activity', 'error'].map((k) => [k, { kind: 'string', doc: `${k} LED`, pattern: /^[A-Za-z0-9_:.-]{1,64}$/, optional: true } as Schema])),
    },
    thermalZones: {
      kind: 'array',
      doc: 'thermal zones',
      maxItems: 16,
      items: {
        kind: 'object',
        doc: 'a zone',
        fields: {
          zone: { kind: 'string', doc: 'thermal_zoneN', pattern: /^thermal_zone\d{1,3}$/ },
          name: { kind: 'string', doc: 'what it measures', maxLength: 64 },
          throttleC: { kind: 'number', doc: 'throttle temperature', min: 30, max: 150 },
        },
      },
    },
    watchdog: {
      kind: 'object',
      doc: 'watchdogs',
      fields: {
        device: { kind: 'string', doc: 'hardware watchdog device (empty: none)', pattern: /^(|\/dev\/watchdog\d*)$/ },
        hardwareTimeoutSec: { kind: 'int', doc: 'systemd RuntimeWatchdogSec (0: off)', min: 0, max: 600 },
        serviceWatchdogSec: { kind: 'int', doc: 'WatchdogSec of mss.service (0: off)', min: 0, max: 600 },
      },
    },
    reboot: {
      kind: 'object',
      doc: 'reboot method',
      fields: {
        method: { kind: 'enum', doc: 'how', values: ['systemd', 'command'] },
        command: { kind: 'string', doc: 'command for method=command', maxLength: 256, optional: true },
      },
    },
    ports: { kind: 'object', doc: 'standard ports', fields: { http: port, rtsp: port, mms: port, msbd: port } },
    storage: {
      kind: 'object',
      doc: 'partitions',
      fields: {
        dataDir: { kind: 'string', doc: 'mss data directory', pattern: /^(\/[A-Za-z0-9_.-]+)+$|^\.\/var$/ },
        dataPartition: { kind: 'string', doc: 'data partition', pattern: /^(\/dev\/[A-Za-z0-9_/-]+|LABEL=[A-Za-z0-9_-]{1,16}|PARTLABEL=[A-Za-z0-9_-]{1,36}|)$/ },
        rootSlots: { kind: 'array', doc: 'A and B root partitions', maxItems: 2, items: { kind: 'string', doc: 'slot device', pattern: /^(\/dev\/[A-Za-z0-9_/-]+|PARTLABEL=[A-Za-z0-9_-]{1,36}|)$/ } },
        bootloader: { kind: 'enum', doc: 'boot selection', values: ['uboot', 'grub', 'rpi-tryboot', 'none'] },
      },
    },
    api: { kind: 'object', doc: 'status API', fields: { auth: { kind: 'enum', doc: 'auth scheme', values: ['none', 'basic', 'digest'] } } },
  },
};

/** Validates a profile; throws MssError('invalid-config') naming every bad field as `board(<source>).<path>`. */
export function validateBoardProfile(doc: unknown, source: string): BoardProfile {
  const { value, issues } = validate(boardSchema, doc);
  const v = value as BoardProfile | undefined;
  if (issues.length === 0 && v) {
    if (v.storage.rootSlots.length !== 2) issues.push({ path: 'storage.rootSlots', message: `must name exactly two slots (A, B), got ${v.storage.rootSlots.length}` });
    if (v.reboot.method === 'command' && !v.reboot.command) issues.push({ path: 'reboot.command', message: 'is required when reboot.method is "command"' });
    for (const [key, list] of Object.entries(v.match)) {
      for (const [i, re] of (list as string[]).entries()) {
        try {
          new RegExp(re, 'i');
        } catch (err) {
          issues.push({ path: `match.${key}[${i}]`, message: `is not a regular expression: ${(err as Error).message}` });
        }
      }
    }
  }
  if (issues.length > 0) {
    const lines = issues.map((i) => `board(${source})${i.path ? '.' + i.path : ''}: ${i.message}`);
    throw new MssError('invalid-config', `invalid board profile:\n  ${lines.join('\n  ')}`, { errors: issues.map((i) => ({ path: `board.${i.path}`, message: i.message })) });
  }
  return v!;
}

const MAX_PROFILE_FILE = 64 * 1024;

/** A JSON board profile from a file (the override for a board without a built-in profile). */
export function readBoardProfileFile(file: string): BoardProfile {
  let doc: unknown;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_PROFILE_FILE) throw new MssError('too-large', `${file}: board profile is ${buf.length} bytes, limit ${MAX_PROFILE_FILE}`);
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    if (err instanceof MssError) throw err;
    throw new MssError('invalid-config', `board profile ${file}: ${(err as Error).message}`);
  }
  return validateBoardProfile(doc, file);
}
