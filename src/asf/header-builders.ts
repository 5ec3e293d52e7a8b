/**
 * Builders for header objects a server or encoder adds or replaces (Content Description, Script
 * Command), and `upsertHeaderObject` to put an
 * object into an existing Header Object (size and count fields follow).
 */
import { MssError } from '../core/errors.js';
import { ASF_GUID_BYTES, guidEquals, guidToBytes } from './guid.js';
import { parseHeaderObject, serializeHeaderObject, type AsfObject } from './header.js';
import type { AsfContentDescription, AsfScriptCommand } from './header-objects.js';

function object(guid: Buffer, body: Buffer): Buffer {
  const head = Buffer.alloc(24);
  guid.copy(head, 0);
  head.writeBigUInt64LE(BigInt(24 + body.length), 16);
  return Buffer.concat([head, body]);
}

function wstr(s: string): Buffer {
  return s.length ? Buffer.from(s + '\0', 'utf16le') : Buffer.alloc(0);
}

function u16(v: number, what: string): Buffer {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new MssError('invalid-argument', `${what} ${v} does not fit in 16 bits`);
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

export function buildContentDescriptionObject(cd: Partial<AsfContentDescription>): Buffer {
  const fields = [cd.title ?? '', cd.author ?? '', cd.copyright ?? '', cd.description ?? '', cd.rating ?? ''].map(wstr);
  return object(ASF_GUID_BYTES.ContentDescription, Buffer.concat([...fields.map((f, i) => u16(f.length, `Content Description field ${i} length`)), ...fields]));
}

/** Script Command object (e.g. WMSP's FILENAME redirect for old clients). */
export function buildScriptCommandObject(commands: AsfScriptCommand[]): Buffer {
  const types = [...new Set(commands.map((c) => c.type))];
  const parts: Buffer[] = [ASF_GUID_BYTES.ScriptCommandReserved, u16(commands.length, 'Commands Count'), u16(types.length, 'Command Types Count')];
  for (const t of types) parts.push(u16(t.length + 1, 'Command Type Name Length'), wstr(t));
  for (const c of commands) {
    const time = Buffer.alloc(4);
    time.writeUInt32LE(c.presentationTime >>> 0);
    parts.push(time, u16(types.indexOf(c.type), 'Type Index'), u16(c.name.length ? c.name.length + 1 : 0, 'Command Name Length'), wstr(c.name));
  }
  return object(ASF_GUID_BYTES.ScriptCommand, Buffer.concat(parts));
}

/**
 * Returns a Header Object with `objectBytes` replacing the first top-level object of the same GUID,
 * or appended when there is none. Accepts a bare Header Object or a `$H` payload (the Data Object
 * head that follows is kept).
 */
export function upsertHeaderObject(headerObject: Buffer, objectBytes: Buffer): Buffer {
  if (objectBytes.length < 24 || objectBytes.readBigUInt64LE(16) !== BigInt(objectBytes.length)) {
    throw new MssError('invalid-argument', `object to insert must be a whole object (24-byte head, size = ${objectBytes.length})`);
  }
  const h = parseHeaderObject(headerObject);
  const guid = objectBytes.subarray(0, 16);
  const replacement: AsfObject = { guid: '', name: 'inserted', offset: 0, size: objectBytes.length, raw: objectBytes };
  const i = h.objects.findIndex((o) => guidEquals(o.raw, 0, guid));
  if (i >= 0) h.objects[i] = replacement;
  else h.objects.push(replacement);
  const out = serializeHeaderObject(h);
  const rest = headerObject.subarray(h.raw.length);
  return rest.length ? Buffer.concat([out, rest]) : out;
}

/** Returns a Header Object without top-level objects of the given GUID (text). */
export function removeHeaderObjects(headerObject: Buffer, guid: string): Buffer {
  const h = parseHeaderObject(headerObject);
  const g = guidToBytes(guid);
  h.objects = h.objects.filter((o) => !guidEquals(o.raw, 0, g));
  const out = serializeHeaderObject(h);
  const rest = headerObject.subarray(h.raw.length);
  return rest.length ? Buffer.concat([out, rest]) : out;
}

