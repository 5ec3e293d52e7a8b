/**
 * The RTSP-WME protocol client of the player (rtsp://, rtspt:// over TCP, rtspu:// over UDP): the protocol's
 * RtspStream behind PlaySession. rtsp:// streams interleaved on the RTSP connection (nothing to get through a
 * firewall or NAT); rtspu:// asks for UDP.
 */
import { openRtspStream, type RtspDescribeInfo } from '../protocols/rtsp/client.js';
import type { PlayOpenOptions, PlaySession, ProtocolClient } from './protocol-client.js';
import { StreamPlaySession } from './stream-session.js';

export const rtspProtocolClient: ProtocolClient = {
  name: 'rtsp',
  schemes: ['rtsp:', 'rtspt:', 'rtspu:'],
  rolloverUrl(url: URL): URL {
    // WMP tries RTSP first for mms:// URLs, on RTSP's own port (an mms:// port is the MMS one)
    const out = new URL(`rtsp://${url.hostname}${url.pathname}${url.search}`);
    out.username = url.username;
    out.password = url.password;
    return out;
  },
  open(url: URL, opts: PlayOpenOptions): PlaySession {
    const stream = openRtspStream(url, opts);
    return new StreamPlaySession<RtspDescribeInfo>('rtsp', stream, (d) => ({ url: d.url, broadcast: d.broadcast, seekable: d.seekable, header: d.header, headerBytes: d.headerBytes, selectedStreams: d.selectedStreams, sessionId: d.sessionId }), (xml) => stream.sendLog(xml));
  },
};
