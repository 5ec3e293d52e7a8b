/**
 * WMSP client (MS-WMSP, non-pipelined mode, the way WMP and ffmpeg talk to a server): Describe to get the
 * ASF header and the session's client-id, then Play on a new connection with the start position and the
 * stream selection, reading $H/$D/$C/$E frames until the end. Also the Log POST (application/x-wms-LogStats).
 *
 * Used by the player (`mss play`) and by the encoder's/server's pull source. Sessions (sockets, timers) live
 * here; all framing and Pragma parsing is the pure codec's.
 */
import type { ClientStreamEvents } from '../shared/client-stream.js';
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { MssError, toMssError } from '../../core/errors.js';
import { parseHeaderObject, type AsfHeader } from '../../asf/header.js';
import { authorizationHeader, createDigestClientState, pickChallenge, type DigestClientState } from '../../auth/http-auth.js';
import { chooseRequestedStreams, estimatedStreamBitrates, selectStreamsForBitrate } from '../shared/stream-choice.js';
import { AF_LAST, AF_WHOLE, END_ENTRY_DONE, END_FINISHED, WmspFrameParser, assembleHeader, parseFeatures, parsePragmas, type WmspFrame } from './codec.js';

export { estimatedStreamBitrates, selectStreamsForBitrate };

export const DEFAULT_WMSP_USER_AGENT = 'NSPlayer/9.0.0.2980 mss-play/0.1';
/** an ASF header larger than this is refused (real ones are a few KiB; 64 KiB fits one $H) */
export const MAX_CLIENT_HEADER_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const U32_NOT_SET = 4294967295;

export interface WmspCredentials {
  user: string;
  password: string;
}

export interface WmspOpenOptions {
  /** start position in ms (on-demand); ignored by live points */
  startMs?: number;
  /** resume at this ASF packet number (on-demand); wins over startMs */
  packetNumber?: number;
  /** stream numbers to receive; default: every stream (or the choice made by maxBitrate) */
  streams?: readonly number[];
  /** pick the streams of a multiple-bit-rate file that fit this many bits per second */
  maxBitrate?: number;
  credentials?: WmspCredentials;
  userAgent?: string;
  /** xClientGUID, the same for every request of this player instance */
  clientGuid?: string;
  /** connect and inactivity limit per request */
  timeoutMs?: number;
  /** Describe only: emit `describe`, then `end` (reason 0), without a Play request */
  describeOnly?: boolean;
  /** Play faster than real time (AccelBW/AccelDuration Pragmas): bits/s for the first durationMs of media */
  accel?: { bandwidth: number; durationMs: number };
}

export interface WmspDescribeInfo {
  /** the URL that answered (after redirects), as http:// */
  url: URL;
  clientId: string | undefined;
  features: string[];
  broadcast: boolean;
  headerBytes: Buffer;
  header: AsfHeader;
  server: string | undefined;
  /** the Describe response's Cache-Control (what a proxy may do: x-wms-proxy-split, no-store, private...) */
  cacheControl: string | undefined;
  /** stream numbers requested in the Play request */
  selectedStreams: number[];
}

export interface WmspPacketInfo {
  /** $D LocationId: the ASF packet number in the (virtual, for live) file */
  locationId: number;
}

export interface WmspStreamStats {
  bytesReceived: number;
  packetsReceived: number;
  /** packets missing from the LocationId sequence */
  packetsLost: number;
  lastLocationId: number | undefined;
}

export type WmspStreamEvents = ClientStreamEvents<WmspDescribeInfo, WmspPacketInfo>;

/** mmsh:// and http:// URLs both mean WMSP over HTTP; returns the http:// form. */
export function toHttpUrl(input: string | URL): URL {
  const url = new URL(String(input));
  if (url.protocol === 'mmsh:') {
    const out = new URL(`http://${url.host}${url.pathname}${url.search}`);
    out.username = url.username;
    out.password = url.password;
    return out;
  }
  if (url.protocol !== 'http:') throw new MssError('invalid-argument', `WMSP needs an mmsh:// or http:// URL, got ${url.protocol}//`);
  return url;
}

/** The http:// origin an mmsh:// or http:// URL stands for (a bad scheme is reported later, by the request). */
function originOf(url: URL): string {
  try {
    return toHttpUrl(url).origin;
  } catch {
    return url.origin;
  }
}

/** Credentials from options, else from the URL's user-info. */
export function credentialsOf(url: URL, given?: WmspCredentials): WmspCredentials | undefined {
  if (given) return given;
  if (url.username) return { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  return undefined;
}

/** the reason a server gave in a text error body (`503 Service Unavailable: point x is not broadcasting`), if any */
function reasonOf(body: string): string | undefined {
  const line = body.split(/\r?\n/).find((l) => l.trim() !== '')?.trim();
  if (!line || /<html|<\?xml/i.test(line)) return undefined;
  const text = line.replace(/^\d{3}(?: [A-Za-z' -]+)?:\s*/, '').replace(/[^\x20-\x7e]/g, '').slice(0, 300);
  return text || undefined;
}

function statusError(status: number, url: URL, what: string, body = ''): MssError {
  const where = `${what} ${url.host}${url.pathname}`;
  const reason = reasonOf(body);
  const why = (fallback: string) => reason ?? fallback;
  if (status === 401 || status === 407) return new MssError('unauthorized', `${where}: HTTP ${status}, credentials missing or refused`, { status });
  if (status === 403) return new MssError('forbidden', `${where}: HTTP 403, ${why('forbidden')}`, { status });
  if (status === 404) return new MssError('not-found', `${where}: HTTP 404, ${why('no such content')}`, { status });
  if (status === 503) return new MssError(reason && /not broadcasting|cannot broadcast/.test(reason) ? 'unavailable' : 'limit-reached', `${where}: HTTP 503, ${why('server busy or at its player limit')}`, { status });
  return new MssError('unavailable', `${where}: HTTP ${status}${reason ? `, ${reason}` : ''}`, { status });
}

/** the start of an error response's body (bounded; the rest is discarded) */
function readErrorBody(res: IncomingMessage, max = 1024): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(parts).toString('latin1'));
    const timer = setTimeout(() => (res.destroy(), done()), 2000);
    res.on('data', (c: Buffer) => {
      if (size < max) parts.push(c.subarray(0, max - size));
      size += c.length;
    });
    res.on('end', () => (clearTimeout(timer), done()));
    res.on('error', () => (clearTimeout(timer), done()));
  });
}

/**
 * A WMSP request with the client's common headers, following redirects and answering one 401 challenge
 * (Basic or Digest) when credentials are known. Resolves with a 2xx response. Credentials belong to the origin
 * (scheme, host, port) of the URL they came with: a redirect elsewhere is followed without them.
 */
class WmspHttp {
  private readonly digest: DigestClientState = createDigestClientState();
  private challenge: string | undefined;

  constructor(
    private readonly credentials: WmspCredentials | undefined,
    private readonly userAgent: string,
    private readonly timeoutMs: number,
    private readonly credentialsOrigin: string,
  ) {}

  private credentialsFor(url: URL): WmspCredentials | undefined {
    return url.origin === this.credentialsOrigin ? this.credentials : undefined;
  }

  async request(method: 'GET' | 'POST', start: URL, pragmas: string[], body?: { contentType: string; data: Buffer }, onRequest?: (req: http.ClientRequest) => void): Promise<{ res: IncomingMessage; url: URL }> {
    let url = start;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let triedAuth = false;
      for (;;) {
        const res = await this.once(method, url, pragmas, body, onRequest);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return { res, url };
        const errorBody = readErrorBody(res);
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          url = toHttpUrl(new URL(res.headers.location, url));
          break;
        }
        if (status === 401 && this.credentialsFor(url) && !triedAuth) {
          const values = res.headersDistinct['www-authenticate'] ?? [];
          const challenge = pickChallenge(values);
          if (!challenge) throw new MssError('unsupported', `${url.host}${url.pathname}: HTTP 401 with no Basic or Digest challenge (offered: ${values.join(' | ').slice(0, 200)})`);
          this.challenge = challenge;
          triedAuth = true;
          continue;
        }
        throw statusError(status, url, method === 'POST' ? 'log POST to' : 'WMSP request to', await errorBody);
      }
    }
    throw new MssError('unavailable', `${start.host}${start.pathname}: more than ${MAX_REDIRECTS} redirects`);
  }

  private once(method: string, url: URL, pragmas: string[], body: { contentType: string; data: Buffer } | undefined, onRequest?: (req: http.ClientRequest) => void): Promise<IncomingMessage> {
    const path = url.pathname + url.search;
    const headers: http.OutgoingHttpHeaders = {
      Accept: '*/*',
      'User-Agent': this.userAgent,
      Pragma: pragmas,
      Connection: 'close',
    };
    if (body) {
      headers['Content-Type'] = body.contentType;
      headers['Content-Length'] = String(body.data.length);
    } else if (method === 'POST') {
      headers['Content-Length'] = '0';
    }
    const credentials = this.credentialsFor(url);
    if (credentials && this.challenge) {
      headers.Authorization = authorizationHeader(this.challenge, credentials.user, credentials.password, method, path, this.digest);
    }
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 80, method, path, headers, agent: false, timeout: this.timeoutMs },
        resolve,
      );
      req.on('timeout', () => req.destroy(new MssError('timeout', `${url.host}${url.pathname}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof MssError ? err : new MssError('unavailable', `${url.host}: ${(err as Error).message}`, { lostConnection: true })));
      onRequest?.(req);
      req.end(body?.data);
    });
  }
}

/**
 * One play of one WMSP URL. Emits `describe`, then `header` (again after each `stream-change`), `packet` for each
 * ASF data packet (padded to the packet size), and `end` on $E, or `error` (an MssError; `detail.lostConnection`
 * when the network failed, so a player can reconnect). `close()` stops at once. `pause()`/`resume()` apply
 * backpressure to the socket.
 */
export class WmspStream extends EventEmitter<WmspStreamEvents> {
  readonly stats: WmspStreamStats = { bytesReceived: 0, packetsReceived: 0, packetsLost: 0, lastLocationId: undefined };
  info: WmspDescribeInfo | undefined;
  private readonly http: WmspHttp;
  private readonly clientGuid: string;
  private requestContext = 0;
  private current: { req?: http.ClientRequest; res?: IncomingMessage } = {};
  private closed = false;
  private finished = false;
  private header: AsfHeader | undefined;
  private headerBytes: Buffer | undefined;

  constructor(
    readonly url: URL,
    private readonly opts: WmspOpenOptions = {},
  ) {
    super();
    this.clientGuid = opts.clientGuid ?? `{${randomUUID()}}`;
    this.http = new WmspHttp(credentialsOf(url, opts.credentials), opts.userAgent ?? DEFAULT_WMSP_USER_AGENT, opts.timeoutMs ?? 20_000, originOf(url));
  }

  /** the player's GUID as sent in xClientGUID */
  get guid(): string {
    return this.clientGuid;
  }

  start(): this {
    this.run().catch((err) => this.fail(toMssError(err, 'unavailable')));
    return this;
  }

  pause(): void {
    this.current.res?.pause();
  }

  resume(): void {
    this.current.res?.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current.req?.destroy();
    this.current.res?.destroy();
    this.emit('close');
  }

  /** POSTs an MS-WMLOG XML log to the content URL, naming this session's client-id (MS-WMSP 2.2.2.4). */
  async sendLog(xml: string): Promise<number> {
    if (!this.info) throw new MssError('invalid-argument', 'no WMSP session to log: Describe has not completed');
    const pragmas = ['no-cache', `xClientGUID=${this.clientGuid}`];
    if (this.info.clientId) pragmas.push(`client-id=${this.info.clientId}`);
    const { res } = await this.http.request('POST', this.info.url, pragmas, { contentType: 'application/x-wms-LogStats;charset=UTF-8', data: Buffer.from(xml, 'utf8') });
    res.resume();
    return res.statusCode ?? 0;
  }

  private fail(err: MssError): void {
    if (this.closed || this.finished) return;
    this.finished = true;
    this.current.req?.destroy();
    this.emit('error', err);
  }

  private basePragmas(): string[] {
    return [`xClientGUID=${this.clientGuid}`];
  }

  private async run(): Promise<void> {
    const info = await this.describe();
    if (this.closed) return;
    this.info = info;
    this.emit('describe', info);
    // a listener may have closed the stream: no Play request then
    if (this.closed) return;
    if (this.opts.describeOnly) {
      this.finished = true;
      this.emit('end', END_FINISHED);
      return;
    }
    await this.play(info);
  }

  private async describe(): Promise<WmspDescribeInfo> {
    const pragmas = [`no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=${++this.requestContext},max-duration=0`, ...this.basePragmas()];
    const { res, url } = await this.http.request('GET', toHttpUrl(this.url), pragmas, undefined, (req) => (this.current = { req }));
    this.current.res = res;
    const tokens = parsePragmas(res.headersDistinct['pragma'] ?? []);
    const features = parseFeatures(tokens);
    const headerFrames = await new Promise<WmspFrame[]>((resolve, reject) => {
      const parser = new WmspFrameParser();
      const frames: WmspFrame[] = [];
      let bytes = 0;
      const done = (err?: Error) => {
        res.removeAllListeners('data');
        res.destroy();
        if (err) reject(err);
        else resolve(frames);
      };
      res.on('data', (chunk: Buffer) => {
        this.stats.bytesReceived += chunk.length;
        try {
          for (const f of parser.push(chunk)) {
            if (f.type !== 'H') continue; // $P packet-pair and $M metadata come before the header
            bytes += f.payload.length;
            if (bytes > MAX_CLIENT_HEADER_BYTES) throw new MssError('too-large', `Describe: ASF header over ${MAX_CLIENT_HEADER_BYTES} bytes`);
            frames.push(f);
            if (f.afFlags === AF_WHOLE || f.afFlags === AF_LAST) return done();
          }
        } catch (err) {
          done(err as Error);
        }
      });
      res.on('end', () => done(new MssError('malformed', `Describe ${url.host}${url.pathname}: response ended before a complete $H header`)));
      res.on('error', (err) => done(new MssError('unavailable', `Describe ${url.host}: ${err.message}`, { lostConnection: true })));
    });
    const headerBytes = assembleHeader(headerFrames);
    const header = parseHeaderObject(headerBytes, 0);
    const selected = chooseRequestedStreams(header, this.opts, url.pathname);
    return {
      url,
      clientId: tokens.get('client-id'),
      features,
      broadcast: features.includes('broadcast') || header.fileProperties.broadcast,
      headerBytes,
      header,
      server: typeof res.headers.server === "string" ? res.headers.server : undefined,
      cacheControl: (res.headersDistinct['cache-control'] ?? []).join(', ') || undefined,
      selectedStreams: selected,
    };
  }

  private setHeader(bytes: Buffer, header: AsfHeader): void {
    if (this.headerBytes && this.headerBytes.equals(bytes)) return;
    this.headerBytes = bytes;
    this.header = header;
    this.emit('header', bytes, header);
  }

  private playPragmas(info: WmspDescribeInfo): string[] {
    const streamTime = this.opts.packetNumber !== undefined ? U32_NOT_SET : Math.max(0, Math.round(this.opts.startMs ?? 0));
    const packetNum = this.opts.packetNumber ?? U32_NOT_SET;
    const all = info.header.streams.map((s) => s.number);
    const chosen = new Set(info.selectedStreams);
    // every stream listed, the unwanted ones with thinning 2 (off), as VLC does; numbers in hex (MS-WMSP 2.2.1.4.27)
    const entries = all.map((n) => `ffff:${n.toString(16)}:${chosen.has(n) ? 0 : 2}`).join(' ');
    const pragmas = [
      `no-cache,rate=1.000000,stream-time=${streamTime},stream-offset=${U32_NOT_SET}:${U32_NOT_SET},packet-num=${packetNum},request-context=${++this.requestContext},max-duration=0`,
      'xPlayStrm=1',
      ...this.basePragmas(),
      `stream-switch-count=${all.length}`,
      `stream-switch-entry=${entries}`,
    ];
    if (info.clientId) pragmas.push(`client-id=${info.clientId}`);
    const accel = this.opts.accel;
    if (accel && accel.bandwidth > 0 && accel.durationMs > 0) pragmas.push(`AccelBW=${Math.round(accel.bandwidth)}, AccelDuration=${Math.round(accel.durationMs)}`);
    return pragmas;
  }

  private async play(info: WmspDescribeInfo): Promise<void> {
    const { res } = await this.http.request('GET', info.url, this.playPragmas(info), undefined, (req) => (this.current = { req }));
    this.current.res = res;
    if (this.closed) {
      res.destroy();
      return;
    }
    // the Play response's $H is the header event (listeners are attached by now); without one, the Describe's
    this.headerBytes = undefined;
    const parser = new WmspFrameParser();
    let headerFrames: WmspFrame[] = [];
    let headerBytesSoFar = 0;
    let awaitingChange = false;
    res.on('data', (chunk: Buffer) => {
      if (this.finished || this.closed) return;
      this.stats.bytesReceived += chunk.length;
      try {
        for (const f of parser.push(chunk)) {
          if (this.finished || this.closed) return;
          switch (f.type) {
            case 'H':
              headerBytesSoFar += f.payload.length;
              if (headerBytesSoFar > MAX_CLIENT_HEADER_BYTES) throw new MssError('too-large', `Play: ASF header over ${MAX_CLIENT_HEADER_BYTES} bytes`);
              headerFrames.push(f);
              if (f.afFlags === AF_WHOLE || f.afFlags === AF_LAST) {
                const bytes = assembleHeader(headerFrames);
                headerFrames = [];
                headerBytesSoFar = 0;
                this.setHeader(bytes, parseHeaderObject(bytes, 0));
              }
              break;
            case 'D':
              this.onData(f);
              break;
            case 'C':
              awaitingChange = false;
              this.headerBytes = undefined; // the next $H is emitted even when identical
              this.emit('stream-change');
              break;
            case 'E':
              if (f.reason === END_ENTRY_DONE) {
                awaitingChange = true; // a $C and a new header follow
                break;
              }
              this.finished = true;
              res.destroy();
              if (f.reason === END_FINISHED) this.emit('end', f.reason);
              else this.emit('error', new MssError('unavailable', `server ended the stream with reason 0x${f.reason.toString(16).padStart(8, '0')}`, { reason: f.reason }));
              return;
            default:
              break; // $M metadata, $P packet-pair, $T: nothing to do for a player
          }
        }
      } catch (err) {
        this.fail(toMssError(err, 'malformed'));
      }
    });
    const lost = (why: string) => {
      if (this.finished || this.closed) return;
      this.fail(new MssError('unavailable', `connection to ${info.url.host} lost ${why}${awaitingChange ? ' (waiting for the next playlist entry)' : ''}`, { lostConnection: true }));
    };
    res.on('end', () => lost('before the end of the stream'));
    res.on('aborted', () => lost('(aborted)'));
    res.on('error', (err) => lost(`(${err.message})`));
    res.socket?.on('close', () => lost('(socket closed)'));
  }

  private onData(f: WmspFrame): void {
    if (!this.headerBytes && this.info) this.setHeader(this.info.headerBytes, this.info.header);
    const header = this.header;
    if (!header) throw new MssError('malformed', `$D LocationId ${f.locationId} before any $H header`);
    const size = header.fileProperties.packetSize;
    if (f.payload.length > size) throw new MssError('malformed', `$D LocationId ${f.locationId}: ${f.payload.length} bytes, the header's packet size is ${size}`);
    // servers may strip the padding; players pad back to the fixed packet size
    const packet = f.payload.length === size ? Buffer.from(f.payload) : Buffer.concat([f.payload, Buffer.alloc(size - f.payload.length)]);
    const last = this.stats.lastLocationId;
    // a server thinning unselected streams skips packets that hold only those: gaps then are not losses
    const thinned = this.info !== undefined && this.info.selectedStreams.length < header.streams.length;
    if (!thinned && last !== undefined && f.locationId > last + 1) this.stats.packetsLost += f.locationId - last - 1;
    this.stats.lastLocationId = f.locationId;
    this.stats.packetsReceived++;
    this.emit('packet', packet, { locationId: f.locationId });
  }
}

/** Opens a WMSP stream (Describe, then Play) and starts it; listen for `header`, `packet`, `end`, `error`. */
export function openWmspStream(url: string | URL, opts: WmspOpenOptions = {}): WmspStream {
  return new WmspStream(toHttpUrl(url), opts).start();
}
