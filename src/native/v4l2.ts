/**
 * V4L2 device discovery for `mss probe --devices`: lists the video nodes of a /dev directory and asks the native
 * addon for each one's capabilities and formats. A node that cannot be probed is reported with the reason, never
 * thrown; without the addon the whole answer is "not available" with why.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeAddon, V4l2DeviceInfo } from './index.js';

const CAPABILITY_NAMES: Array<[number, string]> = [
  [0x00000001, 'video-capture'],
  [0x00000002, 'video-output'],
  [0x00001000, 'video-capture-mplane'],
  [0x00002000, 'video-output-mplane'],
  [0x00004000, 'video-m2m-mplane'],
  [0x00008000, 'video-m2m'],
  [0x00020000, 'audio'],
  [0x01000000, 'readwrite'],
  [0x04000000, 'streaming'],
  [0x00800000, 'meta-capture'],
];

/** V4L2_CAP_* bits as names (unknown bits are left out). */
export function capabilityNames(bits: number): string[] {
  return CAPABILITY_NAMES.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name);
}

export type V4l2ProbeEntry = { path: string; ok: true; info: V4l2DeviceInfo } | { path: string; ok: false; error: string; code: string };

export type V4l2Report = { available: false; reason: string; devices: [] } | { available: true; addon: string; devices: V4l2ProbeEntry[] };

const MAX_NODES = 64;

/** /dev/video0, /dev/video1 … in numeric order (at most 64). */
export function listVideoNodes(devDir = '/dev'): string[] {
  let names: string[];
  try {
    names = readdirSync(devDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^video\d{1,4}$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .slice(0, MAX_NODES)
    .map((n) => join(devDir, n));
}

export function probeVideoDevices(addon: NativeAddon, devDir = '/dev'): V4l2Report {
  if (!addon.available) return { available: false, reason: addon.reason, devices: [] };
  const devices: V4l2ProbeEntry[] = listVideoNodes(devDir).map((path) => {
    try {
      return { path, ok: true as const, info: addon.probeV4l2(path) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const code = typeof e.code === 'string' ? e.code : 'EIO';
      const why = code === 'ENOTTY' || code === 'EINVAL' ? 'not a V4L2 device' : code === 'ENODEV' || code === 'ENXIO' ? 'device gone' : code === 'ENOSYS' ? 'V4L2 ioctls not supported here (emulator?)' : code === 'EACCES' ? 'permission denied (is the user in the video group?)' : code === 'EBUSY' ? 'busy' : e.message;
      return { path, ok: false as const, error: why, code };
    }
  });
  return { available: true, addon: addon.file, devices };
}

function sizeText(f: V4l2DeviceInfo['formats'][number]): string {
  if (f.sizes.length === 0) return '';
  const first = f.sizes[0]!;
  if (first.kind !== 'discrete') return `${first.minWidth}x${first.minHeight}..${first.maxWidth}x${first.maxHeight}`;
  return f.sizes.map((s) => `${s.width}x${s.height}`).join(' ');
}

export function formatV4l2Report(r: V4l2Report): string {
  if (!r.available) return `V4L2 probing not available: ${r.reason}\n`;
  if (r.devices.length === 0) return 'no V4L2 devices\n';
  const lines: string[] = [];
  for (const d of r.devices) {
    if (!d.ok) {
      lines.push(`${d.path}: ${d.error} (${d.code})`);
      continue;
    }
    const i = d.info;
    lines.push(`${d.path}: ${i.card} (driver ${i.driver} ${i.version}, ${i.busInfo}) [${capabilityNames(i.capabilities).join(', ')}]`);
    for (const f of i.formats) lines.push(`  ${f.bufferType.padEnd(14)} ${f.fourcc}  ${f.description}${f.compressed ? ' (compressed)' : ''}  ${sizeText(f)}`.trimEnd());
  }
  return lines.join('\n') + '\n';
}
