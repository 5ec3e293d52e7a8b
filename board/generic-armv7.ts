import type { BoardProfile } from './types.js';

/** A 32-bit ARM set-top box without a usable hardware encoder: WMV2 at modest bitrates in software. */
export const genericArmv7: BoardProfile = {
  id: 'generic-armv7',
  description: 'Generic ARMv7 set-top box: software WMV2/WMA2 only, USB capture, USB serial',
  arch: ['arm'],
  match: {},
  videoDevice: '/dev/video0',
  audioDevice: 'hw:0,0',
  capture: [{ device: '/dev/video0', kind: 'usb', formats: ['YUYV', 'MJPG'] }],
  serialPorts: ['/dev/ttyUSB0', '/dev/ttyS1'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 1_500_000,
  leds: {},
  thermalZones: [{ zone: 'thermal_zone0', name: 'soc', throttleC: 85 }],
  watchdog: { device: '/dev/watchdog', hardwareTimeoutSec: 30, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 80, rtsp: 554, mms: 1755, msbd: 7007 },
  storage: { dataDir: '/data/mss', dataPartition: 'PARTLABEL=data', rootSlots: ['PARTLABEL=rootfs_a', 'PARTLABEL=rootfs_b'], bootloader: 'uboot' },
  api: { auth: 'digest' },
};
