/**
 * A board profile: what a board has (capture devices and formats, hardware encoders, serial ports, LEDs, thermal
 * zones, watchdog, reboot method, partitions) and the defaults an appliance image uses on it (standard ports, the
 * data partition, API auth, watchdog). One file per board; `schema.ts` validates a profile (also a JSON profile
 * given as an override), `detect.ts` picks the profile for the running board, `overlay.ts` turns it into config
 * defaults.
 */
export type NodeArch = 'x64' | 'arm64' | 'arm';

export interface CaptureDevice {
  /** device node, e.g. /dev/video0 */
  device: string;
  kind: 'csi' | 'usb' | 'hdmi' | 'tuner';
  /** pixel formats the usual hardware offers (fourcc), first preferred */
  formats: readonly string[];
}

export interface BoardProfile {
  /** stable id, e.g. rpi4 (also the file name) */
  id: string;
  description: string;
  /** Node's process.arch values this profile fits */
  arch: readonly NodeArch[];
  /** how detection recognises the board: regular expressions (case-insensitive) on the device-tree model or DMI */
  match: { deviceTreeModel?: readonly string[]; dmiProduct?: readonly string[]; compatible?: readonly string[] };
  /** ffmpeg name of the SoC's hardware H.264 encoder, when it has one */
  h264HardwareEncoder?: string;
  /** device node the hardware encoder needs (checked before use) */
  h264HardwareDevice?: string;
  /** default V4L2 capture device and ALSA device */
  videoDevice: string;
  audioDevice: string;
  /** capture hardware this board usually has */
  capture: readonly CaptureDevice[];
  /** serial ports a VISCA camera is usually wired to, in order of preference */
  serialPorts: readonly string[];
  /** default camera line settings */
  camera: { baudRate: number; address: number };
  /** largest profile (by total bitrate) the board encodes in real time; profiles above it are refused */
  maxEncodeBitrate: number;
  /** /sys/class/leds names: status (on when healthy), activity, error */
  leds: { status?: string; activity?: string; error?: string };
  /** /sys/class/thermal zones to watch, with the temperature at which the board throttles */
  thermalZones: ReadonlyArray<{ zone: string; name: string; throttleC: number }>;
  /** hardware watchdog device systemd drives (RuntimeWatchdogSec), and the service watchdog for mss */
  watchdog: { device: string; hardwareTimeoutSec: number; serviceWatchdogSec: number };
  /** how the board reboots: systemctl reboot, or a command (e.g. a vendor tool) */
  reboot: { method: 'systemd' | 'command'; command?: string };
  /** the standard ports a production image uses */
  ports: { http: number; rtsp: number; mms: number; msbd: number };
  /** where the writable data lives on the image, and the A/B layout the updater works with */
  storage: {
    /** mss data directory on the data partition */
    dataDir: string;
    /** block device (or LABEL=) of the writable data partition */
    dataPartition: string;
    /** the two root slots, A then B */
    rootSlots: readonly [string, string];
    bootloader: 'uboot' | 'grub' | 'rpi-tryboot' | 'none';
  };
  /** status API authentication an image starts with */
  api: { auth: 'none' | 'basic' | 'digest' };
}
