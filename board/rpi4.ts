import type { BoardProfile } from './types.js';

/** Raspberry Pi 4 (BCM2711, arm64): the VideoCore H.264 encoder through V4L2 mem2mem (/dev/video11), tryboot A/B. */
export const rpi4: BoardProfile = {
  id: 'rpi4',
  description: 'Raspberry Pi 4 / CM4: h264_v4l2m2m hardware encoder, CSI/USB capture, UART VISCA on /dev/ttyAMA0',
  arch: ['arm64', 'arm'],
  match: { deviceTreeModel: ['^Raspberry Pi 4', '^Raspberry Pi Compute Module 4'], compatible: ['brcm,bcm2711'] },
  h264HardwareEncoder: 'h264_v4l2m2m',
  h264HardwareDevice: '/dev/video11',
  videoDevice: '/dev/video0',
  audioDevice: 'hw:1,0',
  capture: [
    { device: '/dev/video0', kind: 'csi', formats: ['YUYV', 'YU12'] },
    { device: '/dev/video1', kind: 'usb', formats: ['MJPG', 'YUYV'] },
  ],
  serialPorts: ['/dev/ttyAMA0', '/dev/ttyUSB0', '/dev/serial0'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 8_000_000,
  leds: { status: 'PWR', activity: 'ACT' },
  thermalZones: [{ zone: 'thermal_zone0', name: 'cpu', throttleC: 80 }],
  // bcm2835-wdt allows at most 15 s
  watchdog: { device: '/dev/watchdog', hardwareTimeoutSec: 15, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 80, rtsp: 554, mms: 1755, msbd: 7007 },
  storage: { dataDir: '/data/mss', dataPartition: '/dev/mmcblk0p4', rootSlots: ['/dev/mmcblk0p2', '/dev/mmcblk0p3'], bootloader: 'rpi-tryboot' },
  api: { auth: 'digest' },
};
