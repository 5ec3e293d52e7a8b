import type { BoardProfile } from './types.js';

/** A Rockchip RK3588 box (Rock 5B, Orange Pi 5 Plus class): MPP hardware encoder, HDMI input, eMMC with U-Boot A/B. */
export const rk3588: BoardProfile = {
  id: 'rk3588',
  description: 'Rockchip RK3588 box: h264_rkmpp hardware encoder (/dev/mpp_service), HDMI-in and USB capture',
  arch: ['arm64'],
  match: { deviceTreeModel: ['RK3588'], compatible: ['rockchip,rk3588'] },
  h264HardwareEncoder: 'h264_rkmpp',
  h264HardwareDevice: '/dev/mpp_service',
  videoDevice: '/dev/video0',
  audioDevice: 'hw:0,0',
  capture: [
    { device: '/dev/video0', kind: 'hdmi', formats: ['NV12', 'BGR3'] },
    { device: '/dev/video20', kind: 'usb', formats: ['MJPG', 'YUYV'] },
  ],
  serialPorts: ['/dev/ttyS2', '/dev/ttyUSB0'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 40_000_000,
  leds: { status: 'blue:status' },
  thermalZones: [
    { zone: 'thermal_zone0', name: 'soc', throttleC: 85 },
    { zone: 'thermal_zone1', name: 'bigcore0', throttleC: 85 },
  ],
  watchdog: { device: '/dev/watchdog', hardwareTimeoutSec: 30, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 80, rtsp: 554, mms: 1755, msbd: 7007 },
  storage: { dataDir: '/data/mss', dataPartition: 'PARTLABEL=data', rootSlots: ['PARTLABEL=rootfs_a', 'PARTLABEL=rootfs_b'], bootloader: 'uboot' },
  api: { auth: 'digest' },
};
