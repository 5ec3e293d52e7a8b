/**
 * Message bodies of the Windows Media RTSP requests (MS-RTSP §2.2.7): the EndOfStream notice the server sends,
 * SelectStream entries (SETUP/TEARDOWN/SET_PARAMETER with application/x-wms-streamswitch), and the UdpPacketPair
 * request. Pure and bounded; errors are MssError('malformed') with the RTSP status in detail.status.
 */
import { MssError } from '../../core/errors.js';

export const NO_STREAM = 4294967295;
const MAX_BODY_LINES = 128;

function bad(what: string, message: string): MssError {
  return new MssError('malformed', `RTSP ${what}: ${message}`, { status: 400 });
}

function lines(body: Buffer | string, what: string): string[] {
  const text = typeof body === 'string' ? body : body.toString('latin1');
  const out = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (out.length > MAX_BODY_LINES) throw bad(what, `${out.length} lines, at most ${MAX_BODY_LINES} are read`);
  return out;
}

export type EndOfStreamKind = 'finished' | 'administrative' | 'playlist-entry' | 'receding';

export interface EndOfStreamBody {
  sessionId: string;
  kind: EndOfStreamKind;
}

const EOS_LINES: Record<Exclude<EndOfStreamKind, 'finished'>, string> = {
  administrative: 'AdministrativeDisconnection: true',
  'playlist-entry': 'End-Of-Playlist-Entry: true',
  receding: 'RecedingEos: true',
};

/** `Session: <id>` CRLF `EOF: true` CRLF [one of the three optional lines] */
export function buildEndOfStreamBody(b: EndOfStreamBody): Buffer {
  let text = `Session: ${b.sessionId}\r\nEOF: true\r\n`;
  if (b.kind !== 'finished') text += `${EOS_LINES[b.kind]}\r\n`;
  return Buffer.from(text, 'latin1');
}

export function parseEndOfStreamBody(body: Buffer | string): EndOfStreamBody {
  const ls = lines(body, 'EndOfStream');
  let sessionId: string | undefined;
  let eof = false;
  let kind: EndOfStreamKind = 'finished';
  for (const l of ls) {
    const m = /^([A-Za-z-]+)\s*:\s*(.*)$/.exec(l);
    if (!m) throw bad('EndOfStream', `line ${JSON.stringify(l.slice(0, 60))} is not "name: value"`);
    const name = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (name === 'session') sessionId = value;
    else if (name === 'eof') eof = value.toLowerCase() === 'true';
    else if (value.toLowerCase() === 'true') {
      if (name === 'administrativedisconnection') kind = 'administrative';
      else if (name === 'end-of-playlist-entry') kind = 'playlist-entry';
      else if (name === 'recedingeos') kind = 'receding';
    }
  }
  if (!sessionId) throw bad('EndOfStream', 'no Session: line');
  if (!eof) throw bad('EndOfStream', 'no "EOF: true" line');
  return { sessionId, kind };
}

export interface SelectStreamEntry {
  /** a=stream number, NO_STREAM for none */
  oldStream: number;
  newStream: number;
  /** 0 everything, 1 key frames only, 2 nothing */
  thinLevel: 0 | 1 | 2;
  oldUri?: string;
  newUri?: string;
}

function streamNumber(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > NO_STREAM) throw bad('SelectStream', `stream ${JSON.stringify(text)} is not a number 0..4294967295`);
  return Number(text);
}

/** `SSEntry: <old> <new> <thin> [<old uri>] [<new uri>]` lines (a URI is present exactly when its stream is) */
export function parseSelectStreamBody(body: Buffer | string): SelectStreamEntry[] {
  const out: SelectStreamEntry[] = [];
  for (const l of lines(body, 'SelectStream')) {
    const m = /^SSEntry\s*:\s*(.*)$/i.exec(l);
    if (!m) throw bad('SelectStream', `line ${JSON.stringify(l.slice(0, 60))} is not an SSEntry`);
    const words = m[1]!.split(/\s+/);
    if (words.length < 3) throw bad('SelectStream', 'an SSEntry needs <old> <new> <thin level>');
    const oldStream = streamNumber(words[0]!);
    const newStream = streamNumber(words[1]!);
    if (!/^[012]$/.test(words[2]!)) throw bad('SelectStream', `thin level ${JSON.stringify(words[2])} is not 0, 1 or 2`);
    const uris = words.slice(3);
    const wanted = (oldStream !== NO_STREAM ? 1 : 0) + (newStream !== NO_STREAM ? 1 : 0);
    if (uris.length !== wanted) throw bad('SelectStream', `${uris.length} URIs where ${wanted} belong (one per stream that is not 4294967295)`);
    const entry: SelectStreamEntry = { oldStream, newStream, thinLevel: Number(words[2]) as 0 | 1 | 2 };
    if (oldStream !== NO_STREAM) entry.oldUri = uris.shift();
    if (newStream !== NO_STREAM) entry.newUri = uris.shift();
    out.push(entry);
  }
  if (out.length === 0) throw bad('SelectStream', 'no SSEntry line');
  return out;
}

export function buildSelectStreamBody(entries: readonly SelectStreamEntry[]): Buffer {
  return Buffer.from(
    entries.map((e) => `SSEntry: ${[e.oldStream, e.newStream, e.thinLevel, e.oldStream !== NO_STREAM ? e.oldUri : undefined, e.newStream !== NO_STREAM ? e.newUri : undefined].filter((w) => w !== undefined).join(' ')}\r\n`).join(''),
    'latin1',
  );
}

/** `type: high-entropy-packetpair[ variable-size]`: whether the sender may choose the sizes */
export function parseUdpPacketPairBody(body: Buffer | string): { variableSize: boolean } {
  const ls = lines(body, 'UdpPacketPair');
  const m = ls.length === 1 ? /^type\s*:\s*high-entropy-packetpair(\s+variable-size)?$/i.exec(ls[0]!) : null;
  if (!m) throw bad('UdpPacketPair', 'the body must be "type: high-entropy-packetpair[ variable-size]"');
  return { variableSize: m[1] !== undefined };
}
