/**
 * Raw WMSP responses. WMSP answers HTTP/1.0 (or HTTP/1.1 chunked in pipelined mode) with headers Node's
 * ServerResponse would not write, so responses go to the socket as bytes. Each request's ServerResponse is then
 * retired (marked sent and ended, writing nothing): Node frees the request/response pair and moves a pipelined
 * connection on to the next one, instead of keeping one pair alive per request for the life of the connection.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { destroySocket, detachFromHttpServer } from '../../http/detach.js';
import { connectionOf } from '../../net/listener.js';
import { reasonPhrase } from '../shared/status.js';

export const SERVER_HEADER = 'Cougar/9.01.01.3814';
export const CONTENT_HEADER = 'application/vnd.ms.wms-hdr.asfv1';
export const CONTENT_FRAMED = 'application/x-mms-framed';
/** what a plain HTTP client (no Pragma: ffprobe http://, a browser download) is sent: the ASF stream as it is */
export const CONTENT_ASF = 'video/x-ms-asf';
const SUPPORTED = 'com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm, com.microsoft.wm.startupprofile';

export interface HeadOptions {
  status?: number;
  version?: '1.0' | '1.1';
  contentType?: string;
  contentLength?: number;
  pragma?: string[];
  cacheControl?: string;
  chunked?: boolean;
  keepAlive?: boolean;
  supported?: boolean;
  extra?: Record<string, string | string[]>;
}

export function responseHead(o: HeadOptions): string {
  const status = o.status ?? 200;
  const lines = [`HTTP/${o.version ?? '1.0'} ${status} ${reasonPhrase(status)}`, `Server: ${SERVER_HEADER}`, `Date: ${new Date().toUTCString()}`];
  if (o.contentType) lines.push(`Content-Type: ${o.contentType}`);
  if (o.contentLength !== undefined) lines.push(`Content-Length: ${o.contentLength}`);
  lines.push(`Cache-Control: ${o.cacheControl ?? 'no-cache'}`);
  for (const p of o.pragma ?? []) lines.push(`Pragma: ${p}`);
  if (o.supported) lines.push(`Supported: ${SUPPORTED}`);
  for (const [k, v] of Object.entries(o.extra ?? {})) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  if (o.chunked) lines.push('Transfer-Encoding: chunked');
  lines.push(o.keepAlive ? 'Connection: Keep-Alive' : 'Connection: close');
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Marks Node's response for this request as sent by us and ends it (nothing more is written); only in its turn. */
export function retireResponse(res: ServerResponse): void {
  if (res.writableEnded) return;
  // What was written to the socket stands for the head: with these set, end() writes nothing and emits 'finish',
  // the event Node's HTTP server waits for before it frees the pair and serves the next pipelined request.
  const raw = res as unknown as { _header: string | null; _headerSent: boolean };
  if (!raw._header) raw._header = 'raw';
  raw._headerSent = true;
  res.end();
}

/**
 * Runs `write` once this response may write to the socket: at once, or (a pipelined request behind an unfinished
 * response) when Node hands it the socket, after the responses before it have finished: HTTP answers in order.
 */
export function whenAttached(res: ServerResponse, write: () => void): void {
  if (res.socket) write();
  else res.once('socket', write);
}

/** Writes a whole raw response (head and body) in its turn, retires it, and closes unless keeping alive. */
export function sendRaw(res: ServerResponse, socket: Socket, head: string, body: readonly Buffer[] = [], close = true): void {
  whenAttached(res, () => writeRaw(res, socket, head, body, close));
}

function writeRaw(res: ServerResponse, socket: Socket, head: string, body: readonly Buffer[], close: boolean): void {
  if (!socket.destroyed) {
    socket.cork();
    socket.write(head);
    for (const b of body) socket.write(b);
    socket.uncork();
  }
  // after the bytes: Node may end a connection that is not kept alive once the response is retired
  retireResponse(res);
  if (close && !socket.destroyed) socket.end();
}

/**
 * An HTTP/1.0 stream's request and response are let go once its head is out: Node frees the pair (its parsed
 * headers, states and listeners, ~3 KB a player) instead of keeping it for the stream's life, and the connection
 * leaves Node's HTTP server (its parser and listeners, http/detach.ts). The stream owns the connection from then on:
 * a further request or any byte from the peer ends it, and it closes when the stream ends. Node sets its keep-alive
 * timeout as the response finishes; the stream's own no-progress timeout is put back right after.
 */
export function releaseToStream(res: ServerResponse, socket: Socket): void {
  const conn = connectionOf(socket);
  if (conn) conn.ownedByStream = true;
  // Node's own 'finish' listener (it frees the pair and sets the keep-alive timer) runs before this one
  res.once('finish', () => {
    conn?.streaming();
    detachFromHttpServer(socket, destroySocket);
  });
  retireResponse(res);
}
