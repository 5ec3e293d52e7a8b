/**
 * A small declarative schema: one definition gives the defaults, the validation (every error collected and
 * named by its path, nothing coerced) and the documentation table. Env overrides are derived from it too.
 */
import { redactText } from './redact.js';

export type Schema =
  | { kind: 'int'; doc: string; default?: number; min?: number; max?: number; optional?: boolean }
  | { kind: 'number'; doc: string; default?: number; min?: number; max?: number; optional?: boolean }
  | {
      kind: 'string';
      doc: string;
      default?: string;
      pattern?: RegExp;
      maxLength?: number;
      optional?: boolean;
      /** never shown: redacted in prints, reports and messages */
      secret?: boolean;
      /** a check the pattern cannot express (e.g. an address block): what is wrong, or undefined */
      check?: (value: string) => string | undefined;
      /**
       * set only in the device's own config (file, environment), never by a remote config: a setting that names a
       * program the device runs, or where its state lives (an object path, not inside lists)
       */
      localOnly?: boolean;
    }
  | { kind: 'bool'; doc: string; default?: boolean; optional?: boolean }
  | { kind: 'enum'; doc: string; values: readonly string[]; default?: string; optional?: boolean }
  | {
      kind: 'array';
      doc: string;
      items: Schema;
      default?: unknown[];
      maxItems?: number;
      optional?: boolean;
      /** a field of the (object) items that must differ between items, e.g. a publishing point's name */
      unique?: string;
    }
  | { kind: 'object'; doc: string; fields: Record<string, Schema>; optional?: boolean }
  /** an object whose shape is chosen by the string field `key` (e.g. type: "ondemand" | "broadcast") */
  | { kind: 'union'; doc: string; key: string; variants: Record<string, Record<string, Schema>>; optional?: boolean };

export interface ConfigIssue {
  path: string;
  message: string;
}

const MAX_STRING = 4096;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** Validates `value` against `schema`, filling defaults. Returns the normalized value and every issue found. */
export function validate(schema: Schema, value: unknown, path = ''): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const out = check(schema, value, path, issues);
  return { value: out, issues };
}

function check(schema: Schema, value: unknown, path: string, issues: ConfigIssue[]): unknown {
  if (value === undefined) {
    if ('default' in schema && schema.default !== undefined) return structuredClone(schema.default);
    if (schema.kind === 'object') return checkObject(schema.fields, {}, path, issues);
    if (schema.optional) return undefined;
    issues.push({ path, message: 'is required' });
    return undefined;
  }
  switch (schema.kind) {
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        issues.push({ path, message: `must be a number, got ${describe(value)}` });
        return value;
      }
      if (schema.kind === 'int' && !Number.isInteger(value)) issues.push({ path, message: `must be a whole number, got ${value}` });
      if (schema.min !== undefined && value < schema.min) issues.push({ path, message: `must be >= ${schema.min}, got ${value}` });
      if (schema.max !== undefined && value > schema.max) issues.push({ path, message: `must be <= ${schema.max}, got ${value}` });
      return value;
    }
    case 'string': {
      if (typeof value !== 'string') {
        issues.push({ path, message: `must be a string, got ${describe(value)}` });
        return value;
      }
      const max = schema.maxLength ?? MAX_STRING;
      if (value.length > max) issues.push({ path, message: `must be at most ${max} characters, got ${value.length}` });
      else if (schema.pattern && !schema.pattern.test(value)) {
        // the message is shown and published: never quote a secret, never a URL's password
        issues.push({ path, message: `must match ${schema.pattern}${schema.secret ? '' : `, got ${redactText(JSON.stringify(value))}`}` });
      } else if (schema.check) {
        const problem = schema.check(value);
        if (problem) issues.push({ path, message: schema.secret ? problem : `${redactText(JSON.stringify(value))} ${problem}` });
      }
      return value;
    }
    case 'bool':
      if (typeof value !== 'boolean') issues.push({ path, message: `must be true or false, got ${describe(value)}` });
      return value;
    case 'enum':
      if (typeof value !== 'string' || !schema.values.includes(value)) {
        issues.push({ path, message: `must be one of ${schema.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}` });
      }
      return value;
    case 'array': {
      if (!Array.isArray(value)) {
        issues.push({ path, message: `must be an array, got ${describe(value)}` });
        return value;
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        issues.push({ path, message: `must have at most ${schema.maxItems} items, got ${value.length}` });
        return value;
      }
      const out = value.map((item, i) => check(schema.items, item, join(path, i), issues));
      if (schema.unique) checkUnique(schema.unique, value, path, issues);
      return out;
    }
    case 'object':
      return checkObject(schema.fields, value, path, issues);
    case 'union': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        issues.push({ path, message: `must be an object, got ${describe(value)}` });
        return value;
      }
      const tag = (value as Record<string, unknown>)[schema.key];
      const variant = typeof tag === 'string' ? schema.variants[tag] : undefined;
      if (!variant) {
        issues.push({
          path: join(path, schema.key),
          message: `must be one of ${Object.keys(schema.variants).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(tag)}`,
        });
        return value;
      }
      const tagSchema: Schema = { kind: 'enum', doc: '', values: [tag as string] };
      return checkObject({ [schema.key]: tagSchema, ...variant }, value, path, issues);
    }
  }
}

function checkUnique(key: string, items: unknown[], path: string, issues: ConfigIssue[]): void {
  const first = new Map<unknown, number>();
  items.forEach((item, i) => {
    const v = item && typeof item === 'object' ? (item as Record<string, unknown>)[key] : undefined;
    if (v === undefined) return;
    const seen = first.get(v);
    if (seen === undefined) first.set(v, i);
    else issues.push({ path: join(join(path, i), key), message: `${JSON.stringify(v)} is already used by ${join(path, seen)}` });
  });
}

function checkObject(fields: Record<string, Schema>, value: unknown, path: string, issues: ConfigIssue[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path, message: `must be an object, got ${describe(value)}` });
    return value;
  }
  const input = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!(key in fields)) issues.push({ path: join(path, key), message: 'is not a known setting' });
  }
  for (const [key, sub] of Object.entries(fields)) {
    const v = check(sub, input[key], join(path, key), issues);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Every scalar leaf reachable through objects only (not arrays/unions): the settings the environment can override. */
export function scalarLeaves(schema: Schema, path: string[] = []): Array<{ path: string[]; schema: Schema }> {
  if (schema.kind === 'object') {
    return Object.entries(schema.fields).flatMap(([k, s]) => scalarLeaves(s, [...path, k]));
  }
  if (schema.kind === 'array' || schema.kind === 'union') return [];
  return [{ path, schema }];
}

/** The paths of the settings flagged localOnly (reached through objects only). */
export function localOnlyPaths(schema: Schema): string[][] {
  return scalarLeaves(schema)
    .filter((l) => l.schema.kind === 'string' && l.schema.localOnly)
    .map((l) => l.path);
}

/** `http.maxHeaderBytes` -> `MSS_HTTP_MAX_HEADER_BYTES` */
export function envNameFor(path: string[]): string {
  return 'MSS_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Markdown table of every documented setting (README and `mss config --doc`). */
export function documentSchema(schema: Schema, path = ''): string[] {
  const rows: string[] = [];
  const walk = (s: Schema, p: string) => {
    if (s.kind === 'object') {
      for (const [k, sub] of Object.entries(s.fields)) walk(sub, join(p, k));
      return;
    }
    if (s.kind === 'array' && (s.items.kind === 'object' || s.items.kind === 'union')) {
      rows.push(`| \`${p}\` | list | ${s.doc} |`);
      walk(s.items, `${p}[]`);
      return;
    }
    if (s.kind === 'union') {
      for (const [tag, fields] of Object.entries(s.variants)) {
        for (const [k, sub] of Object.entries(fields)) walk(sub, `${p}.${k} (${s.key}=${tag})`);
      }
      return;
    }
    const def = 'default' in s && s.default !== undefined ? JSON.stringify(s.default) : s.optional ? '(unset)' : '(required)';
    const kind = s.kind === 'enum' ? s.values.join(' \\| ') : s.kind === 'array' ? `list of ${s.items.kind}` : s.kind;
    const local = s.kind === 'string' && s.localOnly ? ' (local only: refused in a remote config)' : '';
    rows.push(`| \`${p}\` | ${kind}, default ${def} | ${s.doc}${local} |`);
  };
  walk(schema, path);
  return rows;
}
