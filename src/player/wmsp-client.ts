/** The WMSP (mmsh://, http://) protocol client of the player: the protocol's WmspStream behind PlaySession. */
import { EventEmitter } from 'node:events';
import { openWmspStream, type WmspStream } from '../protocols/wmsp/client.js';
import type { PlayOpenOptions, PlaySession, PlaySessionEvents, PlaySessionInfo, PlaySessionStats, ProtocolClient } from './protocol-client.js';

class WmspPlaySession extends EventEmitter<PlaySessionEvents> implements PlaySession {
  readonly protocol = 'wmsp';
  info: PlaySessionInfo | undefined;

  constructor(private readonly stream: WmspStream) {
    super();
    stream.on('describe', (d) => {
      this.info = {
        url: d.url,
        broadcast: d.broadcast,
        seekable: d.features.includes('seekable') && !d.broadcast,
        header: d.header,
        headerBytes: d.headerBytes,
        selectedStreams: d.selectedStreams,
        sessionId: d.clientId,
        cacheControl: d.cacheControl,
      };
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

export const wmspProtocolClient: ProtocolClient = {
  name: 'wmsp',
  schemes: ['mmsh:', 'http:'],
  rolloverUrl(url: URL): URL {
    // WMP rolls an mms:// URL over to HTTP on the same host; an explicit port is kept
    const out = new URL(`mmsh://${url.host}${url.pathname}${url.search}`);
    out.username = url.username;
    out.password = url.password;
    return out;
  },
  open(url: URL, opts: PlayOpenOptions): PlaySession {
    return new WmspPlaySession(openWmspStream(url, opts));
  },
};
