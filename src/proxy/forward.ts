/**
 * The forward proxy's gate: which absolute request URIs (`GET http://origin:8080/vod/a.wmv`, from players
 * configured with this box as their HTTP proxy) it fetches. Only http:// URIs already in their normal form, to an
 * origin on the allow-list (host:port, exactly as written there), without user-info. Anything a URL parser would
 * rewrite (odd IP spellings, percent-encoded hosts, leading-zero ports, dot segments, backslashes) is refused
 * rather than normalized, so what is checked is what is fetched. Pure: returns the URL or throws MssError.
 */
import { MssError } from '../core/errors.js';

const MAX_URI = 2048;

/** true for request targets that are absolute URIs (the forward proxy's), not paths */
export function isAbsoluteRequestUri(target: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target);
}

function refuse(message: string, detail: Record<string, unknown> = {}): never {
  throw new MssError('forbidden', `forward proxy: ${message}`, detail);
}

/**
 * The origin URL for an absolute request URI, with its port explicit. `allow` holds `host:port` entries in
 * lower case (see normalizeAllowList).
 */
export function forwardOriginUrl(requestUri: string, allow: ReadonlySet<string>): string {
  if (requestUri.length > MAX_URI) refuse(`request URI is ${requestUri.length} characters, limit ${MAX_URI}`);
  // printable ASCII only: no spaces, controls, backslashes or 8-bit bytes for a parser to reinterpret
  if (!/^[\x21-\x7e]*$/.test(requestUri) || requestUri.includes('\\')) refuse('the request URI has characters a URI cannot have');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(requestUri);
  if (!scheme) refuse('not an absolute URI');
  if (scheme[1]!.toLowerCase() !== 'http') refuse(`only http:// URIs are proxied, not ${scheme[1]!.toLowerCase()}://`);
  if (requestUri.includes('#')) refuse('a fragment has no place in a request URI');
  const afterScheme = requestUri.slice(scheme[0].length);
  const slash = afterScheme.search(/[/?]/);
  const authority = slash < 0 ? afterScheme : afterScheme.slice(0, slash);
  const rest = slash < 0 ? '/' : afterScheme.slice(slash);
  if (authority.includes('@')) refuse('user-info in the URI is refused (accounts for origins are in proxy.credentials)');
  if (authority === '') refuse('the URI names no host');
  let url: URL;
  try {
    url = new URL(requestUri);
  } catch {
    refuse('the URI does not parse');
  }
  if (url.username || url.password) refuse('user-info in the URI is refused (accounts for origins are in proxy.credentials)');
  // the authority as written must be the parser's: no 0x7f.1, %31..., :080, or uppercase-only tricks left over
  const written = authority.toLowerCase().replace(/:80$/, url.port === '' ? '' : ':80');
  if (written !== url.host) refuse(`the host ${JSON.stringify(authority.slice(0, 100))} is not in normal form (${url.host})`);
  if (rest.startsWith('?')) refuse('the URI has no path');
  const pathAndQuery = url.pathname + url.search;
  if (rest !== pathAndQuery) refuse('the path is not in normal form (dot segments or encodings a parser would change)');
  if (/%2e|%2f|%5c|%00/i.test(url.pathname)) refuse('encoded dots, slashes or NUL in the path are refused');
  const port = url.port || '80';
  const key = `${url.hostname}:${port}`;
  if (!allow.has(key)) refuse(`origin ${key} is not in proxy.forward.allow`, { origin: key });
  return `http://${url.hostname}:${port}${pathAndQuery}`;
}

/** allow-list entries as forwardOriginUrl compares them */
export function normalizeAllowList(entries: readonly string[]): Set<string> {
  return new Set(entries.map((e) => e.trim().toLowerCase()));
}
