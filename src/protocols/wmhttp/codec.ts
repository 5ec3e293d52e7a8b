/**
 * MS-WMHTTP (encoder push) pure codec: request classification, PushSetup directives, the push-id cookie, and the
 * `$H/$D/$C/$E/$F` framing of a PushStart body (built and parsed incrementally). No I/O.
 *
 * Framing: 4-byte header `0x24, PacketID, PacketLength u16 LE` (PacketLength = bytes after it), B bit never set.
 * The spec form carries the ASF header / ASF packet right after the framing header; some senders add WMSP's
 * 8-byte MMS data header first. The parser detects that per session on the first `$H` (see wmhttp.md §4.1).
 */
import { randomBytes } from 'node:crypto';
import { MssError } from '../../core/errors.js';

export const PUSH_SETUP_CONTENT_TYPE = 'application/x-wms-pushsetup';
export const PUSH_START_CONTENT_TYPE = 'application/x-wms-pushstart';
/** What encoders send as PushStart Content-Length when the duration is unknown (§3.1.1). */
export const PUSH_START_UNBOUNDED_LENGTH = 2147483647;
/** Largest ASF header one `$H` can carry (65535 − 4). */
export const MAX_PUSH_HEADER = 65531;
/** Largest ASF header one `$C` can carry (65535 − 4 − 4). */
export const MAX_PUSH_CHANGE_HEADER = 65527;
/** Longest PushSetup body we read: directives are a few short lines. */
export const MAX_PUSH_SETUP_BODY = 4096;
const MAX_PUSH_ID = 255;
const FRAME_HEAD = 4;
const MMS_DATA_HEAD = 8;

const ASF_HEADER_GUID = Buffer.from([0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c]);

export type PushRequestKind = 'push-setup' | 'push-start';

/** A POST with one of the two push Content-Types is a push request; anything else is not ours. */
export function classifyPushRequest(method: string | undefined, contentType: string | undefined): PushRequestKind | null {
  if ((method ?? '').toUpperCase() !== 'POST' || !contentType) return null;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (type === PUSH_SETUP_CONTENT_TYPE) return 'push-setup';
  if (type === PUSH_START_CONTENT_TYPE) return 'push-start';
  return null;
}

/** Encoders identify as `WMEncoder/<major>.<minor>…` (§2.2.1.8); our own client sends the same token. */
export function isEncoderUserAgent(ua: string | undefined): boolean {
  return /^WMEncoder\/\d+\.\d+/i.test(ua ?? '');
}

export interface PushSetupDirectives {
  /** path of an existing publishing point to copy when the target does not exist */
  templateUrl?: string;
  autoDestroy: boolean;
}

/** Parses a PushSetup body: `Name: value` lines, unknown names ignored, values bounded (§2.2.2.1). */
export function parsePushSetupBody(body: Buffer | string): PushSetupDirectives {
  const text = typeof body === 'string' ? body : body.toString('latin1');
  if (text.length > MAX_PUSH_SETUP_BODY) {
    throw new MssError('too-large', `PushSetup body is ${text.length} bytes, limit ${MAX_PUSH_SETUP_BODY}`, { object: 'PushSetup' });
  }
  const out: PushSetupDirectives = { autoDestroy: false };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line === '\0') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MssError('malformed', `PushSetup body line ${i + 1}: expected "Name: value", got ${JSON.stringify(line.slice(0, 80))}`, { object: 'PushSetup', line: i + 1 });
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'autodestroy') {
      if (value !== '0' && value !== '1') throw new MssError('malformed', `PushSetup AutoDestroy must be 0 or 1, got ${JSON.stringify(value.slice(0, 40))}`, { object: 'PushSetup', line: i + 1 });
      out.autoDestroy = value === '1';
    } else if (name === 'template-url') {
      const unquoted = value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
      if (unquoted === '' || /[\x00-\x1f\x7f-\xff]/.test(unquoted)) {
        throw new MssError('malformed', `PushSetup Template-URL must be a non-empty ASCII URL, got ${JSON.stringify(unquoted.slice(0, 80))}`, { object: 'PushSetup', line: i + 1 });
      }
      out.templateUrl = unquoted;
    }
  }
  return out;
}

export function buildPushSetupBody(d: PushSetupDirectives): string {
  const lines: string[] = [];
  if (d.templateUrl) lines.push(`Template-URL: "${d.templateUrl}"`);
  lines.push(`AutoDestroy: ${d.autoDestroy ? 1 : 0}`);
  return lines.map((l) => l + '\r\n').join('');
}

/** The publishing point a push URL names: the first path segment, decoded; a template URL may be a full URL. */
export function pointNameFromPath(pathOrUrl: string): string {
  let pathname = pathOrUrl;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl)) {
    try {
      pathname = new URL(pathOrUrl).pathname;
    } catch {
      throw new MssError('malformed', `not a valid URL: ${JSON.stringify(pathOrUrl.slice(0, 120))}`);
    }
  }
  const first = pathname.split('?', 1)[0]!.split('/').filter((s) => s !== '')[0];
  if (!first) throw new MssError('malformed', `URL ${JSON.stringify(pathOrUrl.slice(0, 120))} names no publishing point`);
  try {
    return decodeURIComponent(first);
  } catch {
    throw new MssError('malformed', `publishing point name ${JSON.stringify(first.slice(0, 80))} is not valid percent-encoding`);
  }
}

/** Finds `push-id` in a Cookie header; undefined when absent, "0" means "new session". */
export function parsePushIdCookie(cookie: string | string[] | undefined): string | undefined {
  const values = Array.isArray(cookie) ? cookie : cookie === undefined ? [] : [cookie];
  for (const v of values) {
    for (const part of v.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim().toLowerCase() !== 'push-id') continue;
      const id = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (id.length === 0 || id.length > MAX_PUSH_ID || !/^[A-Za-z0-9]+$/.test(id)) {
        throw new MssError('malformed', `push-id cookie must be 1-${MAX_PUSH_ID} letters or digits, got ${JSON.stringify(id.slice(0, 40))}`, { object: 'Cookie' });
      }
      return id;
    }
  }
  return undefined;
}

/** Same as parsePushIdCookie, for a Set-Cookie response header (client side). */
export function parsePushIdSetCookie(setCookie: string | string[] | undefined): string | undefined {
  const values = Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie];
  for (const v of values) {
    const first = v.split(';', 1)[0]!;
    try {
      const id = parsePushIdCookie(first);
      if (id !== undefined) return id;
    } catch {
      // a malformed Set-Cookie from a server is ignored: we keep the id we have
    }
  }
  return undefined;
}

/** A fresh push-id: 24 random alphanumerics from the CSPRNG, never "0" (§2.2.1.3.1, §5.1). */
export function newPushId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(24);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

// ---------------------------------------------------------------------------------------------------------
// Framing (build)

function frame(id: number, payloadLength: number): Buffer {
  const out = Buffer.alloc(FRAME_HEAD + payloadLength);
  out[0] = 0x24;
  out[1] = id;
  out.writeUInt16LE(payloadLength, 2);
  return out;
}

/** `$H`: the ASF header (Header Object + 50-byte Data Object head), spec form. */
export function framePushHeader(header: Buffer): Buffer {
  if (header.length > MAX_PUSH_HEADER) throw new MssError('too-large', `ASF header of ${header.length} bytes does not fit one $H (limit ${MAX_PUSH_HEADER})`);
  const out = frame(0x48, header.length);
  header.copy(out, FRAME_HEAD);
  return out;
}

/** `$D`: one ASF data packet. */
export function framePushData(packet: Buffer): Buffer {
  if (packet.length > 65535) throw new MssError('too-large', `ASF packet of ${packet.length} bytes does not fit one $D`);
  const out = frame(0x44, packet.length);
  packet.copy(out, FRAME_HEAD);
  return out;
}

/** `$C`: Reason 0 and the new ASF header (push carries the header inside `$C`). */
export function framePushStreamChange(header: Buffer): Buffer {
  if (header.length > MAX_PUSH_CHANGE_HEADER) throw new MssError('too-large', `ASF header of ${header.length} bytes does not fit one $C (limit ${MAX_PUSH_CHANGE_HEADER})`);
  const out = frame(0x43, 4 + header.length);
  header.copy(out, FRAME_HEAD + 4);
  return out;
}

/** `$E`: 0 = stream over, 1 (S_FALSE) = a `$C` with a new header follows, other = error HRESULT. */
export function framePushEnd(reason: number): Buffer {
  const out = frame(0x45, 4);
  out.writeUInt32LE(reason >>> 0, 4);
  return out;
}

/** `$F`: filler whose whole size (framing included) is `totalBytes` (4..65539). */
export function framePushFiller(totalBytes: number): Buffer {
  if (totalBytes < FRAME_HEAD || totalBytes > FRAME_HEAD + 65535) throw new MssError('invalid-argument', `filler of ${totalBytes} bytes is outside 4..${FRAME_HEAD + 65535}`);
  return frame(0x46, totalBytes - FRAME_HEAD);
}

// ---------------------------------------------------------------------------------------------------------
// Framing (parse, incremental)

export type PushBodyEvent =
  | { type: 'header'; header: Buffer }
  | { type: 'data'; packet: Buffer }
  | { type: 'stream-change'; header: Buffer }
  | { type: 'end'; reason: number }
  | { type: 'filler'; bytes: number };

/** Whether `$H`/`$D` payloads carry WMSP's 8-byte MMS data header; decided on the first `$H`. */
export type PushPayloadForm = 'unknown' | 'spec' | 'mms';

export interface PushBodyParserOptions {
  /** largest ASF header accepted in `$H`/`$C` (default 65531, the framing's own limit) */
  maxHeaderBytes?: number;
  /** form already detected on an earlier PushStart of the same session */
  form?: PushPayloadForm;
}

/**
 * Turns PushStart body bytes into events as they arrive. Holds at most one incomplete frame (≤ 65539 bytes).
 * Throws MssError ('malformed' / 'too-large') naming the frame and its byte offset; after a throw the body is
 * out of sync and the connection should be closed.
 */
export class PushBodyParser {
  private buf: Buffer = Buffer.alloc(0);
  private offset = 0;
  private form: PushPayloadForm;
  private readonly maxHeader: number;
  /** body bytes consumed so far (complete frames) */
  consumed = 0;

  constructor(opts: PushBodyParserOptions = {}) {
    this.maxHeader = Math.min(opts.maxHeaderBytes ?? MAX_PUSH_HEADER, MAX_PUSH_HEADER);
    this.form = opts.form ?? 'unknown';
  }

  get payloadForm(): PushPayloadForm {
    return this.form;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): PushBodyEvent[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const events: PushBodyEvent[] = [];
    let pos = 0;
    while (this.buf.length - pos >= FRAME_HEAD) {
      const at = this.offset;
      const b0 = this.buf[pos]!;
      const id = this.buf[pos + 1]!;
      if (b0 !== 0x24) this.fail(`expected a frame start 0x24, found 0x${b0.toString(16).padStart(2, '0')}`, at);
      const len = this.buf.readUInt16LE(pos + 2);
      if (this.buf.length - pos < FRAME_HEAD + len) break;
      const payload = this.buf.subarray(pos + FRAME_HEAD, pos + FRAME_HEAD + len);
      events.push(this.decode(id, payload, at));
      pos += FRAME_HEAD + len;
      this.offset += FRAME_HEAD + len;
      this.consumed += FRAME_HEAD + len;
    }
    this.buf = pos === 0 ? this.buf : Buffer.from(this.buf.subarray(pos));
    return events;
  }

  private fail(message: string, at: number, code: 'malformed' | 'too-large' = 'malformed'): never {
    throw new MssError(code, `push body at byte ${at}: ${message}`, { object: 'PushStart body', offset: at });
  }

  private decode(id: number, payload: Buffer, at: number): PushBodyEvent {
    switch (id) {
      case 0x48: // $H
        return { type: 'header', header: this.headerPayload(payload, at, '$H') };
      case 0x44: {
        // $D
        if (this.form === 'unknown') this.form = this.looksLikeMmsData(payload) ? 'mms' : 'spec';
        const packet = this.form === 'mms' ? this.stripMms(payload, at, '$D') : payload;
        if (packet.length === 0) this.fail('$D frame carries no ASF packet', at);
        return { type: 'data', packet: Buffer.from(packet) };
      }
      case 0x43: {
        // $C
        if (payload.length < 4) this.fail(`$C frame length ${payload.length} is shorter than its 4-byte Reason`, at);
        const reason = payload.readUInt32LE(0);
        if (reason !== 0) this.fail(`$C Reason must be 0, got 0x${reason.toString(16)}`, at);
        return { type: 'stream-change', header: this.headerPayload(payload.subarray(4), at, '$C') };
      }
      case 0x45: // $E
        if (payload.length !== 4) this.fail(`$E frame length must be 4, got ${payload.length}`, at);
        return { type: 'end', reason: payload.readUInt32LE(0) };
      case 0x46: // $F
        return { type: 'filler', bytes: FRAME_HEAD + payload.length };
      default:
        return this.fail(`unknown packet id 0x${id.toString(16).padStart(2, '0')} (expected H, D, C, E or F)`, at);
    }
  }

  private headerPayload(payload: Buffer, at: number, what: string): Buffer {
    let header = payload;
    if (payload.length >= 16 && payload.subarray(0, 16).equals(ASF_HEADER_GUID)) {
      if (this.form === 'unknown') this.form = 'spec';
    } else if (payload.length >= MMS_DATA_HEAD + 16 && payload.subarray(MMS_DATA_HEAD, MMS_DATA_HEAD + 16).equals(ASF_HEADER_GUID)) {
      if (this.form === 'unknown') this.form = 'mms';
      header = payload.subarray(MMS_DATA_HEAD);
    } else {
      this.fail(`${what} payload is not an ASF header (no Header Object GUID)`, at);
    }
    if (header.length < 30) this.fail(`${what} ASF header of ${header.length} bytes is shorter than a Header Object`, at);
    const declared = header.readBigUInt64LE(16);
    if (declared > BigInt(this.maxHeader)) this.fail(`${what} Header Object size ${declared} exceeds the ${this.maxHeader}-byte limit`, at, 'too-large');
    if (declared > BigInt(header.length)) {
      this.fail(`${what} Header Object size ${declared} is larger than the ${header.length} bytes the frame carries (headers are not fragmented in push)`, at, 'too-large');
    }
    return Buffer.from(header);
  }

  private looksLikeMmsData(payload: Buffer): boolean {
    if (payload.length < MMS_DATA_HEAD + 1) return false;
    // spec form starts with an ASF packet: error-correction byte 0x82 in every packet ffmpeg and WME write
    if (payload[0] === 0x82) return false;
    return payload.readUInt16LE(6) === payload.length;
  }

  private stripMms(payload: Buffer, at: number, what: string): Buffer {
    if (payload.length < MMS_DATA_HEAD) this.fail(`${what} frame length ${payload.length} is shorter than its 8-byte MMS data header`, at);
    return payload.subarray(MMS_DATA_HEAD);
  }
}
