/**
 * MS-WMHTTP push client (the encoder side): PushSetup then PushStart on one kept-alive TCP connection, the live
 * stream as `$H`, `$D`… in the PushStart body, `$E(1)` + `$C` when the header changes, `$E(0)` on stop.
 *
 * - Authentication: answers a 401 once per request with Basic or Digest (credentials from options or the URL).
 * - Reconnects with exponential backoff after any failure, keeping its push-id cookie so the server can resume the
 *   session; a refusal (404, 409, 403…) is reported as a 'refused' event and retried more slowly.
 * - The Content-Length budget (§3.1.1) is honoured: when the next frame does not fit, `$F` fills the rest, the
 *   client waits for the 204 and continues in a new PushStart.
 * - Bounded: while the socket is backed up or disconnected, data packets beyond maxQueueBytes are dropped
 *   (a live encoder cannot wait); headers are never dropped.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { MssError, toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { authorizationHeader, createDigestClientState, pickChallenge, type DigestClientState } from '../../auth/http-auth.js';
import {
  buildPushSetupBody,
  framePushData,
  framePushEnd,
  framePushFiller,
  framePushHeader,
  framePushStreamChange,
  parsePushIdSetCookie,
  PUSH_SETUP_CONTENT_TYPE,
  PUSH_START_CONTENT_TYPE,
  PUSH_START_UNBOUNDED_LENGTH,
} from './codec.js';

export const DEFAULT_PUSH_USER_AGENT = 'WMEncoder/12.0.0.0 mss-encode/0.1';
const MAX_RESPONSE_HEAD = 16 * 1024;
const MAX_RESPONSE_BODY = 64 * 1024;

export interface PushClientOptions {
  /** http://host[:port]/point (user:password@ allowed) */
  url: string;
  templateUrl?: string;
  autoDestroy?: boolean;
  user?: string;
  password?: string;
  userAgent?: string;
  log: Logger;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** connect and response wait (default 10 s) */
  timeoutMs?: number;
  /** PushStart Content-Length (default 2147483647) */
  contentLength?: number;
  /** bytes of frames waiting to be written before data packets are dropped (default 4 MiB) */
  maxQueueBytes?: number;
}

export interface PushClientEvents {
  connected: [pushId: string];
  disconnected: [reason: string];
  refused: [status: number, message: string];
}

interface HttpResponse {
  status: number;
  headers: Map<string, string[]>;
  body: Buffer;
}

/** Reads HTTP/1.x responses off a socket (bounded head and body). */
class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve(r: HttpResponse): void; reject(e: Error): void } | null = null;
  private ready: HttpResponse[] = [];
  private error: Error | null = null;

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      for (;;) {
        const r = this.parseOne();
        if (!r) break;
        this.ready.push(r);
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.deliver();
  }

  fail(err: Error): void {
    this.error ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.error);
  }

  get pending(): boolean {
    return this.ready.length > 0;
  }

  next(timeoutMs: number): Promise<HttpResponse> {
    if (this.ready.length) return Promise.resolve(this.ready.shift()!);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new MssError('timeout', `no response from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private deliver(): void {
    if (this.waiting && this.ready.length) {
      const w = this.waiting;
      this.waiting = null;
      w.resolve(this.ready.shift()!);
    }
  }

  private parseOne(): HttpResponse | null {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buf.length > MAX_RESPONSE_HEAD) throw new MssError('too-large', `response head exceeds ${MAX_RESPONSE_HEAD} bytes`);
      return null;
    }
    const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) throw new MssError('malformed', `not an HTTP response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const headers = new Map<string, string[]>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c <= 0) continue;
      const k = l.slice(0, c).trim().toLowerCase();
      headers.set(k, [...(headers.get(k) ?? []), l.slice(c + 1).trim()]);
    }
    const status = Number(m[1]);
    const len = status === 204 || status === 304 ? 0 : Number(headers.get('content-length')?.[0] ?? 0);
    if (!Number.isFinite(len) || len < 0 || len > MAX_RESPONSE_BODY) throw new MssError('too-large', `response body of ${len} bytes exceeds ${MAX_RESPONSE_BODY}`);
    if (this.buf.length < end + 4 + len) return null;
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + len));
    this.buf = Buffer.from(this.buf.subarray(end + 4 + len));
    return { status, headers, body };
  }
}

type State = 'idle' | 'connecting' | 'streaming' | 'waiting-response' | 'stopped';

export class PushClient extends EventEmitter<PushClientEvents> {
  private readonly target: URL;
  private readonly user: string | undefined;
  private readonly password: string | undefined;
  private header: Buffer | null = null;
  private headerWaiters: Array<() => void> = [];
  private pushId = '0';
  private state: State = 'idle';
  private socket: net.Socket | null = null;
  private reader: ResponseReader | null = null;
  private queue: Buffer[] = [];
  private queueBytes = 0;
  /** body bytes left in the current PushStart */
  private remaining = 0;
  private headerSentInSession = false;
  private authChallenge: string | undefined;
  private readonly digest: DigestClientState = createDigestClientState();
  private backoffMs: number;
  private sleepTimer: { timer: NodeJS.Timeout; wake(): void } | null = null;
  private runLoop: Promise<void> | null = null;
  private bodyDone: (() => void) | null = null;
  readonly stats = { packetsSent: 0, bytesSent: 0, dropped: 0, connects: 0, refusals: 0, headersSent: 0 };

  constructor(private readonly opts: PushClientOptions) {
    super();
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new MssError('invalid-argument', `push URL ${JSON.stringify(opts.url.slice(0, 200))} is not a URL`);
    }
    if (url.protocol !== 'http:') throw new MssError('invalid-argument', `push URL must be http://, got ${url.protocol}`);
    if (url.pathname === '/' || url.pathname === '') throw new MssError('invalid-argument', `push URL ${opts.url} names no publishing point`);
    this.user = opts.user ?? (url.username ? decodeURIComponent(url.username) : undefined);
    this.password = opts.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
    url.username = '';
    url.password = '';
    this.target = url;
    this.backoffMs = opts.backoffInitialMs ?? 500;
  }

  get connected(): boolean {
    return this.state === 'streaming' || this.state === 'waiting-response';
  }

  get sessionId(): string {
    return this.pushId;
  }

  start(): void {
    if (this.runLoop) return;
    this.runLoop = this.loop();
  }

  /** The current ASF header (Header Object + Data Object head); a different one is sent as `$E(1)` + `$C`. */
  setHeader(headerBytes: Buffer): void {
    if (this.header && this.header.equals(headerBytes)) return;
    this.header = Buffer.from(headerBytes);
    if (this.state === 'streaming' || this.state === 'waiting-response') {
      if (this.headerSentInSession) this.enqueue([framePushEnd(1), framePushStreamChange(this.header)], true);
    }
    for (const w of this.headerWaiters.splice(0)) w();
  }

  pushPacket(packet: Buffer): void {
    if (!this.connected || !this.headerSentInSession) {
      this.stats.dropped++;
      return;
    }
    this.enqueue([framePushData(packet)], false);
  }

  /** Sends `$E(0)` when streaming, closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    const wasStreaming = this.state === 'streaming';
    this.state = 'stopped';
    this.sleepTimer?.wake();
    for (const w of this.headerWaiters.splice(0)) w();
    const sock = this.socket;
    if (sock && !sock.destroyed) {
      if (wasStreaming) {
        this.queue = [];
        this.writeFrame(framePushEnd(0));
      }
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      sock.end();
      const t = setTimeout(() => sock.destroy(), 2000);
      await closed;
      clearTimeout(t);
    }
    this.bodyDone?.();
    await this.runLoop;
  }

  private enqueue(frames: Buffer[], essential: boolean): void {
    const size = frames.reduce((s, f) => s + f.length, 0);
    if (!essential && this.queueBytes + size > (this.opts.maxQueueBytes ?? 4 * 1024 * 1024)) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(...frames);
    this.queueBytes += size;
    this.pump();
  }

  private pump(): void {
    const sock = this.socket;
    while (this.state === 'streaming' && sock && !sock.destroyed && this.queue.length > 0 && sock.writableLength < 256 * 1024) {
      const frame = this.queue[0]!;
      const after = this.remaining - frame.length;
      if (after !== 0 && after < 4) {
        // the frame does not fit the budget: fill it with $F and continue in a new PushStart
        this.writeFrame(framePushFiller(this.remaining));
        this.endOfBody();
        return;
      }
      this.queue.shift();
      this.queueBytes -= frame.length;
      this.writeFrame(frame);
      if (frame[1] === 0x44) this.stats.packetsSent++;
      if (this.remaining === 0) {
        this.endOfBody();
        return;
      }
    }
  }

  private writeFrame(frame: Buffer): void {
    this.remaining -= frame.length;
    this.stats.bytesSent += frame.length;
    this.socket!.write(frame);
  }

  private endOfBody(): void {
    this.state = 'waiting-response';
    this.bodyDone?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepTimer = null;
        resolve();
      }, ms);
      this.sleepTimer = {
        timer,
        wake: () => {
          clearTimeout(timer);
          this.sleepTimer = null;
          resolve();
        },
      };
    });
  }

  private async loop(): Promise<void> {
    while (this.state !== 'stopped') {
      if (!this.header) {
        await new Promise<void>((r) => this.headerWaiters.push(r));
        continue;
      }
      let streamed = false;
      let refused = false;
      try {
        streamed = await this.session();
      } catch (err) {
        const e = toMssError(err, 'unavailable');
        if (this.isStopped()) break;
        refused = e.code === 'conflict' || e.code === 'not-found' || e.code === 'forbidden' || e.code === 'unauthorized';
        this.opts.log.warn(refused ? 'push.refused' : 'push.disconnected', { url: this.target.href, error: e, retryInMs: this.backoffMs });
        this.emit('disconnected', e.message);
      } finally {
        this.socket?.destroy();
        this.socket = null;
        this.reader = null;
        this.queue = [];
        this.queueBytes = 0;
        this.headerSentInSession = false;
      }
      if (this.isStopped()) break;
      this.state = 'idle';
      if (streamed) this.backoffMs = this.opts.backoffInitialMs ?? 500;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.backoffMaxMs ?? (refused ? 30_000 : 15_000));
      await this.sleep(delay);
    }
  }

  private async connect(): Promise<void> {
    this.state = 'connecting';
    const port = Number(this.target.port || 80);
    const sock = net.connect({ host: this.target.hostname.replace(/^\[|\]$/g, ''), port });
    sock.setNoDelay(true);
    this.socket = sock;
    const reader = new ResponseReader();
    this.reader = reader;
    sock.on('data', (c: Buffer) => reader.push(c));
    sock.on('close', () => reader.fail(new MssError('unavailable', `connection to ${this.target.host} closed`)));
    sock.on('error', (err) => reader.fail(new MssError('unavailable', `connection to ${this.target.host}: ${err.message}`)));
    sock.on('drain', () => this.pump());
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new MssError('timeout', `cannot connect to ${this.target.host} within ${this.timeout} ms`)), this.timeout);
      sock.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      sock.once('error', (err) => {
        clearTimeout(t);
        reject(new MssError('unavailable', `cannot connect to ${this.target.host}: ${err.message}`));
      });
    });
    this.stats.connects++;
  }

  /** reads the state through a call so TypeScript does not narrow it across awaits (stop() changes it) */
  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private get timeout(): number {
    return this.opts.timeoutMs ?? 10_000;
  }

  private requestHead(contentType: string, contentLength: number): string {
    const path = this.target.pathname + this.target.search;
    const lines = [
      `POST ${path} HTTP/1.1`,
      `Content-Type: ${contentType}`,
      'X-Accept-Authentication: Digest, Basic',
      `User-Agent: ${this.opts.userAgent ?? DEFAULT_PUSH_USER_AGENT}`,
      `Host: ${this.target.host}`,
      `Content-Length: ${contentLength}`,
      'Cache-Control: no-cache',
      `Cookie: push-id=${this.pushId}`,
      'Connection: Keep-Alive',
    ];
    if (this.authChallenge && this.user !== undefined) {
      lines.push(`Authorization: ${authorizationHeader(this.authChallenge, this.user, this.password ?? '', 'POST', path, this.digest)}`);
    }
    return lines.join('\r\n') + '\r\n\r\n';
  }

  private refusal(r: HttpResponse, what: string): MssError {
    const text = r.body.toString('utf8').trim().slice(0, 300);
    const code = r.status === 404 ? 'not-found' : r.status === 409 ? 'conflict' : r.status === 403 ? 'forbidden' : r.status === 401 ? 'unauthorized' : r.status === 503 ? 'unavailable' : 'malformed';
    this.stats.refusals++;
    this.emit('refused', r.status, text);
    return new MssError(code, `${what} refused by ${this.target.host}: ${r.status}${text ? ` (${text})` : ''}`, { status: r.status });
  }

  private setCookie(r: HttpResponse): void {
    const id = parsePushIdSetCookie(r.headers.get('set-cookie'));
    if (id) this.pushId = id;
  }

  /** One POST with a small body; answers one 401 challenge. */
  private async smallRequest(contentType: string, body: string): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      if (!this.socket || this.socket.destroyed) await this.connect();
      this.socket!.write(this.requestHead(contentType, Buffer.byteLength(body)) + body);
      const r = await this.reader!.next(this.timeout);
      this.setCookie(r);
      if (r.headers.get('connection')?.some((v) => /close/i.test(v))) {
        this.socket!.destroy();
        this.socket = null;
      }
      if (r.status === 401 && attempt === 0 && this.user !== undefined) {
        const challenge = pickChallenge(r.headers.get('www-authenticate') ?? []);
        if (challenge) {
          this.authChallenge = challenge;
          continue;
        }
      }
      return r;
    }
  }

  /** One connection's life: PushSetup, then PushStarts until the connection ends. Returns whether media flowed. */
  private async session(): Promise<boolean> {
    const setupBody = buildPushSetupBody({ templateUrl: this.opts.templateUrl, autoDestroy: this.opts.autoDestroy ?? false });
    let r = await this.smallRequest(PUSH_SETUP_CONTENT_TYPE, setupBody);
    if (r.status === 404 && this.pushId !== '0') {
      // our session expired on the server: start a new one
      this.pushId = '0';
      r = await this.smallRequest(PUSH_SETUP_CONTENT_TYPE, setupBody);
    }
    if (r.status !== 204 && r.status !== 200) throw this.refusal(r, 'PushSetup');
    if (!this.socket || this.socket.destroyed) await this.connect();
    this.opts.log.info('push.connected', { url: this.target.href, pushId: this.pushId.slice(0, 6) + '…' });
    this.emit('connected', this.pushId);
    let streamed = false;
    let first = true;
    for (;;) {
      const budget = this.opts.contentLength ?? PUSH_START_UNBOUNDED_LENGTH;
      this.socket!.write(this.requestHead(PUSH_START_CONTENT_TYPE, budget));
      this.remaining = budget;
      this.state = 'streaming';
      if (first) {
        // every new connection starts with the header (the server ignores an unchanged one)
        this.queue.unshift(framePushHeader(this.header!));
        this.queueBytes += this.queue[0]!.length;
        this.stats.headersSent++;
        this.headerSentInSession = true;
        first = false;
      }
      const bodyDone = new Promise<void>((r) => (this.bodyDone = r));
      this.pump();
      // an early response while streaming is a refusal or a timeout from the server
      const early = this.reader!.next(24 * 3600 * 1000).then(
        (resp) => ({ resp }),
        (err: MssError) => ({ err }),
      );
      const outcome = await Promise.race([bodyDone.then(() => null), early]);
      streamed = streamed || this.stats.packetsSent > 0;
      if (this.isStopped()) return streamed;
      if (outcome) {
        if ('err' in outcome) throw outcome.err;
        throw this.refusal(outcome.resp, 'PushStart');
      }
      // the budget is used up: the server answers 204, then the next PushStart continues the stream
      const resp = await Promise.race([early, new Promise<never>((_, rej) => setTimeout(() => rej(new MssError('timeout', 'no response to a completed PushStart')), this.timeout).unref())]);
      if ('err' in resp) throw resp.err;
      if (resp.resp.status !== 204 && resp.resp.status !== 200) throw this.refusal(resp.resp, 'PushStart');
      this.setCookie(resp.resp);
    }
  }
}
