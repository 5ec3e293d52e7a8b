/**
 * The RTSP-WME protocol client of the player (rtsp://, rtspt:// over TCP, rtspu:// over UDP): the protocol's
 * RtspStream behind PlaySession. rtsp:// streams interleaved on the RTSP connection (nothing to get through a
 * firewall or NAT); rtspu:// asks for UDP.
 */
import { EventEmitter } from 'node:events';
import { openRtspStream, type RtspStream } from '../protocols/rtsp/client.js';
import type { PlayOpenOptions, PlaySession, PlaySessionEvents, PlaySessionInfo, PlaySessionStats, ProtocolClient } from './protocol-client.js';

class RtspPlaySession extends EventEmitter<PlaySessionEvents> implements PlaySession {
  readonly protocol = 'rtsp';
  info: PlaySessionInfo | undefined;

  constructor(private readonly stream: RtspStream) {
    super();
    stream.on('describe', (d) => {
      this.info = { url: d.url, broadcast: d.broadcast, seekable: d.seekable, header: d.header, headerBytes: d.headerBytes, selectedStreams: d.selectedStreams, sessionId: d.sessionId };
      this.emit('describe', this.info);
    });
    stream.on('header', (bytes, header) => this.emit('header', bytes, header));
    stream.on('packet', (packet, info) => this.emit('packet', packet, info));
    stream.on('stream-change', () => this.emit('stream-change'));
    stream.on('end', (reason) => this.emit('end', reason));
    stream.on('error', (err) => this.emit('error', err));
  }

  get stats(): PlaySessionStats {
    return this.stream.stats;
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  close(): void {
    this.stream.close();
  }

  sendLog(xml: string): Promise<number> {
    return this.stream.sendLog(xml);
  }
}

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
    return new RtspPlaySession(openRtspStream(url, opts));
  },
};
