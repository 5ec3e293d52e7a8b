/**
 * A raw RTSP connection for tests: sends exactly the bytes or requests given (as ffmpeg, WMP or a hostile peer
 * would), and collects what comes back with the codec's parser: responses by CSeq, the server's own requests
 * (EndOfStream, ANNOUNCE), interleaved frames. Not a player: no retries, no authentication.
 */
import net from 'node:net';
import { once } from 'node:events';
import { RtspStreamParser, serializeRequest, type InterleavedFrame, type RtspRequest, type RtspResponse } from '../../../src/protocols/rtsp/codec.js';

export class RawRtsp {
  readonly responses: RtspResponse[] = [];
  readonly requests: RtspRequest[] = [];
  readonly frames: InterleavedFrame[] = [];
  /** how many frames had arrived when each response did (what came after an answer, e.g. after a PLAY) */
  readonly framesBefore = new Map<RtspResponse, number>();
  closed = false;
  parseError: string | undefined;
  private readonly parser = new RtspStreamParser({ maxBodyBytes: 1 << 22 });
  private cseq = 0;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      try {
        for (const item of this.parser.push(c)) {
          if (item.kind === 'response') {
            this.responses.push(item);
            this.framesBefore.set(item, this.frames.length);
          }
          else if (item.kind === 'request') this.requests.push(item);
          else this.frames.push(item);
        }
      } catch (err) {
        this.parseError = String(err);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawRtsp> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new RawRtsp(s);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** resolves when pred holds (checked on every arrival), rejects after timeoutMs */
  waitFor(pred: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw RTSP: ${what} not met within ${timeoutMs} ms (closed=${this.closed}, responses=${this.responses.map((r) => r.status).join(',')})`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed && !pred()) {
          clearTimeout(timer);
          if (pred()) resolve();
          else reject(new Error(`raw RTSP: connection closed before ${what} (responses=${this.responses.map((r) => r.status).join(',')})`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  writeRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** sends a request with the next CSeq (unless headers give one) and waits for its answer */
  async request(method: string, uri: string, headers: Record<string, string | number> = {}, body?: Buffer | string): Promise<RtspResponse> {
    const cseq = String(headers.CSeq ?? ++this.cseq);
    this.socket.write(serializeRequest(method, uri, { CSeq: cseq, 'User-Agent': 'Lavf59.27.100', ...headers }, body === undefined ? undefined : Buffer.from(body)));
    await this.waitFor(() => this.responses.some((r) => r.headers.get('cseq') === cseq), 30_000, `answer to ${method} CSeq ${cseq}`);
    return this.responses.find((r) => r.headers.get('cseq') === cseq)!;
  }

  /** waits for any answer (for requests whose CSeq is broken) */
  async nextResponse(timeoutMs = 10_000): Promise<RtspResponse> {
    const n = this.responses.length;
    await this.waitFor(() => this.responses.length > n, timeoutMs, 'a response');
    return this.responses[n]!;
  }

  /** the frames that came after a response */
  framesAfter(res: RtspResponse): InterleavedFrame[] {
    return this.frames.slice(this.framesBefore.get(res) ?? 0);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The session id of a SETUP answer. */
export function sessionOf(res: RtspResponse): string {
  return (res.headers.get('session') ?? '').split(';')[0]!;
}
