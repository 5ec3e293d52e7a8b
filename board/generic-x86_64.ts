import type { BoardProfile } from './types.js';

/** A PC or VM (development, CI): software encoders only, USB capture and USB-serial adapters. */
export const genericX8664: BoardProfile = {
  id: 'generic-x86_64',
  description: 'Generic x86-64 PC: software encoding (wmv2, libx264), USB UVC capture, USB serial',
  arch: ['x64'],
  videoDevice: '/dev/video0',
  audioDevice: 'hw:0,0',
  serialPorts: ['/dev/ttyUSB0', '/dev/ttyACM0', '/dev/ttyS0'],
  camera: { baudRate: 9600, address: 1 },
  ports: { http: 80, rtsp: 554, mms: 1755 },
  maxEncodeBitrate: 20_000_000,
};
