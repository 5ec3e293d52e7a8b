/**
 * The RTSP-WME server (MS-RTSP): its listener (with the limits every TCP listener has), RTSP sessions, the UDP ports
 * RTP/RTCP use, and the RTP payload choices real players disagree on.
 */
import type { Schema } from '../schema.js';
import { listenerFields, type ListenerConfig } from './listener.js';

export interface RtspConfig extends ListenerConfig {
  enabled: boolean;
  /** request line + headers, in bytes */
  maxRequestBytes: number;
  /** a request body (logs, stream selections), in bytes */
  maxBodyBytes: number;
  /** a session without requests (or, over UDP, RTCP receiver reports) for this long is ended */
  sessionTimeoutMs: number;
  maxSessions: number;
  /** the Server header: FFmpeg and GStreamer speak Windows Media RTSP only to a value starting with WMServer/ */
  serverName: string;
  udp: {
    enabled: boolean;
    /** even RTP/RTCP server port pairs per session come from portMin..portMax */
    portMin: number;
    portMax: number;
    /** path MTU: RTP packets are at most mtu - 28 bytes (IPv4 + UDP headers) */
    mtu: number;
    /** bits/s a UDP player is sent at most, fast start included (UDP cannot push back: a burst must fit its buffer) */
    maxBitrate: number;
  };
  /** Length of a whole ASF packet in its payload header: with the header (what FFmpeg reads) or the spec's ASF size */
  payloadLength: 'with-header' | 'asf-only';
  /** leave out the padding of ASF packets (MS-RTSP 2.2.1.4 SHOULD) */
  stripPadding: boolean;
}

export const rtspSchema: Schema = {
  kind: 'object',
  doc: 'The RTSP server with Windows Media extensions (rtsp://, RTP over UDP or interleaved on TCP)',
  fields: {
    enabled: { kind: 'bool', doc: 'Serve the publishing points over RTSP too', default: true },
    ...listenerFields({ port: 8554, what: 'RTSP' }),
    maxRequestBytes: { kind: 'int', doc: 'Largest RTSP request line plus headers, in bytes', default: 16384, min: 1024, max: 1048576 },
    maxBodyBytes: { kind: 'int', doc: 'Largest RTSP request body (player logs, stream selections), in bytes', default: 65536, min: 1024, max: 16777216 },
    sessionTimeoutMs: { kind: 'int', doc: 'A session with no request (UDP: no RTCP report either) for this long is ended', default: 60000, min: 10000, max: 3600000 },
    maxSessions: { kind: 'int', doc: 'Most RTSP sessions held at once', default: 20000, min: 1, max: 1000000 },
    serverName: { kind: 'string', doc: 'Server header of every response (players look for WMServer/)', default: 'WMServer/9.6.0.8431', pattern: /^WMServer\/[0-9.]{1,32}$/, maxLength: 64 },
    udp: {
      kind: 'object',
      doc: 'RTP/RTCP over UDP',
      fields: {
        enabled: { kind: 'bool', doc: 'Offer RTP over UDP (else only interleaved on the RTSP connection)', default: true },
        portMin: { kind: 'int', doc: 'Lowest UDP port of a session\'s RTP/RTCP pair', default: 6970, min: 1024, max: 65534 },
        portMax: { kind: 'int', doc: 'Highest UDP port of a session\'s RTP/RTCP pair', default: 9999, min: 1025, max: 65535 },
        mtu: { kind: 'int', doc: 'Path MTU in bytes: ASF packets are split into RTP packets that fit', default: 1500, min: 576, max: 65535 },
        maxBitrate: { kind: 'int', doc: 'Most bits/s sent to one UDP player, fast start included (a burst must fit its socket buffer)', default: 10000000, min: 100000, max: 1000000000 },
      },
    },
    payloadLength: { kind: 'enum', doc: 'Length field of a whole ASF packet: with-header (FFmpeg) or asf-only (the text of MS-RTSP)', values: ['with-header', 'asf-only'], default: 'with-header' },
    stripPadding: { kind: 'bool', doc: 'Leave the padding of ASF packets off the wire (MS-RTSP 2.2.1.4)', default: true },
  },
};
