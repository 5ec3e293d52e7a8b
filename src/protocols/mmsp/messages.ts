/**
 * MS-MMSP messages (2.2.4), typed, both directions: `encodeViewer`/`decodeViewer` for what a player sends
 * (LinkViewerToMac*), `encodeMac`/`decodeMac` for what a server sends (LinkMacToViewer*). Decoders are tolerant
 * where real players are sloppy (FFmpeg and VLC fill spare fields with 0xFFFFFFFF, send playIncarnation 0 in
 * Connect, leave strings unterminated) and strict where the bytes would be misread (lengths, offsets, counts).
 */
import { MssError } from '../../core/errors.js';
import { hex32, type MmsMessage } from './codec.js';
import { FieldReader, FieldWriter } from './fields.js';

/** message ids (low 16 bits; the high 16 bits are 3 towards the server, 4 towards the player) */
export const VIEWER = {
  Connect: 0x01,
  ConnectFunnel: 0x02,
  OpenFile: 0x05,
  StartPlaying: 0x07,
  StopPlaying: 0x09,
  CloseFile: 0x0d,
  ReadBlock: 0x15,
  FunnelInfo: 0x18,
  SecurityResponse: 0x1a,
  Pong: 0x1b,
  CancelReadBlock: 0x25,
  StartStriding: 0x28,
  Logging: 0x32,
  StreamSwitch: 0x33,
} as const;

export const MAC = {
  ReportConnectedEX: 0x01,
  ReportConnectedFunnel: 0x02,
  ReportDisconnectedFunnel: 0x03,
  ReportStartedPlaying: 0x05,
  ReportOpenFile: 0x06,
  ReportStartStriding: 0x0a,
  ReportReadBlock: 0x11,
  ReportFunnelInfo: 0x15,
  SecurityChallenge: 0x1a,
  Ping: 0x1b,
  ReportEndOfStream: 0x1e,
  ReportStreamChange: 0x20,
  ReportStreamSwitch: 0x21,
  ReportRedirect: 0x22,
} as const;

export type ViewerType = keyof typeof VIEWER;
export type MacType = keyof typeof MAC;

const VIEWER_BY_ID = new Map<number, ViewerType>(Object.entries(VIEWER).map(([k, v]) => [v, k as ViewerType]));
const MAC_BY_ID = new Map<number, MacType>(Object.entries(MAC).map(([k, v]) => [v, k as MacType]));

export function viewerTypeOf(command: number): ViewerType | undefined {
  return VIEWER_BY_ID.get(command & 0xffff);
}

export function macTypeOf(command: number): MacType | undefined {
  return MAC_BY_ID.get(command & 0xffff);
}

/** DOUBLE max: StartPlaying.position "not a time: use asfOffset or locationId" */
export const POSITION_UNSET = Number.MAX_VALUE;
export const PROTOCOL_REVISIONS = { macToViewer: 0x0004000b, viewerToMac: 0x0003001c } as const;
export const MAX_STREAM_ENTRIES = 128;

export interface StreamSwitchEntry {
  /** stream replaced by `destination`, 0xFFFF = none */
  source: number;
  /** stream selected, 0xFFFF = none */
  destination: number;
  /** 0 all, 1 key frames only, 2 none */
  thinning: number;
}

/** fields shared by StartPlaying and StartStriding */
export interface PlayPosition {
  openFileId: number;
  /** seconds; POSITION_UNSET when asfOffset/locationId say where */
  position: number;
  /** 0 and 0xFFFFFFFF = unused */
  asfOffset: number;
  /** 0 and 0xFFFFFFFF = unused */
  locationId: number;
  /** 0 = to the end; low 31 bits = stop time in ms, top bit = relative to the start position */
  frameOffset: number;
  playIncarnation: number;
}

export type ViewerMessage =
  | { type: 'Connect'; playIncarnation: number; macToViewerRevision: number; viewerToMacRevision: number; subscriberName: string; extras: string[] }
  | { type: 'ConnectFunnel'; playIncarnation: number; maxBlockBytes: number; maxFunnelBytes: number; maxBitRate: number; funnelMode: number; funnelName: string }
  | { type: 'OpenFile'; playIncarnation: number; spare: number; fileName: string; token: Buffer }
  | ({ type: 'StartPlaying'; accel?: { bandwidth: number; durationMs: number; linkBandwidth?: number } } & PlayPosition)
  | ({ type: 'StartStriding'; rate: number } & PlayPosition)
  | { type: 'StopPlaying'; openFileId: number; playIncarnation: number }
  | { type: 'CloseFile'; playIncarnation: number; openFileId: number }
  | { type: 'ReadBlock'; openFileId: number; fileBlockId: number; offset: number; length: number; flags: number; tEarliest: number; tDeadline: number; playIncarnation: number; playSequence: number }
  | { type: 'FunnelInfo'; playIncarnation: number }
  | { type: 'SecurityResponse'; playIncarnation: number; cookie: number; token: Buffer }
  | { type: 'Pong'; param1: number; param2: number }
  | { type: 'CancelReadBlock'; playIncarnation: number }
  | { type: 'Logging'; log: Buffer }
  | { type: 'StreamSwitch'; entries: StreamSwitchEntry[] };

export interface OpenFileReport {
  hr: number;
  playIncarnation: number;
  openFileId: number;
  fileAttributes: number;
  /** seconds (0 = live or unknown) */
  fileDuration: number;
  fileBlocks: number;
  filePacketSize: number;
  filePacketCount: number;
  fileBitRate: number;
  fileHeaderSize: number;
}

export type MacMessage =
  | { type: 'ReportConnectedEX'; hr: number; playIncarnation: number; serverVersion: string; versionInfo: string; versionUrl: string; authenPackage: string }
  | { type: 'ReportConnectedFunnel'; hr: number; playIncarnation: number; funnelName: string }
  | { type: 'ReportDisconnectedFunnel'; hr: number; playIncarnation: number }
  | { type: 'ReportStartedPlaying'; hr: number; playIncarnation: number; tigerFileId: number }
  | ({ type: 'ReportOpenFile' } & OpenFileReport)
  | { type: 'ReportStartStriding'; hr: number; playIncarnation: number }
  | { type: 'ReportReadBlock'; hr: number; playIncarnation: number }
  | { type: 'ReportFunnelInfo'; hr: number; playIncarnation: number; clientId: number; packetPair: Buffer }
  | { type: 'SecurityChallenge'; playIncarnation: number; cookie: number; token: Buffer }
  | { type: 'Ping'; param1: number; param2: number }
  | { type: 'ReportEndOfStream'; hr: number; playIncarnation: number }
  | { type: 'ReportStreamChange'; hr: number; packetSize: number; headerSize: number; bitRate: number }
  | { type: 'ReportStreamSwitch'; hr: number }
  | { type: 'ReportRedirect'; hr: number; redirectType: number; location: string };

/** What an encoder gives to codec.encodeTcpMessage. */
export interface EncodedMessage {
  mid: number;
  fields: Buffer;
}

// -- player → server ---------------------------------------------------------------------------------------------

function position(w: FieldWriter, m: PlayPosition): FieldWriter {
  return w.u32(m.openFileId).u32(0).f64(m.position).u32(m.asfOffset).u32(m.locationId).u32(m.frameOffset).u32(m.playIncarnation);
}

export function encodeViewer(m: ViewerMessage): EncodedMessage {
  const w = new FieldWriter();
  switch (m.type) {
    case 'Connect':
      w.u32(m.playIncarnation).u32(m.macToViewerRevision).u32(m.viewerToMacRevision).utf16z(m.subscriberName);
      for (const e of m.extras) w.utf16z(e);
      break;
    case 'ConnectFunnel':
      w.u32(m.playIncarnation).u32(m.maxBlockBytes).u32(m.maxFunnelBytes).u32(m.maxBitRate).u32(m.funnelMode).utf16z(m.funnelName);
      break;
    case 'OpenFile': {
      const name = Buffer.from(m.fileName + '\0', 'utf16le');
      w.u32(m.playIncarnation).u32(m.spare).u32(m.token.length > 0 ? name.length : 0).u32(m.token.length).bytes(name).bytes(m.token);
      break;
    }
    case 'StartPlaying':
      position(w, m);
      if (m.accel) w.u32(m.accel.bandwidth).u32(m.accel.durationMs).u32(m.accel.linkBandwidth ?? 0);
      break;
    case 'StartStriding':
      position(w, m).f64(m.rate);
      break;
    case 'StopPlaying':
      w.u32(m.openFileId).u32(m.playIncarnation);
      break;
    case 'CloseFile':
      w.u32(m.playIncarnation).u32(m.openFileId);
      break;
    case 'ReadBlock':
      w.u32(m.openFileId).u32(m.fileBlockId).u32(m.offset).u32(m.length).u32(m.flags).u32(0).f64(m.tEarliest).f64(m.tDeadline).u32(m.playIncarnation).u32(m.playSequence);
      break;
    case 'FunnelInfo':
    case 'CancelReadBlock':
      w.u32(m.playIncarnation);
      break;
    case 'SecurityResponse':
      w.u32(m.playIncarnation).u32(m.cookie).u32(m.token.length).bytes(m.token);
      break;
    case 'Pong':
      w.u32(m.param1).u32(m.param2);
      break;
    case 'Logging':
      w.bytes(m.log);
      break;
    case 'StreamSwitch':
      if (m.entries.length > MAX_STREAM_ENTRIES) throw new MssError('invalid-argument', `StreamSwitch: ${m.entries.length} entries, limit ${MAX_STREAM_ENTRIES}`);
      w.u32(m.entries.length);
      for (const e of m.entries) w.u16(e.source).u16(e.destination).u16(e.thinning);
      break;
  }
  return { mid: (0x0003 << 16) | VIEWER[m.type], fields: w.toBuffer() };
}

function readPosition(r: FieldReader): PlayPosition {
  const openFileId = r.u32('openFileId');
  r.u32('padding');
  return { openFileId, position: r.f64('position'), asfOffset: r.u32('asfOffset'), locationId: r.u32('locationId'), frameOffset: r.u32('frameOffset'), playIncarnation: r.u32('playIncarnation') };
}

/** Decodes a message a player sent; MssError('unsupported') for a MID that is not a player's. */
export function decodeViewer(msg: MmsMessage): ViewerMessage {
  const type = viewerTypeOf(msg.command);
  if (!type) throw new MssError('unsupported', `MMS message ${hex32(msg.mid)} is not a message a player sends`, { mid: msg.mid });
  const r = new FieldReader(msg.body, `LinkViewerToMac${type}`);
  switch (type) {
    case 'Connect': {
      const playIncarnation = r.u32('playIncarnation');
      const macToViewerRevision = r.u32('MacToViewerProtocolRevision');
      const viewerToMacRevision = r.u32('ViewerToMacProtocolRevision');
      const subscriberName = r.utf16z('subscriberName');
      // proxies append NUL-separated HOST: and VIA: strings; stop at the zero padding
      const extras: string[] = [];
      while (r.remaining >= 2 && extras.length < 4) {
        const s = r.utf16z('subscriberName extra');
        if (s === '') break;
        extras.push(s);
      }
      return { type, playIncarnation, macToViewerRevision, viewerToMacRevision, subscriberName, extras };
    }
    case 'ConnectFunnel':
      return { type, playIncarnation: r.u32('playIncarnation'), maxBlockBytes: r.u32('maxBlockBytes'), maxFunnelBytes: r.u32('maxFunnelBytes'), maxBitRate: r.u32('maxBitRate'), funnelMode: r.u32('funnelMode'), funnelName: r.utf16z('funnelName', 128) };
    case 'OpenFile': {
      const playIncarnation = r.u32('playIncarnation');
      const spare = r.u32('spare');
      const tokenOffset = r.u32('token');
      const cbtoken = r.u32('cbtoken');
      const nameStart = r.pos;
      const fileName = r.utf16z('fileName');
      let token: Buffer = Buffer.alloc(0);
      if (cbtoken > 0) {
        const at = nameStart + tokenOffset;
        if (tokenOffset < r.pos - nameStart || tokenOffset > msg.body.length || cbtoken > msg.body.length - at) {
          throw new MssError('malformed', `LinkViewerToMacOpenFile: tokenData at offset ${tokenOffset} of fileName with ${cbtoken} bytes lies outside the ${msg.body.length}-byte message`);
        }
        token = msg.body.subarray(at, at + cbtoken);
      }
      return { type, playIncarnation, spare, fileName, token };
    }
    case 'StartPlaying': {
      const p = readPosition(r);
      // the optional v9 tail (dwAccelBandwidth, dwAccelDuration, dwLinkBandwidth): 12 more bytes
      if (r.remaining >= 12) {
        const bandwidth = r.u32('dwAccelBandwidth');
        const durationMs = r.u32('dwAccelDuration');
        const linkBandwidth = r.u32('dwLinkBandwidth');
        return { type, ...p, accel: { bandwidth, durationMs, linkBandwidth } };
      }
      return { type, ...p };
    }
    case 'StartStriding': {
      const p = readPosition(r);
      return { type, ...p, rate: r.f64('rate') };
    }
    case 'StopPlaying':
      return { type, openFileId: r.u32('openFileId'), playIncarnation: r.u32('playIncarnation') };
    case 'CloseFile':
      return { type, playIncarnation: r.u32('playIncarnation'), openFileId: r.u32('openFileId') };
    case 'ReadBlock': {
      const openFileId = r.u32('openFileId');
      const fileBlockId = r.u32('fileBlockId');
      const offset = r.u32('offset');
      const length = r.u32('length');
      const flags = r.u32('flags');
      r.u32('padding');
      return { type, openFileId, fileBlockId, offset, length, flags, tEarliest: r.f64('tEarliest'), tDeadline: r.f64('tDeadline'), playIncarnation: r.u32('playIncarnation'), playSequence: r.u32('playSequence') };
    }
    case 'FunnelInfo':
      return { type, playIncarnation: r.u32('playIncarnation') };
    case 'CancelReadBlock':
      return { type, playIncarnation: r.u32('playIncarnation') };
    case 'SecurityResponse': {
      const playIncarnation = r.u32('playIncarnation');
      const cookie = r.u32('cookie');
      const cb = r.u32('cbToken');
      return { type, playIncarnation, cookie, token: r.bytes(cb, 'pToken') };
    }
    case 'Pong':
      // FFmpeg sends 8 bytes; a bare 0-byte Pong is accepted too (both fields must be ignored anyway)
      return { type, param1: r.remaining >= 4 ? r.u32('dwParam1') : 0, param2: r.remaining >= 4 ? r.u32('dwParam2') : 0 };
    case 'Logging':
      return { type, log: msg.body };
    case 'StreamSwitch': {
      const n = r.u32('cStreamEntries');
      if (n > MAX_STREAM_ENTRIES) throw new MssError('too-large', `LinkViewerToMacStreamSwitch: ${n} entries, limit ${MAX_STREAM_ENTRIES}`);
      const entries: StreamSwitchEntry[] = [];
      for (let i = 0; i < n; i++) entries.push({ source: r.u16(`entry ${i + 1} wSrcStreamNumber`), destination: r.u16(`entry ${i + 1} wDstStreamNumber`), thinning: r.u16(`entry ${i + 1} wThinningLevel`) });
      return { type, entries };
    }
  }
}

// -- server → player ---------------------------------------------------------------------------------------------

function counted(w: FieldWriter, ...strings: string[]): void {
  // cb* fields count UTF-16 characters including the NUL; an empty string is sent as nothing (count 0)
  for (const s of strings) w.u32(s === '' ? 0 : s.length + 1);
  for (const s of strings) if (s !== '') w.utf16z(s);
}

export function encodeMac(m: MacMessage): EncodedMessage {
  const w = new FieldWriter();
  switch (m.type) {
    case 'ReportConnectedEX':
      w.u32(m.hr).u32(m.playIncarnation).u32(PROTOCOL_REVISIONS.macToViewer).u32(PROTOCOL_REVISIONS.viewerToMac).f64(1.0).u32(1).u32(1).u32(0x8000).u32(0x00989680);
      counted(w, m.serverVersion, m.versionInfo, m.versionUrl, m.authenPackage);
      break;
    case 'ReportConnectedFunnel':
      w.u32(m.hr).u32(m.playIncarnation).u32(0).utf16z(m.funnelName);
      break;
    case 'ReportDisconnectedFunnel':
    case 'ReportStartStriding':
    case 'ReportReadBlock':
    case 'ReportEndOfStream':
      w.u32(m.hr).u32(m.playIncarnation).u32(0);
      break;
    case 'ReportStartedPlaying':
      w.u32(m.hr).u32(m.playIncarnation).u32(m.tigerFileId).u32(0).zeros(12);
      break;
    case 'ReportOpenFile':
      w.u32(m.hr).u32(m.playIncarnation).u32(m.openFileId).u32(0).u32(0).u32(m.fileAttributes).f64(m.fileDuration).u32(m.fileBlocks).zeros(16);
      w.u32(m.filePacketSize).u64(m.filePacketCount).u32(m.fileBitRate).u32(m.fileHeaderSize).zeros(36);
      break;
    case 'ReportFunnelInfo':
      w.u32(m.hr).u32(m.playIncarnation).u32(8).u32(1).u32(0x10000).u32(m.clientId).u32(0).u32(1).u32(0).u32(0).bytes(m.packetPair);
      break;
    case 'SecurityChallenge':
      w.u32(m.playIncarnation).u32(m.cookie).u32(m.token.length).bytes(m.token);
      break;
    case 'Ping':
      w.u32(m.param1).u32(m.param2);
      break;
    case 'ReportStreamChange':
      w.u32(m.hr).u32(0xff).u32(m.packetSize).u32(m.headerSize).u32(m.bitRate).u32(0);
      break;
    case 'ReportStreamSwitch':
      w.u32(m.hr);
      break;
    case 'ReportRedirect': {
      const loc = Buffer.from(m.location + '\0', 'utf16le');
      w.u32(m.hr).u16(m.redirectType).u16(loc.length).bytes(loc);
      break;
    }
  }
  return { mid: (0x0004 << 16) | MAC[m.type], fields: w.toBuffer() };
}

/**
 * Decodes a message a server sent. A reply whose hr is a failure may stop after hr (servers do not fill the rest
 * of a refusal): the remaining fields then read as 0 / empty.
 */
export function decodeMac(msg: MmsMessage): MacMessage {
  const type = macTypeOf(msg.command);
  if (!type) throw new MssError('unsupported', `MMS message ${hex32(msg.mid)} is not a message a server sends`, { mid: msg.mid });
  const r = new FieldReader(msg.body, `LinkMacToViewer${type}`);
  if (type === 'Ping') return { type, param1: r.remaining >= 4 ? r.u32('dwParam1') : 0, param2: r.remaining >= 4 ? r.u32('dwParam2') : 0 };
  if (type === 'SecurityChallenge') {
    const playIncarnation = r.u32('playIncarnation');
    const cookie = r.u32('cookie');
    return { type, playIncarnation, cookie, token: r.bytes(r.u32('cbToken'), 'pToken') };
  }
  const hr = r.u32('hr');
  const failed = hr !== 0 && !(type === 'ReportEndOfStream' && hr === 1);
  // a refusal may end here; otherwise every field must be there
  const u32 = (f: string) => (failed && r.remaining < 4 ? 0 : r.u32(f));
  switch (type) {
    case 'ReportConnectedEX': {
      const playIncarnation = u32('playIncarnation');
      if (failed && r.remaining < 48) return { type, hr, playIncarnation, serverVersion: '', versionInfo: '', versionUrl: '', authenPackage: '' };
      r.bytes(8, 'protocol revisions');
      r.f64('blockGroupPlayTime');
      r.bytes(16, 'blockGroupBlocks..maxBitRate');
      const counts = [r.u32('cbServerVersionInfo'), r.u32('cbVersionInfo'), r.u32('cbVersionUrl'), r.u32('cbAuthenPackage')];
      const [serverVersion, versionInfo, versionUrl, authenPackage] = counts.map((n, i) => r.utf16n(n, ['ServerVersionInfo', 'VersionInfo', 'VersionUrl', 'AuthenPackage'][i]!));
      return { type, hr, playIncarnation, serverVersion: serverVersion!, versionInfo: versionInfo!, versionUrl: versionUrl!, authenPackage: authenPackage! };
    }
    case 'ReportConnectedFunnel': {
      const playIncarnation = u32('playIncarnation');
      u32('packetPayloadSize');
      return { type, hr, playIncarnation, funnelName: r.remaining > 0 ? r.utf16z('funnelName', 128) : '' };
    }
    case 'ReportDisconnectedFunnel':
    case 'ReportStartStriding':
    case 'ReportReadBlock':
    case 'ReportEndOfStream':
      return { type, hr, playIncarnation: u32('playIncarnation') };
    case 'ReportStartedPlaying':
      return { type, hr, playIncarnation: u32('playIncarnation'), tigerFileId: u32('tigerFileId') };
    case 'ReportOpenFile': {
      const playIncarnation = u32('playIncarnation');
      if (failed && r.remaining < 60) return { type, hr, playIncarnation, openFileId: 0, fileAttributes: 0, fileDuration: 0, fileBlocks: 0, filePacketSize: 0, filePacketCount: 0, fileBitRate: 0, fileHeaderSize: 0 };
      const openFileId = r.u32('openFileId');
      r.u32('padding');
      r.u32('fileName');
      const fileAttributes = r.u32('fileAttributes');
      const fileDuration = r.f64('fileDuration');
      const fileBlocks = r.u32('fileBlocks');
      r.bytes(16, 'unused1');
      return { type, hr, playIncarnation, openFileId, fileAttributes, fileDuration, fileBlocks, filePacketSize: r.u32('filePacketSize'), filePacketCount: r.u64AsNumber('filePacketCount'), fileBitRate: r.u32('fileBitRate'), fileHeaderSize: r.u32('fileHeaderSize') };
    }
    case 'ReportFunnelInfo': {
      const playIncarnation = u32('playIncarnation');
      if (failed && r.remaining < 32) return { type, hr, playIncarnation, clientId: 0, packetPair: Buffer.alloc(0) };
      r.bytes(12, 'transportMask..fragmentBytes');
      const clientId = r.u32('nCubs');
      r.bytes(16, 'failedCubs..cubddDatagramSize');
      return { type, hr, playIncarnation, clientId, packetPair: r.bytes(r.remaining, 'packet-pair') };
    }
    case 'ReportStreamChange': {
      u32('dwTcpHdrIncarnation');
      return { type, hr, packetSize: u32('cbPacketSize'), headerSize: u32('cbHeaderSize'), bitRate: u32('dwBitRate') };
    }
    case 'ReportStreamSwitch':
      return { type, hr };
    case 'ReportRedirect': {
      if (failed && r.remaining < 4) return { type, hr, redirectType: 0, location: '' };
      const redirectType = r.u16('RedirectType');
      const cb = r.u16('cbLocation');
      if (cb % 2 !== 0) throw new MssError('malformed', `LinkMacToViewerReportRedirect: cbLocation ${cb} is not a whole number of UTF-16 characters`);
      return { type, hr, redirectType, location: r.utf16n(cb / 2, 'wszLocation') };
    }
  }
}
