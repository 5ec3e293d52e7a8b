/** The WMSP (mmsh://, http://) protocol client of the player: the protocol's WmspStream behind PlaySession. */
import { openWmspStream, type WmspDescribeInfo } from '../protocols/wmsp/client.js';
import type { PlayOpenOptions, PlaySession, ProtocolClient } from './protocol-client.js';
import { StreamPlaySession } from './stream-session.js';

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
    const stream = openWmspStream(url, opts);
    return new StreamPlaySession<WmspDescribeInfo>(
      'wmsp',
      stream,
      (d) => ({
        url: d.url,
        broadcast: d.broadcast,
        seekable: d.features.includes('seekable') && !d.broadcast,
        header: d.header,
        headerBytes: d.headerBytes,
        selectedStreams: d.selectedStreams,
        sessionId: d.clientId,
        cacheControl: d.cacheControl,
      }),
      (xml) => stream.sendLog(xml),
    );
  },
};
