/**
 * Uploads into an on-demand point: the body is streamed (never held in memory) to a temporary name in the
 * point's incoming/ folder, bounded by packager.maxUploadBytes, then renamed to its own name there; the packager
 * module publishes it from incoming/ (through the DRM packager when one is configured). A connection that
 * stops sending is closed by the listener's no-progress timeout.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MssConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import { connectionOf } from '../net/listener.js';

/** a media file name: no folders, no leading dot */
export const UPLOAD_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.,()-]{0,127}\.(asf|wmv|wma)$/i;
export const INCOMING_DIR = 'incoming';
/** the HTTP listener exempts marked sockets from its whole-request deadline (an upload takes as long as it takes) */
const LONG_REQUEST = Symbol.for('mss.http.longRequest');

export async function storeUpload(config: MssConfig, pointName: string, file: string, req: IncomingMessage): Promise<Record<string, unknown>> {
  const point = config.server.publishingPoints.find((p) => p.name === pointName);
  if (!point) throw new MssError('not-found', `no publishing point ${JSON.stringify(pointName.slice(0, 64))}`);
  if (point.type !== 'ondemand') throw new MssError('conflict', `publishing point ${pointName} is a broadcast: files go to on-demand points`);
  if (!UPLOAD_NAME.test(file)) throw new MssError('invalid-argument', `file name must match ${UPLOAD_NAME}`);
  const limit = config.packager.maxUploadBytes;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw new MssError('too-large', `upload of ${declared} bytes exceeds packager.maxUploadBytes (${limit})`);
  const incoming = path.join(point.path, INCOMING_DIR);
  await mkdir(incoming, { recursive: true });
  const tmp = path.join(incoming, `.upload-${randomBytes(6).toString('hex')}.part`);
  (req.socket as Socket & Record<symbol, unknown>)[LONG_REQUEST] = true;
  connectionOf(req.socket)?.streaming();
  let bytes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
      const fail = (err: unknown) => {
        req.unpipe(out);
        out.destroy();
        req.resume();
        reject(err);
      };
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > limit) fail(new MssError('too-large', `upload exceeds packager.maxUploadBytes (${limit})`));
      });
      req.once('aborted', () => fail(new MssError('truncated', 'the upload was cut off')));
      req.once('error', fail);
      out.once('error', (e) => fail(new MssError('unavailable', `cannot write ${incoming}: ${e.message}`)));
      out.once('finish', () => resolve());
      req.pipe(out);
    });
    if (bytes === 0) throw new MssError('invalid-argument', 'the upload is empty');
    await rename(tmp, path.join(incoming, file));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  connectionOf(req.socket)?.idle();
  return { point: pointName, file, bytes, stored: `${INCOMING_DIR}/${file}`, published: false };
}
