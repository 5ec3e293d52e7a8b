import type { BoardProfile } from './types.js';

/** Raspberry Pi 5 (BCM2712, arm64): no H.264 encoder block any more, but four A76 cores encode in software. */
export const rpi5: BoardProfile = {
  id: 'rpi5',
  description: 'Raspberry Pi 5: software encoding on 4x Cortex-A76, CSI (via RP1) and USB capture, UART VISCA',
  arch: ['arm64'],
  match: { deviceTreeModel: ['^Raspberry Pi 5', '^Raspberry Pi Compute Module 5'], compatible: ['brcm,bcm2712'] },
  videoDevice: '/dev/video0',
  audioDevice: 'hw:1,0',
  capture: [
    { device: '/dev/video0', kind: 'csi', formats: ['YUYV', 'YU12'] },
    { device: '/dev/video8', kind: 'usb', formats: ['MJPG', 'YUYV'] },
  ],
  serialPorts: ['/dev/ttyAMA0', '/dev/ttyUSB0', '/dev/serial0'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 12_000_000,
  leds: { status: 'PWR', activity: 'ACT' },
  thermalZones: [{ zone: 'thermal_zone0', name: 'cpu', throttleC: 85 }],
  watchdog: { device: '/dev/watchdog', hardwareTimeoutSec: 15, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 80, rtsp: 554, mms: 1755, msbd: 7007 },
  storage: { dataDir: '/data/mss', dataPartition: '/dev/mmcblk0p4', rootSlots: ['/dev/mmcblk0p2', '/dev/mmcblk0p3'], bootloader: 'rpi-tryboot' },
  api: { auth: 'digest' },
};
