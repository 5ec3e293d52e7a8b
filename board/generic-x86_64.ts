import type { BoardProfile } from './types.js';

/**
 * A PC or VM (development, CI): software encoders only, USB capture and USB-serial adapters. Its defaults are the
 * development ones (unprivileged ports, ./var, no API auth) so `npm start` works as an ordinary user.
 */
export const genericX8664: BoardProfile = {
  id: 'generic-x86_64',
  description: 'Generic x86-64 PC (development): software encoding (wmv2, libx264), USB UVC capture, USB serial',
  arch: ['x64'],
  match: {},
  videoDevice: '/dev/video0',
  audioDevice: 'hw:0,0',
  capture: [{ device: '/dev/video0', kind: 'usb', formats: ['MJPG', 'YUYV'] }],
  serialPorts: ['/dev/ttyUSB0', '/dev/ttyACM0', '/dev/ttyS0'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 20_000_000,
  leds: {},
  thermalZones: [],
  watchdog: { device: '', hardwareTimeoutSec: 0, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 8080, rtsp: 8554, mms: 1755, msbd: 7007 },
  storage: { dataDir: './var', dataPartition: '', rootSlots: ['', ''], bootloader: 'none' },
  api: { auth: 'none' },
};
