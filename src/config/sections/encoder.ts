import type { Schema } from '../schema.js';

export interface EncoderConfig {
  enabled: boolean;
  /** testsrc | file:<path> | v4l2:/dev/videoN | alsa:hw:X,Y | v4l2:/dev/videoN+alsa:hw:X,Y */
  source: string;
  /** named encoding profile */
  profile: string;
  ffmpegPath: string;
  /** push target (MS-WMHTTP), e.g. http://server:8080/live2; empty = no push */
  push: string;
  /** PushSetup Template-URL: an existing point the server copies when the push target does not exist */
  pushTemplate: string;
  /** PushSetup AutoDestroy: the server removes the point when the push ends */
  pushAutoDestroy: boolean;
  /** credentials for an authenticated push point (the URL's user:password@ works too) */
  pushUser: string;
  pushPassword: string;
  /** inside `mss serve`: feed this local broadcast point (source type push); empty = none */
  point: string;
  /** board profile id (empty: detected) */
  board: string;
  /** longest delay between ffmpeg restarts */
  restartMaxDelayMs: number;
  /** serve the stream for pull (MS-WMSP) on this port; 0 = off */
  servePort: number;
  camera: {
    /** serial device of a VISCA camera; empty = none */
    port: string;
    baudRate: number;
    address: number;
    timeoutMs: number;
  };
}

export const encoderSchema: Schema = {
  kind: 'object',
  doc: 'The encoder: capture, encode, deliver live ASF',
  fields: {
    enabled: { kind: 'bool', doc: 'Run the encoder inside `mss serve`', default: false },
    source: { kind: 'string', doc: 'Capture source: testsrc, file:<path>, v4l2:/dev/videoN, alsa:hw:X,Y or v4l2:...+alsa:...', default: 'testsrc' },
    profile: { kind: 'string', doc: 'Encoding profile name', default: 'wmv2-500k', pattern: /^[a-z0-9-]+$/ },
    ffmpegPath: { kind: 'string', doc: 'ffmpeg program (found on PATH when not absolute)', default: 'ffmpeg', localOnly: true },
    push: { kind: 'string', doc: 'Push URL (MS-WMHTTP); empty: no push', default: '', pattern: /^(|https?:\/\/.+)$/ },
    pushTemplate: { kind: 'string', doc: 'Template publishing point for the push (PushSetup Template-URL); empty: none', default: '', maxLength: 256 },
    pushAutoDestroy: { kind: 'bool', doc: 'Ask the server to remove the pushed point when the push ends (PushSetup AutoDestroy)', default: false },
    pushUser: { kind: 'string', doc: 'User name for an authenticated push point', default: '', maxLength: 64 },
    pushPassword: { kind: 'string', doc: 'Password for an authenticated push point', default: '', maxLength: 256, secret: true },
    point: { kind: 'string', doc: 'Inside mss serve: feed this local broadcast point (source type push); empty: none', default: '', pattern: /^(|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/ },
    board: { kind: 'string', doc: 'Board profile (rpi4, generic-armv7, generic-x86_64); empty: detected', default: '', pattern: /^(|[a-z0-9_-]{1,32})$/ },
    restartMaxDelayMs: { kind: 'int', doc: 'Longest delay between ffmpeg restarts after failures', default: 30000, min: 500, max: 600000 },
    servePort: { kind: 'int', doc: 'Serve the encoded stream for pull on this HTTP port (0: off)', default: 0, min: 0, max: 65535 },
    camera: {
      kind: 'object',
      doc: 'Serial-controlled (VISCA) camera',
      fields: {
        port: { kind: 'string', doc: 'Serial device of a VISCA camera (empty: none)', default: '' },
        baudRate: { kind: 'int', doc: 'Serial speed in baud', default: 9600, min: 1200, max: 921600 },
        address: { kind: 'int', doc: 'VISCA camera address', default: 1, min: 1, max: 7 },
        timeoutMs: { kind: 'int', doc: 'Time to wait for a camera reply', default: 1000, min: 50, max: 30000 },
      },
    },
  },
};
