/**
 * IP allow/deny lists for publishing points. Every address lives in one 128-bit space: an IPv4 address
 * a.b.c.d is the IPv4-mapped IPv6 address ::ffff:a.b.c.d and an IPv4 /n block is a /(96+n) block there,
 * so `10.0.0.0/8` also matches a socket that reports `::ffff:10.1.2.3`, and vice versa.
 *
 * Rules: deny wins; an empty allow list allows everyone; an address that cannot be parsed is refused.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { AccessConfig } from '../config/sections/server.js';
import type { ConfigIssue } from '../config/schema.js';
import { MssError } from '../core/errors.js';

export interface AccessList {
  allows(address: string): boolean;
}

/** 128-bit address as four 32-bit words, most significant first. */
type Words = [number, number, number, number];

interface Block {
  entry: string;
  base: Words;
  mask: Words;
}

function parseIPv4(text: string): Words | undefined {
  if (!isIPv4(text)) return undefined;
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return [0, 0, 0xffff, ((a << 24) | (b << 16) | (c << 8) | d) >>> 0];
}

function parseIPv6(text: string): Words | undefined {
  if (!isIPv6(text)) return undefined;
  let groups: number[] = [];
  let tail = text;
  // an embedded dotted IPv4 tail counts as two groups
  const lastColon = tail.lastIndexOf(':');
  const maybeV4 = tail.slice(lastColon + 1);
  const v4 = maybeV4.includes('.') ? parseIPv4(maybeV4) : undefined;
  if (maybeV4.includes('.')) {
    if (!v4) return undefined;
    tail = tail.slice(0, lastColon + 1) + '0:0';
  }
  const halves = tail.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = toGroups(halves[0]!);
  const rest = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (halves.length === 2) groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  else groups = head;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  const words: Words = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  if (v4) words[3] = v4[3];
  return words;
}

/** Parses an address as a socket reports it (IPv4, IPv6, IPv4-mapped, with or without a %zone). */
export function parseAddress(address: string): Words | undefined {
  if (address.length > 64) return undefined;
  const zone = address.indexOf('%');
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  const unbracketed = bare.startsWith('[') && bare.endsWith(']') ? bare.slice(1, -1) : bare;
  return parseIPv4(unbracketed) ?? parseIPv6(unbracketed);
}

function maskOf(prefix: number): Words {
  const m: Words = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    m[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
  return m;
}

/** Parses one allow/deny entry, or returns why it is not one. */
export function parseAccessEntry(entry: string): Block | string {
  if (typeof entry !== 'string') return 'must be a string';
  const text = entry.trim();
  if (text === '') return 'is empty';
  if (text.includes('%')) return 'must not carry an IPv6 zone (%...)';
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const isV4 = isIPv4(addrText);
  const base = isV4 ? parseIPv4(addrText) : parseIPv6(addrText);
  if (!base) return slash >= 0 ? `address part ${JSON.stringify(addrText)} is not an IPv4 or IPv6 address` : 'is not an IPv4 or IPv6 address';
  let prefix = 128;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    const max = isV4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `prefix length ${JSON.stringify(p)} must be a whole number 0..${max}`;
    prefix = (isV4 ? 96 : 0) + Number(p);
  }
  const mask = maskOf(prefix);
  if (base.some((w, i) => (w & ~mask[i]!) >>> 0 !== 0)) {
    return `has host bits set outside its /${text.slice(slash + 1)} prefix (write the network address)`;
  }
  return { entry: text, base, mask };
}

/** Config validation: one issue per bad entry, named by its path (e.g. `server.publishingPoints[0].access.allow[2]`). */
export function validateAccessEntries(list: readonly unknown[], path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  list.forEach((entry, i) => {
    const parsed = parseAccessEntry(entry as string);
    if (typeof parsed === 'string') issues.push({ path: `${path}[${i}]`, message: `${JSON.stringify(entry)} ${parsed}` });
  });
  return issues;
}

function matches(block: Block, a: Words): boolean {
  for (let i = 0; i < 4; i++) if (((a[i]! & block.mask[i]!) >>> 0) !== block.base[i]) return false;
  return true;
}

export function createAccessList(cfg: AccessConfig): AccessList {
  const issues = [...validateAccessEntries(cfg.allow, 'allow'), ...validateAccessEntries(cfg.deny, 'deny')];
  if (issues.length > 0) {
    throw new MssError('invalid-config', `invalid access list entry: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { errors: issues });
  }
  const allow = cfg.allow.map((e) => parseAccessEntry(e) as Block);
  const deny = cfg.deny.map((e) => parseAccessEntry(e) as Block);
  if (allow.length === 0 && deny.length === 0) return { allows: () => true };
  return {
    allows(address: string): boolean {
      const a = parseAddress(address);
      if (!a) return false;
      if (deny.some((b) => matches(b, a))) return false;
      return allow.length === 0 || allow.some((b) => matches(b, a));
    },
  };
}
