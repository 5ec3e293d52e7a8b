import type { BoardProfile } from './types.js';

/** Raspberry Pi 4 (arm64): the VideoCore H.264 encoder through V4L2 mem2mem (/dev/video11). */
export const rpi4: BoardProfile = {
  id: 'rpi4',
  description: 'Raspberry Pi 4: h264_v4l2m2m hardware encoder, CSI/USB capture, UART VISCA on /dev/ttyAMA0',
  arch: ['arm64', 'arm'],
  h264HardwareEncoder: 'h264_v4l2m2m',
  h264HardwareDevice: '/dev/video11',
  videoDevice: '/dev/video0',
  audioDevice: 'hw:1,0',
  serialPorts: ['/dev/ttyAMA0', '/dev/ttyUSB0', '/dev/serial0'],
  camera: { baudRate: 9600, address: 1 },
  ports: { http: 80, rtsp: 554, mms: 1755 },
  maxEncodeBitrate: 8_000_000,
};
