import type { BoardProfile } from './types.js';

/** A 32-bit (or unknown 64-bit) ARM set-top box without a usable hardware encoder: WMV2 at modest bitrates in software. */
export const genericArmv7: BoardProfile = {
  id: 'generic-armv7',
  description: 'Generic ARMv7 set-top box: software WMV2/WMA2 only, USB capture, USB serial',
  arch: ['arm', 'arm64'],
  videoDevice: '/dev/video0',
  audioDevice: 'hw:0,0',
  serialPorts: ['/dev/ttyUSB0', '/dev/ttyS1'],
  camera: { baudRate: 9600, address: 1 },
  ports: { http: 80, rtsp: 554, mms: 1755 },
  maxEncodeBitrate: 1_500_000,
};
