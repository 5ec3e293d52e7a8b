import type { BoardProfile } from './types.js';

/** Any other 64-bit ARM board: software encoding, USB capture and serial, partitions found by label. */
export const genericArm64: BoardProfile = {
  id: 'generic-arm64',
  description: 'Generic arm64 board: software WMV2/H.264, USB capture, USB serial, GPT labels for A/B and data',
  arch: ['arm64'],
  match: {},
  videoDevice: '/dev/video0',
  audioDevice: 'hw:0,0',
  capture: [{ device: '/dev/video0', kind: 'usb', formats: ['MJPG', 'YUYV'] }],
  serialPorts: ['/dev/ttyUSB0', '/dev/ttyACM0', '/dev/ttyS0'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 4_000_000,
  leds: {},
  thermalZones: [{ zone: 'thermal_zone0', name: 'soc', throttleC: 85 }],
  watchdog: { device: '/dev/watchdog', hardwareTimeoutSec: 30, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 80, rtsp: 554, mms: 1755, msbd: 7007 },
  storage: { dataDir: '/data/mss', dataPartition: 'PARTLABEL=data', rootSlots: ['PARTLABEL=rootfs_a', 'PARTLABEL=rootfs_b'], bootloader: 'uboot' },
  api: { auth: 'digest' },
};
