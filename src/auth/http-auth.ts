/**
 * HTTP authentication for publishing points and for our own clients (player, encoder push):
 * Basic (RFC 7617) and Digest (RFC 7616, with the RFC 2617 MD5 form every player speaks).
 *
 * Server nonces carry their own issue time and an HMAC, so the server keeps no table of issued nonces;
 * the only state is a small, bounded cache of the highest `nc` seen per nonce (replay check). When that
 * cache evicts a nonce, every nonce issued up to the evicted one's time is treated as stale from then on,
 * so eviction can never reopen a replay window: the client just gets a fresh nonce (`stale=true`).
 *
 * Parsing is bounded and total: garbage in an Authorization header is a refusal, never an exception.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthConfig } from '../config/sections/server.js';
import type { Authenticator, AuthResult } from '../contracts/media.js';
import { MssError } from '../core/errors.js';

export type { Authenticator, AuthResult };

export interface AuthenticatorOptions {
  /** how long a nonce is accepted (default 5 minutes) */
  nonceLifetimeMs?: number;
  /** nonces remembered for the nc replay check (default 4096) */
  replayCacheSize?: number;
  /** HMAC key for nonces (default: random per authenticator) */
  secret?: Buffer;
  /** clock, for tests */
  now?: () => number;
}

/** Longest Authorization header we look at; real ones are a few hundred bytes. */
export const MAX_AUTHORIZATION_LENGTH = 4096;
const MAX_AUTH_PARAMS = 32;

type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';
const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess'];

function hashOf(algorithm: DigestAlgorithm): 'md5' | 'sha256' {
  return algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
}

function hex(hash: 'md5' | 'sha256', text: string): string {
  return createHash(hash).update(text, 'utf8').digest('hex');
}

/** The Digest `response` value (RFC 7616 §3.4.1); qop undefined means the RFC 2069 form. */
export function digestResponse(p: {
  algorithm: DigestAlgorithm;
  user: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  nc?: string;
  cnonce?: string;
  qop?: 'auth';
}): string {
  const h = hashOf(p.algorithm);
  let ha1 = hex(h, `${p.user}:${p.realm}:${p.password}`);
  if (p.algorithm.endsWith('-sess')) ha1 = hex(h, `${ha1}:${p.nonce}:${p.cnonce ?? ''}`);
  const ha2 = hex(h, `${p.method}:${p.uri}`);
  if (p.qop === undefined) return hex(h, `${ha1}:${p.nonce}:${ha2}`);
  return hex(h, `${ha1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:${p.qop}:${ha2}`);
}

/** A quoted-string (RFC 9110 §5.6.4) with `\` and `"` escaped. */
function quote(value: string): string {
  return '"' + value.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Splits `scheme params` into the scheme and its auth-params (`name=token` or `name="quoted"`,
 * comma-separated). Returns undefined on any malformation, duplicate name or excess size; never throws.
 */
export function parseAuthParams(text: string): { scheme: string; params: Map<string, string> } | undefined {
  if (text.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  skipWs();
  const scheme = readToken();
  if (!scheme) return undefined;
  const params = new Map<string, string>();
  if (i < n && text[i] !== ' ' && text[i] !== '\t') return undefined;
  for (;;) {
    // separators: whitespace and any number of commas
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++;
    if (i >= n) break;
    const name = readToken().toLowerCase();
    if (!name) return undefined;
    skipWs();
    if (text[i] !== '=') return undefined;
    i++;
    skipWs();
    let value: string;
    if (text[i] === '"') {
      i++;
      let out = '';
      let closed = false;
      while (i < n) {
        const c = text[i]!;
        if (c === '\\') {
          if (i + 1 >= n) return undefined;
          out += text[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          out += c;
          i++;
        }
      }
      if (!closed) return undefined;
      value = out;
    } else {
      value = readToken();
      if (!value) return undefined;
    }
    if (params.has(name) || params.size >= MAX_AUTH_PARAMS) return undefined;
    params.set(name, value);
    skipWs();
    if (i < n && text[i] !== ',') return undefined;
  }
  return { scheme, params };
}

/** Constant-time string equality (length is not secret here: it follows from the algorithm). */
function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

/** Equality of secrets of any length without leaking where they differ or their length. */
function secretEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** why credentials were refused, whether the user exists or not */
export const NOT_ACCEPTED = 'user name or password not accepted';

const NONCE_TIME_BYTES = 8;
const NONCE_RANDOM_BYTES = 8;
const NONCE_MAC_BYTES = 16;
const NONCE_BYTES = NONCE_TIME_BYTES + NONCE_RANDOM_BYTES + NONCE_MAC_BYTES;

interface NonceCheck {
  valid: boolean;
  issuedAt: number;
}

export function createAuthenticator(cfg: AuthConfig, options: AuthenticatorOptions = {}): Authenticator {
  const now = options.now ?? Date.now;
  const lifetime = options.nonceLifetimeMs ?? 5 * 60_000;
  const cacheSize = Math.max(1, options.replayCacheSize ?? 4096);
  const secret = options.secret ?? randomBytes(32);
  const opaque = randomBytes(12).toString('hex');
  const realm = cfg.realm;
  const passwords = new Map<string, string>();
  for (const u of cfg.users) passwords.set(u.name, u.password);

  if (cfg.scheme === 'none') return { check: () => ({ ok: true }) };

  // nonce -> highest nc accepted; Map keeps insertion order, so the first key is the oldest
  const seenNc = new Map<string, { nc: number; issuedAt: number }>();
  let staleFloor = -Infinity;

  const mac = (body: Buffer) => createHmac('sha256', secret).update(body).digest().subarray(0, NONCE_MAC_BYTES);

  function issueNonce(): string {
    const body = Buffer.alloc(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now()))), 0);
    randomBytes(NONCE_RANDOM_BYTES).copy(body, NONCE_TIME_BYTES);
    return Buffer.concat([body, mac(body)]).toString('base64url');
  }

  function verifyNonce(nonce: string): NonceCheck {
    if (nonce.length !== Math.ceil((NONCE_BYTES * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { valid: false, issuedAt: 0 };
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== NONCE_BYTES) return { valid: false, issuedAt: 0 };
    const body = raw.subarray(0, NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    if (!timingSafeEqual(mac(body), raw.subarray(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES))) return { valid: false, issuedAt: 0 };
    return { valid: true, issuedAt: Number(body.readBigUInt64BE(0)) };
  }

  function challenges(stale: boolean): string[] {
    if (cfg.scheme === 'basic') return [`Basic realm=${quote(realm)}, charset="UTF-8"`];
    // Strongest first (RFC 7616 §3.7). curl takes the first Digest challenge it supports, ffmpeg the last
    // Digest header and only MD5: SHA-256 first, MD5 last serves both.
    return (['SHA-256', 'MD5'] as const).map(
      (algorithm) =>
        `Digest realm=${quote(realm)}, qop="auth", algorithm=${algorithm}, nonce=${quote(issueNonce())}, opaque=${quote(opaque)}` +
        (stale ? ', stale=true' : ''),
    );
  }

  const refuse = (reason: string, stale = false): AuthResult => ({ ok: false, challenge: challenges(stale), reason });

  function checkBasic(credentials: string): AuthResult {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(credentials) || credentials.length % 4 !== 0) return refuse('malformed Basic credentials');
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return refuse('malformed Basic credentials (no colon)');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const expected = passwords.get(user);
    // compare against something even for an unknown user, so timing does not reveal which users exist
    const good = secretEqual(password, expected ?? '\u0000unknown-user') && expected !== undefined;
    // the same words for an unknown user and a wrong password: a refusal (often shown in a 401 body) must not
    // tell which user names exist
    if (!good) return refuse(NOT_ACCEPTED);
    return { ok: true, user };
  }

  function uriMatches(claimed: string, requestUri: string): boolean {
    if (claimed === requestUri) return true;
    // a client may sign the absolute form or only the path; compare path + query
    try {
      const a = new URL(claimed, 'http://x');
      const b = new URL(requestUri, 'http://x');
      return a.pathname + a.search === b.pathname + b.search;
    } catch {
      return false;
    }
  }

  function checkDigest(method: string, requestUri: string, params: Map<string, string>): AuthResult {
    const user = params.get('username');
    const nonce = params.get('nonce');
    const uri = params.get('uri');
    const response = params.get('response');
    if (user === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return refuse('Digest credentials lack username, nonce, uri or response');
    }
    if (params.has('username*') || params.get('userhash') === 'true') return refuse('Digest userhash/username* not supported');
    if (params.get('realm') !== realm) return refuse('Digest realm does not match');
    const algorithmName = params.get('algorithm') ?? 'MD5';
    const algorithm = DIGEST_ALGORITHMS.find((a) => a.toLowerCase() === algorithmName.toLowerCase());
    if (!algorithm) return refuse(`unsupported Digest algorithm ${JSON.stringify(algorithmName.slice(0, 32))}`);
    const qop = params.get('qop');
    if (qop !== 'auth') return refuse('Digest qop must be auth');
    const ncText = params.get('nc');
    const cnonce = params.get('cnonce');
    if (ncText === undefined || !/^[0-9a-fA-F]{8}$/.test(ncText) || cnonce === undefined || cnonce.length === 0) {
      return refuse('Digest nc or cnonce missing or malformed');
    }
    const opaqueGiven = params.get('opaque');
    if (opaqueGiven !== undefined && !safeEqual(opaqueGiven, opaque)) return refuse('Digest opaque does not match');
    if (!uriMatches(uri, requestUri)) return refuse('Digest uri does not match the request');

    const nonceCheck = verifyNonce(nonce);
    if (!nonceCheck.valid) return refuse('Digest nonce was not issued by this server');

    const password = passwords.get(user);
    const expected = digestResponse({
      algorithm,
      user,
      realm,
      password: password ?? '',
      method,
      uri,
      nonce,
      nc: ncText,
      cnonce,
      qop: 'auth',
    });
    if (!safeEqual(response.toLowerCase(), expected) || password === undefined) {
      return refuse(NOT_ACCEPTED);
    }

    // Credentials are right; now freshness. A stale refusal lets the client retry with a new nonce silently.
    const t = now();
    if (t - nonceCheck.issuedAt > lifetime || nonceCheck.issuedAt - t > 60_000) return refuse('Digest nonce expired', true);
    const nc = parseInt(ncText, 16);
    const seen = seenNc.get(nonce);
    if (seen) {
      if (nc <= seen.nc) return refuse(`Digest nc ${ncText} replayed`, true);
      seen.nc = nc;
      seenNc.delete(nonce); // re-insert: most recently used goes last
      seenNc.set(nonce, seen);
    } else {
      if (nonceCheck.issuedAt <= staleFloor) return refuse('Digest nonce no longer tracked', true);
      seenNc.set(nonce, { nc, issuedAt: nonceCheck.issuedAt });
      while (seenNc.size > cacheSize) {
        const [oldest, entry] = seenNc.entries().next().value as [string, { nc: number; issuedAt: number }];
        seenNc.delete(oldest);
        staleFloor = Math.max(staleFloor, entry.issuedAt);
      }
    }
    return { ok: true, user };
  }

  return {
    check(method, uri, authorization) {
      try {
        if (authorization === undefined || authorization.trim() === '') return refuse('no credentials');
        if (authorization.length > MAX_AUTHORIZATION_LENGTH) return refuse('Authorization header too long');
        const trimmed = authorization.trim();
        const space = trimmed.search(/[ \t]/);
        const scheme = (space < 0 ? trimmed : trimmed.slice(0, space)).toLowerCase();
        if (cfg.scheme === 'basic') {
          if (scheme !== 'basic' || space < 0) return refuse(`expected Basic credentials, got ${JSON.stringify(scheme.slice(0, 16))}`);
          return checkBasic(trimmed.slice(space + 1).trim());
        }
        if (scheme !== 'digest') return refuse(`expected Digest credentials, got ${JSON.stringify(scheme.slice(0, 16))}`);
        const parsed = parseAuthParams(trimmed);
        if (!parsed) return refuse('malformed Digest credentials');
        return checkDigest(method, uri, parsed.params);
      } catch (err) {
        // defensive: nothing above should throw, but a refusal is always the safe answer
        return refuse(`credentials rejected (${err instanceof Error ? err.message : String(err)})`);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Client side

/** Carried between requests to the same server so Digest `nc` counts up for a reused nonce. */
export interface DigestClientState {
  nonce?: string;
  nc: number;
  /** for tests: a fixed client nonce instead of a random one */
  cnonce?: string;
}

export function createDigestClientState(): DigestClientState {
  return { nc: 0 };
}

/** Ranks WWW-Authenticate values we can answer: SHA-256 Digest, then MD5 Digest, then Basic. */
export function pickChallenge(values: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestRank = 0;
  for (const v of values) {
    const parsed = parseAuthParams(v.trim());
    if (!parsed) continue;
    const scheme = parsed.scheme.toLowerCase();
    let rank = 0;
    if (scheme === 'basic') rank = 1;
    else if (scheme === 'digest') {
      const alg = (parsed.params.get('algorithm') ?? 'MD5').toUpperCase();
      if (alg === 'SHA-256' || alg === 'SHA-256-SESS') rank = 3;
      else if (alg === 'MD5' || alg === 'MD5-SESS') rank = 2;
    }
    if (rank > bestRank) {
      best = v;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * The Authorization header value answering one WWW-Authenticate challenge.
 * Throws MssError('unsupported') for schemes/algorithms we do not speak, ('malformed') for a bad challenge.
 */
export function authorizationHeader(
  challenge: string,
  user: string,
  password: string,
  method: string,
  uri: string,
  state: DigestClientState = createDigestClientState(),
): string {
  const trimmed = challenge.trim();
  const scheme = trimmed.split(/[ \t]/, 1)[0]!.toLowerCase();
  if (scheme === 'basic') {
    return 'Basic ' + Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
  }
  if (scheme !== 'digest') throw new MssError('unsupported', `authentication scheme ${JSON.stringify(scheme.slice(0, 32))} is not supported`, { challenge: trimmed.slice(0, 200) });
  const parsed = parseAuthParams(trimmed);
  if (!parsed) throw new MssError('malformed', 'malformed Digest challenge', { challenge: trimmed.slice(0, 200) });
  const p = parsed.params;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined) throw new MssError('malformed', 'Digest challenge lacks realm or nonce', { challenge: trimmed.slice(0, 200) });
  const algorithmName = p.get('algorithm') ?? 'MD5';
  const algorithm = DIGEST_ALGORITHMS.find((a) => a.toLowerCase() === algorithmName.toLowerCase());
  if (!algorithm) throw new MssError('unsupported', `Digest algorithm ${JSON.stringify(algorithmName.slice(0, 32))} is not supported`);
  const qopOffered = p.get('qop');
  let qop: 'auth' | undefined;
  if (qopOffered !== undefined) {
    const options = qopOffered.split(',').map((s) => s.trim().toLowerCase());
    if (!options.includes('auth')) throw new MssError('unsupported', `Digest qop ${JSON.stringify(qopOffered.slice(0, 32))} is not supported (only auth)`);
    qop = 'auth';
  }
  if (state.nonce === nonce) state.nc += 1;
  else {
    state.nonce = nonce;
    state.nc = 1;
  }
  const nc = state.nc.toString(16).padStart(8, '0');
  const cnonce = state.cnonce ?? randomBytes(12).toString('hex');
  const response = digestResponse({ algorithm, user, realm, password, method, uri, nonce, nc, cnonce, qop });
  const parts = [`username=${quote(user)}`, `realm=${quote(realm)}`, `nonce=${quote(nonce)}`, `uri=${quote(uri)}`, `algorithm=${algorithm}`, `response=${quote(response)}`];
  const opaque = p.get('opaque');
  if (opaque !== undefined) parts.push(`opaque=${quote(opaque)}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  return 'Digest ' + parts.join(', ');
}
