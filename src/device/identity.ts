import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { systemInformation } from './system-information.js';
import type { DeviceKv } from './kv.js';

const DEVICE_ID = /^[a-z0-9-]{1,64}$/;
/** serials that boards and VMs report when nobody programmed one */
const PLACEHOLDER_SERIALS = /^(0+|f+|none|unknown|default string|to be filled by o\.e\.m\.|system serial number|not specified|-)$/i;

/** A board serial turned into a device id (`[a-z0-9-]`), or undefined when it is missing or a placeholder. */
export function deviceIdFromSerial(serial: string | undefined): string | undefined {
  if (!serial) return undefined;
  const trimmed = serial.replace(/\0/g, '').trim();
  if (trimmed === '' || PLACEHOLDER_SERIALS.test(trimmed)) return undefined;
  const id = trimmed.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return DEVICE_ID.test(id) ? id : undefined;
}

export async function readBoardSerial(): Promise<string | undefined> {
  // Device-tree boards (most ARM set-top boxes) expose the SoC serial here; the DMI serial is the fallback.
  for (const file of ['/proc/device-tree/serial-number', '/sys/firmware/devicetree/base/serial-number']) {
    try {
      const id = deviceIdFromSerial(await readFile(file, 'utf8'));
      if (id) return id;
    } catch {
      // not a device-tree board
    }
  }
  try {
    const si = await systemInformation();
    const sys = await si.system();
    return deviceIdFromSerial(sys.serial);
  } catch {
    return undefined;
  }
}

/**
 * The stable device id: the configured one, else the board serial, else one generated on first boot and
 * kept in the database, so the id (also the MQTT client id) never changes across reboots.
 */
export async function resolveDeviceId(configured: string, kv: DeviceKv, boardSerial: () => Promise<string | undefined> = readBoardSerial): Promise<{ id: string; source: 'config' | 'serial' | 'generated' }> {
  if (configured) return { id: configured, source: 'config' };
  const serial = await boardSerial();
  if (serial) return { id: serial, source: 'serial' };
  const stored = kv.get('device-id');
  if (stored && DEVICE_ID.test(stored)) return { id: stored, source: 'generated' };
  const generated = `mss-${randomBytes(6).toString('hex')}`;
  kv.set('device-id', generated);
  return { id: generated, source: 'generated' };
}
