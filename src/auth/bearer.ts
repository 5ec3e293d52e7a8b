/**
 * Bearer tokens (RFC 6750) for the operator API: `Authorization: Bearer <token>` against a list of tokens, compared
 * in constant time. Behind the same Authenticator interface as Basic and Digest, so the AuthGuard treats them alike.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Authenticator, AuthResult } from '../contracts/media.js';
import { MAX_AUTHORIZATION_LENGTH } from './http-auth.js';

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function createBearerAuthenticator(tokens: readonly string[], realm: string): Authenticator {
  const hashes = tokens.filter((t) => t.length > 0).map(digest);
  const challenge = [`Bearer realm="${realm.replace(/[\\"]/g, '')}"`];
  const refuse = (reason: string): AuthResult => ({ ok: false, challenge, reason });
  return {
    check(_method, _uri, authorization) {
      if (authorization === undefined || authorization.trim() === '') return refuse('no credentials');
      if (authorization.length > MAX_AUTHORIZATION_LENGTH) return refuse('Authorization header too long');
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization.trim());
      if (!m || !TOKEN68.test(m[1]!)) return refuse('expected Bearer credentials');
      const given = digest(m[1]!);
      // compare with every token, so the time taken says nothing about which (or whether one) matched
      let match = false;
      for (const h of hashes) match = timingSafeEqual(h, given) || match;
      return match ? { ok: true, user: 'token' } : refuse('token not accepted');
    },
  };
}
