/**
 * The player's side of one RTSP control connection: requests with CSeq and the answers matched to them (each with
 * a deadline), Basic/Digest answered through the shared HTTP auth helpers (every request after a challenge carries
 * credentials, Digest counting nc up), requests of the server's own (EndOfStream, ANNOUNCE) answered 200 and handed
 * on, and interleaved RTP/RTCP frames handed on. Bounded by the same parser the server uses.
 */
import { connect, type Socket } from 'node:net';
import { MssError } from '../../core/errors.js';
import { authorizationHeader, createDigestClientState, pickChallenge, type DigestClientState } from '../../auth/http-auth.js';
import { RtspStreamParser, serializeRequest, serializeResponse, type InterleavedFrame, type RtspRequest, type RtspResponse } from './codec.js';

export interface ControlEvents {
  /** a request of the server's (already answered 200) */
  serverRequest(req: RtspRequest): void;
  interleaved(frame: InterleavedFrame): void;
  /** the connection is gone (or the bytes from it could not be parsed) */
  lost(err: MssError): void;
}

export interface Credentials {
  user: string;
  password: string;
}

export class RtspControl {
  private socket: Socket | null = null;
  private readonly parser = new RtspStreamParser({ maxBodyBytes: 8 * 1024 * 1024, maxHeaderBytes: 65536 });
  private cseq = 0;
  private readonly waiting = new Map<string, { resolve: (r: RtspResponse) => void; reject: (e: MssError) => void; timer: NodeJS.Timeout }>();
  private challenge: string | undefined;
  private readonly digest: DigestClientState = createDigestClientState();
  private closed = false;
  /** last time a request went out (keep-alives are sent when the session would otherwise idle) */
  lastRequestAt = 0;
  server: string | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly userAgent: string,
    private readonly timeoutMs: number,
    private readonly credentials: Credentials | undefined,
    private readonly events: ControlEvents,
  ) {}

  get isOpen(): boolean {
    return this.socket !== null && !this.closed && !this.socket.destroyed;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port, noDelay: true });
      const timer = setTimeout(() => s.destroy(new MssError('timeout', `RTSP: no connection to ${this.host}:${this.port} within ${this.timeoutMs} ms`)), this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve();
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        const e = err instanceof MssError ? err : new MssError('unavailable', `RTSP: ${this.host}:${this.port}: ${err.message}`, { lostConnection: true });
        if (!this.socket) reject(e);
        else this.fail(e);
      });
      s.on('data', (chunk: Buffer) => this.onData(chunk));
      s.once('close', () => this.fail(new MssError('unavailable', `RTSP: ${this.host}:${this.port} closed the connection`, { lostConnection: true })));
    });
  }

  /** pauses reading (TCP backpressure reaches the server's queue) */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  write(buf: Buffer): void {
    if (this.isOpen) this.socket!.write(buf);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new MssError('unavailable', 'RTSP: the connection was closed', { lostConnection: true }));
    }
    this.waiting.clear();
    this.socket?.end();
    const s = this.socket;
    if (s) setTimeout(() => s.destroy(), 1000).unref();
  }

  /** one request; a 401 with credentials known is answered once with Authorization */
  async request(method: string, uri: string, headers: Record<string, string | number | undefined> = {}, body?: Buffer): Promise<RtspResponse> {
    let res = await this.send(method, uri, headers, body);
    if ((res.status === 401 || res.status === 407) && this.credentials) {
      const challenge = pickChallenge(res.headers.getAll('www-authenticate'));
      if (!challenge) throw new MssError('unsupported', `RTSP ${method}: 401 with no Basic or Digest challenge`);
      this.challenge = challenge;
      res = await this.send(method, uri, headers, body);
    }
    return res;
  }

  private send(method: string, uri: string, headers: Record<string, string | number | undefined>, body?: Buffer): Promise<RtspResponse> {
    if (!this.isOpen) return Promise.reject(new MssError('unavailable', 'RTSP: the connection is closed', { lostConnection: true }));
    const cseq = String(++this.cseq);
    const all: Record<string, string | number | undefined> = { CSeq: cseq, 'User-Agent': this.userAgent, ...headers };
    if (this.challenge && this.credentials) all.Authorization = authorizationHeader(this.challenge, this.credentials.user, this.credentials.password, method, uri, this.digest);
    this.lastRequestAt = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cseq);
        reject(new MssError('timeout', `RTSP ${method}: no answer within ${this.timeoutMs} ms`, { lostConnection: true }));
      }, this.timeoutMs);
      this.waiting.set(cseq, { resolve, reject, timer });
      this.socket!.write(serializeRequest(method, uri, all, body));
    });
  }

  private onData(chunk: Buffer): void {
    let items;
    try {
      items = this.parser.push(chunk);
    } catch (err) {
      this.fail(err instanceof MssError ? err : new MssError('malformed', String(err)));
      this.socket?.destroy();
      return;
    }
    for (const item of items) {
      if (item.kind === 'interleaved') this.events.interleaved(item);
      else if (item.kind === 'response') this.answered(item);
      else {
        // the server's own requests want an answer; their content is the stream's business
        this.write(serializeResponse(200, { CSeq: item.headers.get('cseq') ?? '0', 'User-Agent': this.userAgent }));
        this.events.serverRequest(item);
      }
    }
  }

  private answered(res: RtspResponse): void {
    this.server ??= res.headers.get('server');
    const cseq = res.headers.get('cseq');
    const w = cseq !== undefined ? this.waiting.get(cseq) : undefined;
    if (!w) return; // an answer nobody waits for (timed out): dropped
    this.waiting.delete(cseq!);
    clearTimeout(w.timer);
    w.resolve(res);
  }

  private fail(err: MssError): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiting.clear();
    this.events.lost(err);
  }
}
