import type { BoardProfile } from './types.js';

/** An Amlogic S905 (X/X2/X3/X4) set-top box: no usable mainline encoder, so modest software encoding; eMMC + U-Boot. */
export const amlogicS905: BoardProfile = {
  id: 'amlogic-s905',
  description: 'Amlogic S905 set-top box: software WMV2/H.264 at modest bitrates, USB capture, USB serial',
  arch: ['arm64', 'arm'],
  match: { deviceTreeModel: ['S905', 'Amlogic Meson'], // S905/S905X: meson-gxbb/gxl, S905X2: g12a, S905X3: sm1, S905X4: sc2 (kernel compatible strings)
  compatible: ['^amlogic,meson-gx', '^amlogic,g12a$', '^amlogic,sm1$', '^amlogic,sc2$'] },
  videoDevice: '/dev/video0',
  audioDevice: 'hw:1,0',
  capture: [{ device: '/dev/video0', kind: 'usb', formats: ['MJPG', 'YUYV'] }],
  serialPorts: ['/dev/ttyUSB0', '/dev/ttyAML0'],
  camera: { baudRate: 9600, address: 1 },
  maxEncodeBitrate: 3_000_000,
  leds: { status: 'sys_led' },
  thermalZones: [{ zone: 'thermal_zone0', name: 'cpu', throttleC: 85 }],
  watchdog: { device: '/dev/watchdog', hardwareTimeoutSec: 30, serviceWatchdogSec: 30 },
  reboot: { method: 'systemd' },
  ports: { http: 80, rtsp: 554, mms: 1755, msbd: 7007 },
  // the internal eMMC is mmcblk2 on these boxes (mmcblk0/1 are SD and SDIO)
  storage: { dataDir: '/data/mss', dataPartition: '/dev/mmcblk2p4', rootSlots: ['/dev/mmcblk2p2', '/dev/mmcblk2p3'], bootloader: 'uboot' },
  api: { auth: 'digest' },
};
