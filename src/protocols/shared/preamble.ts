/**
 * The check every protocol makes before it serves a target: the point's IP lists first, then its credentials
 * (Basic/Digest through the point's Authenticator, so HTTP, RTSP and the API share accounts and nonce handling).
 * The protocol turns a refusal into its own answer (HTTP/RTSP 401 with the challenges or 403; MMSP access denied).
 */
import type { MediaTarget } from '../../contracts/media.js';

export interface PreambleRequest {
  /** peer address */
  remote: string;
  /** request method as the credentials were computed (GET, DESCRIBE, ...) */
  method: string;
  /** request URI as sent (Digest hashes it) */
  uri: string;
  authorization?: string;
}

export type PreambleResult =
  | { ok: true; user?: string }
  | { ok: false; status: 403; reason: string }
  | { ok: false; status: 401; reason: string; challenge: string[] };

export function checkAccess(target: Pick<MediaTarget, 'point' | 'allows' | 'auth'>, req: PreambleRequest): PreambleResult {
  if (!target.allows(req.remote)) return { ok: false, status: 403, reason: `${req.remote} may not use publishing point ${target.point}` };
  if (!target.auth) return { ok: true };
  const r = target.auth.check(req.method, req.uri, req.authorization);
  if (r.ok) return { ok: true, user: r.user };
  return { ok: false, status: 401, reason: r.reason, challenge: r.challenge };
}
