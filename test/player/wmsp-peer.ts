/**
 * A small WMSP peer for player and client tests, built from the real codec (frameHeader/frameData/frameEnd)
 * and a real fixture file on a loopback port. It answers Describe, Play (packet-num and stream-time seeks),
 * Log POSTs, can require Digest credentials, cut the Play connection, or send a $C stream change.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { parseAsfFile, packetForTime } from '../../src/asf/file.js';
import { createAuthenticator } from '../../src/auth/http-auth.js';
import { classifyRequest, frameData, frameEnd, frameHeader, frameStreamChange, pragmaUint, type PragmaTokens } from '../../src/protocols/wmsp/codec.js';

export interface Peer {
  url: string;
  requests: Array<{ kind: string; pragmas: PragmaTokens; body: Buffer; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export interface PeerOptions {
  /** cut the Play connection after this many packets */
  cutAfter?: number;
  /** send $C and the header again after this many packets */
  changeAfter?: number;
  digestUser?: { name: string; password: string };
  /** plain files served by GET at a path (an .asx, an .nsc); {port} in the body becomes the peer's port */
  files?: Record<string, string>;
  /** paths that answer 404 (a dead fallback URL) */
  missing?: string[];
}

export async function startPeer(t: { teardown(fn: () => Promise<void>): void }, file: string, opts: PeerOptions = {}): Promise<Peer> {
  const layout = parseAsfFile(await fs.readFile(file));
  const requests: Peer['requests'] = [];
  let plays = 0;
  const auth = opts.digestUser ? createAuthenticator({ scheme: 'digest', realm: 'test', users: [opts.digestUser] }) : undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const port = (server.address() as AddressInfo).port;
      if (opts.files?.[path] !== undefined && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'video/x-ms-asf' });
        res.end(opts.files[path]!.replaceAll('{port}', String(port)));
        return;
      }
      if (opts.missing?.includes(path)) {
        res.writeHead(404, { 'Content-Length': '0' });
        res.end();
        return;
      }
      if (path === '/logs') {
        // a web-server logging URL (MS-WMLOG 2.3): the validation banner, then log POSTs
        if (req.method === 'POST') requests.push({ kind: 'WebLog', pragmas: new Map(), body: Buffer.concat(chunks), headers: req.headers });
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html><body><h1>WMS ISAPI Log Dll/9.0.0.1</h1></body></html>');
        return;
      }
      let classified;
      try {
        classified = classifyRequest(req.method ?? 'GET', req.headers, req.url);
      } catch {
        res.writeHead(400, { 'Content-Length': '0' });
        res.end();
        return;
      }
      requests.push({ kind: classified.kind, pragmas: classified.pragmas, body: Buffer.concat(chunks), headers: req.headers });
      if (auth) {
        const verdict = auth.check(req.method ?? 'GET', req.url ?? '/', req.headers.authorization);
        if (!verdict.ok) {
          res.writeHead(401, { 'WWW-Authenticate': verdict.challenge, 'Content-Length': '0' });
          res.end();
          return;
        }
      }
      const pragma = 'no-cache, client-id=4242, features="seekable"';
      if (classified.kind === 'Log') {
        res.writeHead(204, { Pragma: pragma, Server: 'Cougar/9.01.01.3814' });
        res.end();
        return;
      }
      if (classified.kind === 'Describe') {
        res.writeHead(200, { Pragma: pragma, Server: 'Cougar/9.01.01.3814', 'Content-Type': 'application/vnd.ms.wms-hdr.asfv1' });
        res.end(Buffer.concat(frameHeader(layout.headerBytes)));
        return;
      }
      res.writeHead(200, { Pragma: pragma, Server: 'Cougar/9.01.01.3814', 'Content-Type': 'application/x-mms-framed' });
      const packetNum = pragmaUint(classified.pragmas, 'packet-num') ?? 0xffffffff;
      const streamTime = pragmaUint(classified.pragmas, 'stream-time') ?? 0;
      const resumed = packetNum !== 0xffffffff;
      plays++;
      let i = resumed ? Math.min(packetNum, layout.packetCount) : 0;
      if (!resumed && streamTime !== 0 && streamTime !== 0xffffffff) i = packetForTime(layout, streamTime) ?? 0;
      res.write(Buffer.concat(frameHeader(layout.headerBytes)));
      let sent = 0;
      const pump = () => {
        while (i < layout.packetCount) {
          if (opts.cutAfter !== undefined && sent === opts.cutAfter && plays === 1) {
            res.socket?.destroy();
            return;
          }
          if (opts.changeAfter !== undefined && sent === opts.changeAfter) {
            res.write(frameEnd(1));
            res.write(frameStreamChange());
            res.write(Buffer.concat(frameHeader(layout.headerBytes)));
          }
          const ok = res.write(frameData(layout.packet(i), i, sent & 0xff));
          i++;
          sent++;
          if (!ok) return void res.once('drain', pump);
        }
        res.end(frameEnd(0));
      };
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  t.teardown(close);
  return { url: `mmsh://127.0.0.1:${port}/vod/x.wmv`, requests, close };
}

