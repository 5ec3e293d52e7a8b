/**
 * The one place secrets are taken out of what the device shows or sends: settings the schema flags `secret`, and
 * the password (or bare token) in the user-info of any URL, wherever it appears (a setting, a log field, an error
 * message, a status document). `restoreRedacted` is the way back: a redacted document the operator sends back
 * keeps the running secrets.
 */
import type { Schema } from './schema.js';

export const REDACTED = '***';

// scheme://userinfo@ — the user-info stops at the first character that cannot be in it (/ ? # @, quotes, spaces),
// so an @ later in a path is left alone and the pattern works inside JSON text as well as plain text
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#@"'<>\\]+)@/gi;

function hideUserInfo(_m: string, scheme: string, info: string): string {
  const colon = info.indexOf(':');
  return colon < 0 ? `${scheme}${REDACTED}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
}

/** `http://user:pw@host/` → `http://user:***@host/`; `mqtt://token@host` → `mqtt://***@host`. */
export function redactUrl(url: string): string {
  return redactText(url);
}

/** Every URL user-info inside a piece of text (an error message, a log field, a JSON document). */
export function redactText(text: string): string {
  return text.includes('@') ? text.replace(URL_USERINFO, hideUserInfo) : text;
}

const MAX_DEPTH = 32;

/** A copy of any value with redactText applied to every string in it (status documents, log records). */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1)) as T;
  if (Buffer.isBuffer(value) || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v, depth + 1);
  return out as T;
}

function redactLeaf(schema: Schema, value: string): string {
  if (schema.kind === 'string' && schema.secret) return value === '' ? '' : REDACTED;
  return redactText(value);
}

function unionFields(schema: Extract<Schema, { kind: 'union' }>, value: unknown): Record<string, Schema> | undefined {
  const tag = value && typeof value === 'object' ? (value as Record<string, unknown>)[schema.key] : undefined;
  return typeof tag === 'string' ? schema.variants[tag] : undefined;
}

/** A copy of a config value safe to print or publish: `secret` settings replaced, URL passwords hidden. */
export function redactBySchema(schema: Schema | undefined, value: unknown): unknown {
  if (typeof value === 'string') return schema ? redactLeaf(schema, value) : redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactBySchema(schema?.kind === 'array' ? schema.items : undefined, v));
  const fields = schema?.kind === 'object' ? schema.fields : schema?.kind === 'union' ? unionFields(schema, value) : undefined;
  if (!fields) return redactDeep(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactBySchema(fields[k], v);
  return out;
}

/** The running item an item of a desired list stands for: the same `name` when items have names, else the same index. */
function counterpart(running: unknown[], item: unknown, index: number): unknown {
  const name = item && typeof item === 'object' ? (item as Record<string, unknown>).name : undefined;
  if (typeof name === 'string') return running.find((r) => r && typeof r === 'object' && (r as Record<string, unknown>).name === name);
  return running[index];
}

/**
 * The desired document with every value that is exactly what redaction made of the running value put back to the
 * running value ("***" for a secret, `user:***@` in a URL). Anything else the operator wrote is kept as written.
 */
export function restoreRedacted(schema: Schema | undefined, desired: unknown, running: unknown): unknown {
  if (typeof desired === 'string') {
    if (typeof running === 'string' && desired !== running && schema && redactLeaf(schema, running) === desired) return running;
    return desired;
  }
  if (desired === null || typeof desired !== 'object') return desired;
  if (Array.isArray(desired)) {
    const runningList = Array.isArray(running) ? running : [];
    const items = schema?.kind === 'array' ? schema.items : undefined;
    return desired.map((d, i) => restoreRedacted(items, d, counterpart(runningList, d, i)));
  }
  const fields = schema?.kind === 'object' ? schema.fields : schema?.kind === 'union' ? unionFields(schema, desired) : undefined;
  const was = running && typeof running === 'object' && !Array.isArray(running) ? (running as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(desired as Record<string, unknown>)) out[k] = fields ? restoreRedacted(fields[k], v, was[k]) : v;
  return out;
}
