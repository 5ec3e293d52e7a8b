/**
 * A board profile says what capture hardware and encoders a board has, so the encoder picks devices and codecs
 * without probing at random. `detect.ts` picks the profile for the running board and lists what is present.
 */
export interface BoardProfile {
  /** stable id, e.g. rpi4 */
  id: string;
  description: string;
  /** Node's process.arch values this profile fits */
  arch: ReadonlyArray<'x64' | 'arm64' | 'arm'>;
  /** ffmpeg name of the SoC's hardware H.264 encoder, when it has one */
  h264HardwareEncoder?: string;
  /** device node the hardware encoder needs (checked before use) */
  h264HardwareDevice?: string;
  /** default V4L2 capture device and ALSA device */
  videoDevice: string;
  audioDevice: string;
  /** serial ports a VISCA camera is usually wired to, in order of preference */
  serialPorts: readonly string[];
  /** default camera line settings */
  camera: { baudRate: number; address: number };
  /** the standard ports a production image uses */
  ports: { http: number; rtsp: number; mms: number };
  /** largest profile (by total bitrate) the board encodes in real time; profiles above it are refused */
  maxEncodeBitrate: number;
}
