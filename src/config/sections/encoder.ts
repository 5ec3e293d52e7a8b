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
    ffmpegPath: { kind: 'string', doc: 'ffmpeg program (found on PATH when not absolute)', default: 'ffmpeg' },
    push: { kind: 'string', doc: 'Push URL (MS-WMHTTP); empty: no push', default: '', pattern: /^(|https?:\/\/.+)$/ },
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
