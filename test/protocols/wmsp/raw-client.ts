/**
 * A tiny raw WMSP client for tests: writes exactly the request given (so tests control every Pragma line, as
 * ffmpeg or a hostile peer would send them), reads the HTTP head and the $-frames of the body with the codec's
 * frame parser. Not a player: no retries, no chunked decoding unless asked.
 */
import net from 'node:net';
import { WmspFrameParser, type WmspFrame } from '../../../src/protocols/wmsp/codec.js';

export interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string[]>;
  frames: WmspFrame[];
  /** body bytes (when not parsed as frames) */
  body: Buffer;
  closedByServer: boolean;
  parseError?: string;
}

export interface RawRequestOptions {
  method?: string;
  pragmas?: string[];
  headers?: Record<string, string>;
  body?: Buffer | string;
  httpVersion?: '1.0' | '1.1';
  userAgent?: string;
  /** give up after this long (resolves with what arrived) */
  timeoutMs?: number;
  /** stop reading (close) once this returns true */
  until?: (frames: WmspFrame[]) => boolean;
  /** do not parse the body as frames */
  rawBody?: boolean;
}

export function rawRequest(port: number, target: string, o: RawRequestOptions = {}): Promise<RawResponse> {
  const lines = [`${o.method ?? 'GET'} ${target} HTTP/${o.httpVersion ?? '1.0'}`, `Host: 127.0.0.1:${port}`, `User-Agent: ${o.userAgent ?? 'NSPlayer/4.1.0.3856'}`, 'Accept: */*'];
  for (const p of o.pragmas ?? []) lines.push(`Pragma: ${p}`);
  for (const [k, v] of Object.entries(o.headers ?? {})) lines.push(`${k}: ${v}`);
  const body = o.body === undefined ? Buffer.alloc(0) : Buffer.from(o.body);
  if (o.body !== undefined) lines.push(`Content-Length: ${body.length}`);
  const request = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let headBuf = Buffer.alloc(0);
    let headDone = false;
    const res: RawResponse = { status: 0, head: '', headers: {}, frames: [], body: Buffer.alloc(0), closedByServer: false };
    const bodyParts: Buffer[] = [];
    const parser = new WmspFrameParser();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      res.body = Buffer.concat(bodyParts);
      sock.destroy();
      resolve(res);
    };
    const timer = setTimeout(finish, o.timeoutMs ?? 30_000);
    const onBody = (chunk: Buffer) => {
      if (o.rawBody) {
        bodyParts.push(chunk);
        return;
      }
      try {
        res.frames.push(...parser.push(chunk));
      } catch (err) {
        res.parseError = (err as Error).message;
        finish();
        return;
      }
      if (o.until?.(res.frames)) finish();
    };
    sock.on('data', (chunk: Buffer) => {
      if (headDone) return onBody(chunk);
      headBuf = Buffer.concat([headBuf, chunk]);
      const end = headBuf.indexOf('\r\n\r\n');
      if (end < 0) return;
      headDone = true;
      res.head = headBuf.subarray(0, end).toString('latin1');
      const [statusLine, ...rest] = res.head.split('\r\n');
      res.status = Number(statusLine.split(' ')[1]);
      for (const l of rest) {
        const i = l.indexOf(':');
        if (i < 0) continue;
        const k = l.slice(0, i).trim().toLowerCase();
        (res.headers[k] ??= []).push(l.slice(i + 1).trim());
      }
      const tail = headBuf.subarray(end + 4);
      if (tail.length) onBody(tail);
    });
    sock.on('end', () => {
      res.closedByServer = true;
      finish();
    });
    sock.on('close', finish);
    sock.on('error', finish);
    sock.write(request);
  });
}

/** ffmpeg's two requests: Describe, then Play with every stream selected (decimal ids) */
export const FFMPEG_DESCRIBE = ['no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0', 'xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}'];

export function ffmpegPlay(streams: number[], streamTime = 0): string[] {
  return [
    'no-cache,rate=1.000000,request-context=2',
    'xPlayStrm=1',
    'xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}',
    `stream-switch-count=${streams.length}`,
    `stream-switch-entry=${streams.map((s) => `ffff:${s}:0`).join(' ')} `,
    `no-cache,rate=1.000000,stream-time=${streamTime}Connection: Close`,
  ];
}
