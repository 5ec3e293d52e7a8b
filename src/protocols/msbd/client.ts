/**
 * The MS-MSBD client (sink role, MS-MSBD 3.2): connects to msbd://host[:port]/[point], asks for the channel (the
 * point name, or "NetShow" when the URL names none: what Windows encoders and servers serve), answers every ping,
 * and gives out the stream as `header` (each STREAMINFO: a new stream), `packet` (each IND_PACKET of the current
 * stream) and `end` (IND_EOS + the empty STREAMINFO); `error` carries an MssError (`detail.lostConnection` when the
 * network failed). It fits a broadcast point's pull source, which reconnects.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { MssError, type MssErrorCode } from '../../core/errors.js';
import { CONNECT_TCP, encodeConnectRequest, encodeSimple, HR, MsbdMessageReader, NETSHOW_CHANNEL, type MsbdMessage } from './codec.js';

export const MSBD_DEFAULT_PORT = 7007;

export interface MsbdClientOptions {
  connectTimeoutMs?: number;
  /** nothing received for this long (the server pings every ~2 minutes) ends the stream with an error */
  idleTimeoutMs?: number;
}

export interface MsbdStreamEvents {
  header: [headerBytes: Buffer];
  packet: [packet: Buffer];
  end: [reason: number];
  error: [err: MssError];
}

function codeFor(hr: number): MssErrorCode {
  switch (hr >>> 0) {
    case HR.ACCESS_DENIED:
      return 'forbidden';
    case HR.NOT_FOUND:
      return 'not-found';
    case HR.INVALID_ARGUMENT:
    case HR.MULTICAST_REFUSED:
      return 'unsupported';
    default:
      return 'unavailable';
  }
}

/** host, port and channel of an msbd:// URL */
export function parseMsbdUrl(url: string | URL): { host: string; port: number; channel: string } {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw new MssError('invalid-argument', `not a URL: ${JSON.stringify(String(url).slice(0, 200))}`);
  }
  if (u.protocol !== 'msbd:') throw new MssError('invalid-argument', `${u.protocol}// is not an MSBD URL (msbd://host:port/point)`);
  if (!u.hostname) throw new MssError('invalid-argument', `${u.href}: no host`);
  const path = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  if (path.includes('/')) throw new MssError('invalid-argument', `${u.href}: an MSBD channel is one name (msbd://host:port/point)`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : MSBD_DEFAULT_PORT, channel: path || NETSHOW_CHANNEL };
}

export class MsbdStream extends EventEmitter<MsbdStreamEvents> {
  private readonly socket: net.Socket;
  private readonly reader = new MsbdMessageReader();
  private state: 'connecting' | 'waiting-info' | 'streaming' | 'ended' | 'closed' = 'connecting';
  private streamId = -1;
  private afterEos = false;
  readonly stats = { messages: 0, packets: 0, bytes: 0, streams: 0, pings: 0, foreignPackets: 0 };

  constructor(url: string | URL, opts: MsbdClientOptions = {}) {
    super();
    const { host, port, channel } = parseMsbdUrl(url);
    const where = `msbd://${host}:${port}/${channel === NETSHOW_CHANNEL ? '' : channel}`;
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(opts.connectTimeoutMs ?? 10_000);
    this.socket.once('connect', () => {
      this.socket.setTimeout(opts.idleTimeoutMs ?? 180_000);
      this.socket.write(encodeConnectRequest(channel, CONNECT_TCP));
    });
    this.socket.on('timeout', () => this.fail(new MssError('timeout', `${where}: ${this.state === 'connecting' ? 'no connect answer' : 'nothing received'} in time`, { lostConnection: true })));
    this.socket.on('error', (err) => this.fail(new MssError('unavailable', `${where}: ${err.message}`, { lostConnection: true })));
    this.socket.on('close', () => {
      if (this.state !== 'ended' && this.state !== 'closed') this.fail(new MssError('unavailable', `${where}: the server closed the connection`, { lostConnection: true }));
    });
    this.socket.on('data', (chunk: Buffer) => {
      let messages: MsbdMessage[];
      try {
        messages = this.reader.push(chunk);
      } catch (err) {
        this.fail(err as MssError);
        return;
      }
      for (const m of messages) {
        if (this.state === 'ended' || this.state === 'closed') return;
        this.stats.messages++;
        this.onMessage(m, where);
      }
    });
  }

  private onMessage(m: MsbdMessage, where: string): void {
    switch (m.type) {
      case 'RES_CONNECT':
        if (this.state !== 'connecting') return this.fail(new MssError('malformed', `${where}: a second MSB_MSG_RES_CONNECT`));
        if (m.hr !== HR.OK) return this.fail(new MssError(codeFor(m.hr), `${where}: the server refused the connection (hr 0x${(m.hr >>> 0).toString(16).padStart(8, '0')})`, { hr: m.hr }));
        this.state = 'waiting-info';
        return;
      case 'IND_STREAMINFO':
      case 'RES_STREAMINFO':
        if (this.state === 'connecting') return this.fail(new MssError('malformed', `${where}: ${m.type} before MSB_MSG_RES_CONNECT`));
        if (!m.info) {
          // the empty STREAMINFO: no stream follows
          this.state = 'ended';
          this.emit('end', this.afterEos ? 0 : 1);
          this.close();
          return;
        }
        this.afterEos = false;
        if (m.type === 'RES_STREAMINFO' && m.info.streamId === this.streamId) return;
        this.streamId = m.info.streamId;
        this.stats.streams++;
        this.state = 'streaming';
        this.emit('header', Buffer.from(m.info.header));
        return;
      case 'IND_PACKET':
        if (this.state !== 'streaming') return this.fail(new MssError('malformed', `${where}: MSB_MSG_IND_PACKET before a STREAMINFO`));
        if (m.streamId !== this.streamId) {
          // a packet of another stream than the one described last: not ours to play
          this.stats.foreignPackets++;
          return;
        }
        this.stats.packets++;
        this.stats.bytes += m.payload.length;
        // a copy: the view would keep the whole TCP chunk alive in the fan-out's ring
        this.emit('packet', Buffer.from(m.payload));
        return;
      case 'REQ_PING':
        this.stats.pings++;
        this.socket.write(encodeSimple('RES_PING'));
        return;
      case 'IND_EOS':
        this.afterEos = true;
        return;
      case 'RES_PING':
        return;
      default:
        this.fail(new MssError('malformed', `${where}: a server does not send ${m.type}`));
    }
  }

  private fail(err: MssError): void {
    if (this.state === 'ended' || this.state === 'closed') return;
    this.state = 'closed';
    this.socket.destroy();
    this.emit('error', err);
  }

  /** The client closes the connection (MS-MSBD: the sink normally does). */
  close(): void {
    if (this.state !== 'ended') this.state = 'closed';
    this.socket.destroy();
  }
}

export function openMsbdStream(url: string | URL, opts?: MsbdClientOptions): MsbdStream {
  return new MsbdStream(url, opts);
}
