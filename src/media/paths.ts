/**
 * Maps the rest of a request path (after the publishing point name) to a file inside the point's directory.
 * Refuses traversal in every spelling: `..` and `.` segments, percent-encoded ones (`%2e%2e`, `..%2f`, double
 * encoding such as `%252e`), backslashes, NUL, and symlinks that lead out of the directory.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { MssError } from '../core/errors.js';

const MAX_PATH = 1024;
const MAX_SEGMENTS = 32;
export const MEDIA_EXTENSIONS = ['.asf', '.wmv', '.wma'];

/** Decoded path segments of a raw request path (without query); throws 'forbidden' / 'malformed'. */
export function safeSegments(rawRest: string): string[] {
  if (rawRest.length > MAX_PATH) throw new MssError('too-large', `request path is ${rawRest.length} characters, limit ${MAX_PATH}`);
  const parts = rawRest.split('/').filter((p) => p !== '');
  if (parts.length > MAX_SEGMENTS) throw new MssError('malformed', `request path has more than ${MAX_SEGMENTS} segments`);
  return parts.map((raw) => {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new MssError('malformed', `request path segment ${JSON.stringify(raw.slice(0, 60))} has a broken percent-encoding`);
    }
    if (seg === '..' || seg === '.' || /[\\/\0]/.test(seg) || /%(2e|2f|5c|00|25)/i.test(seg) || seg.includes('..')) {
      throw new MssError('forbidden', `request path segment ${JSON.stringify(raw.slice(0, 60))} would leave the publishing point`);
    }
    return seg;
  });
}

/** Absolute path of a media file under `root` for the decoded segments; 'not-found' when it is not a media file. */
export async function resolveMediaFile(root: string, segments: readonly string[]): Promise<string> {
  if (segments.length === 0) throw new MssError('not-found', 'no file named after the publishing point');
  const ext = path.extname(segments[segments.length - 1]).toLowerCase();
  if (!MEDIA_EXTENSIONS.includes(ext)) throw new MssError('not-found', `${segments.join('/')} is not an ASF media file (.asf, .wmv, .wma)`);
  const base = await realpath(root).catch(() => {
    throw new MssError('not-found', `publishing point directory ${root} does not exist`);
  });
  const candidate = path.resolve(base, ...segments);
  if (!isInside(base, candidate)) throw new MssError('forbidden', `${segments.join('/')} would leave the publishing point`);
  const real = await realpath(candidate).catch(() => {
    throw new MssError('not-found', `no file ${segments.join('/')}`);
  });
  if (!isInside(base, real)) throw new MssError('forbidden', `${segments.join('/')} leads out of the publishing point`);
  const st = await stat(real);
  if (!st.isFile()) throw new MssError('not-found', `${segments.join('/')} is not a file`);
  return real;
}

export function isInside(base: string, p: string): boolean {
  const rel = path.relative(base, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
