/**
 * The check every protocol makes before it serves a target: the point's IP lists first, then its credentials
 * (Basic/Digest through the point's Authenticator, so HTTP, RTSP and the API share accounts and nonce handling).
 * With the appliance's AuthGuard (admitAccess) a wrong password is answered late and an address that keeps guessing
 * is refused outright (429), for every protocol and point together, as the operator API is.
 * The protocol turns a refusal into its own answer (HTTP/RTSP 401 with the challenges, 403, 429; MMSP access denied).
 */
import type { AuthGuard } from '../../auth/guard.js';
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
  | { ok: false; status: 401; reason: string; challenge: string[] }
  | { ok: false; status: 429; reason: string; retryAfterS: number };

export function checkAccess(target: Pick<MediaTarget, 'point' | 'allows' | 'auth'>, req: PreambleRequest): PreambleResult {
  if (!target.allows(req.remote)) return { ok: false, status: 403, reason: `${req.remote} may not use publishing point ${target.point}` };
  if (!target.auth) return { ok: true };
  const r = target.auth.check(req.method, req.uri, req.authorization);
  if (r.ok) return { ok: true, user: r.user };
  return { ok: false, status: 401, reason: r.reason, challenge: r.challenge };
}

/** checkAccess with failed credentials delayed and guessing rate-limited per address by the shared guard */
export async function admitAccess(target: Pick<MediaTarget, 'point' | 'allows' | 'auth'>, req: PreambleRequest, guard?: AuthGuard): Promise<PreambleResult> {
  if (!guard || !target.auth || !target.allows(req.remote)) return checkAccess(target, req);
  const v = await guard.admit({ remote: req.remote, method: req.method, uri: req.uri, authorization: req.authorization }, target.auth);
  if (v.ok) return { ok: true, user: v.user };
  if (v.status === 429) return { ok: false, status: 429, reason: v.reason, retryAfterS: v.retryAfterS };
  return { ok: false, status: 401, reason: v.reason, challenge: v.challenge };
}
