/**
 * RTCP (RFC 3550 §6) as RTSP-WME uses it: sender reports from the server (SR + SDES CNAME), receiver reports
 * from players (RR + SDES), BYE, and the generic NACK of RFC 4585 §6.2.1 whose 5-bit FMT is split by MS-RTSP 2.2.4
 * into an E bit (clients set it, servers ignore it) and a 4-bit FMT. Pure; compound packets are parsed with every
 * length checked, at most 32 packets each.
 */
import { MssError } from '../../core/errors.js';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_RTPFB = 205;
const SDES_CNAME = 1;
const MAX_PACKETS = 32;
/** seconds from 1900 (NTP) to 1970 (Unix) */
const NTP_EPOCH_OFFSET = 2_208_988_800;

/** The CNAME a WMS client puts next to a NACK: `<rtx ssrc in decimal>@WMS:<fixed GUID>` (MS-RTSP 2.2.4). */
export function wmsNackCname(rtxSsrc: number): string {
  return `${rtxSsrc >>> 0}@WMS:7ff42e07-3c7c-4eb5-9c17-6bdd11ad90de`;
}

export interface ReportBlock {
  ssrc: number;
  /** fraction lost since the last report, 0..255 (/256) */
  fractionLost: number;
  /** cumulative packets lost (signed 24 bit) */
  cumulativeLost: number;
  highestSequence: number;
  jitter: number;
  lastSr: number;
  delaySinceLastSr: number;
}

export type RtcpPacket =
  | { type: 'sr'; ssrc: number; ntpSeconds: number; ntpFraction: number; rtpTimestamp: number; packetCount: number; octetCount: number; reports: ReportBlock[] }
  | { type: 'rr'; ssrc: number; reports: ReportBlock[] }
  | { type: 'sdes'; chunks: Array<{ ssrc: number; cname?: string }> }
  | { type: 'bye'; ssrcs: number[]; reason?: string }
  | { type: 'nack'; senderSsrc: number; mediaSsrc: number; /** lost sequence numbers */ lost: number[] }
  | { type: 'other'; packetType: number };

function bad(message: string): MssError {
  return new MssError('malformed', `RTCP: ${message}`);
}

function readReports(buf: Buffer, pos: number, count: number, end: number): ReportBlock[] {
  if (pos + count * 24 > end) throw bad(`${count} report blocks run past the packet`);
  const out: ReportBlock[] = [];
  for (let i = 0; i < count; i++, pos += 24) {
    const lost = buf.readUIntBE(pos + 5, 3);
    out.push({
      ssrc: buf.readUInt32BE(pos),
      fractionLost: buf[pos + 4]!,
      cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
      highestSequence: buf.readUInt32BE(pos + 8),
      jitter: buf.readUInt32BE(pos + 12),
      lastSr: buf.readUInt32BE(pos + 16),
      delaySinceLastSr: buf.readUInt32BE(pos + 20),
    });
  }
  return out;
}

function readSdes(buf: Buffer, pos: number, count: number, end: number): Array<{ ssrc: number; cname?: string }> {
  const chunks: Array<{ ssrc: number; cname?: string }> = [];
  for (let i = 0; i < count; i++) {
    if (pos + 4 > end) throw bad('SDES chunk runs past the packet');
    const chunk: { ssrc: number; cname?: string } = { ssrc: buf.readUInt32BE(pos) };
    pos += 4;
    for (;;) {
      if (pos >= end) throw bad('SDES items run past the packet');
      const type = buf[pos]!;
      if (type === 0) {
        pos = (pos + 4) & ~3; // the end marker, then padding to the next 32-bit boundary
        break;
      }
      if (pos + 2 > end) throw bad('SDES item runs past the packet');
      const len = buf[pos + 1]!;
      if (pos + 2 + len > end) throw bad(`SDES item of ${len} bytes runs past the packet`);
      if (type === SDES_CNAME) chunk.cname = buf.toString('utf8', pos + 2, pos + 2 + len);
      pos += 2 + len;
    }
    chunks.push(chunk);
  }
  return chunks;
}

/** Parses a compound RTCP packet. */
export function parseRtcp(buf: Buffer): RtcpPacket[] {
  const out: RtcpPacket[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (out.length >= MAX_PACKETS) throw bad(`more than ${MAX_PACKETS} packets in one compound packet`);
    if (pos + 4 > buf.length) throw bad(`${buf.length - pos} trailing bytes are not an RTCP header`);
    const b0 = buf[pos]!;
    if (b0 >> 6 !== 2) throw bad(`version ${b0 >> 6}, not 2`);
    const count = b0 & 0x1f;
    const pt = buf[pos + 1]!;
    const end = pos + 4 * (buf.readUInt16BE(pos + 2) + 1);
    if (end > buf.length) throw bad(`packet of ${end - pos} bytes runs past the ${buf.length - pos} left`);
    let bodyEnd = end;
    if (b0 & 0x20) {
      const pad = buf[end - 1]!;
      if (pad === 0 || pad > end - pos - 4) throw bad(`padding count ${pad} does not fit`);
      bodyEnd -= pad;
    }
    const body = pos + 4;
    switch (pt) {
      case RTCP_SR:
        if (body + 24 > bodyEnd) throw bad('sender report shorter than 28 bytes');
        out.push({
          type: 'sr',
          ssrc: buf.readUInt32BE(body),
          ntpSeconds: buf.readUInt32BE(body + 4),
          ntpFraction: buf.readUInt32BE(body + 8),
          rtpTimestamp: buf.readUInt32BE(body + 12),
          packetCount: buf.readUInt32BE(body + 16),
          octetCount: buf.readUInt32BE(body + 20),
          reports: readReports(buf, body + 24, count, bodyEnd),
        });
        break;
      case RTCP_RR:
        if (body + 4 > bodyEnd) throw bad('receiver report shorter than 8 bytes');
        out.push({ type: 'rr', ssrc: buf.readUInt32BE(body), reports: readReports(buf, body + 4, count, bodyEnd) });
        break;
      case RTCP_SDES:
        out.push({ type: 'sdes', chunks: readSdes(buf, body, count, bodyEnd) });
        break;
      case RTCP_BYE: {
        if (body + 4 * count > bodyEnd) throw bad(`BYE with ${count} sources runs past the packet`);
        const ssrcs: number[] = [];
        for (let i = 0; i < count; i++) ssrcs.push(buf.readUInt32BE(body + 4 * i));
        let reason: string | undefined;
        const r = body + 4 * count;
        if (r < bodyEnd) {
          const len = buf[r]!;
          if (r + 1 + len > bodyEnd) throw bad('BYE reason runs past the packet');
          reason = buf.toString('utf8', r + 1, r + 1 + len);
        }
        out.push({ type: 'bye', ssrcs, reason });
        break;
      }
      case RTCP_RTPFB: {
        // FMT 1 = generic NACK; the top bit of the count field is WMS's E bit
        if ((count & 0x0f) !== 1) {
          out.push({ type: 'other', packetType: pt });
          break;
        }
        if (body + 8 > bodyEnd) throw bad('NACK shorter than 12 bytes');
        const lost: number[] = [];
        for (let f = body + 8; f + 4 <= bodyEnd; f += 4) {
          const pid = buf.readUInt16BE(f);
          const blp = buf.readUInt16BE(f + 2);
          lost.push(pid);
          for (let bit = 0; bit < 16; bit++) if (blp & (1 << bit)) lost.push((pid + bit + 1) & 0xffff);
          if (lost.length > 4096) throw bad('NACK names more than 4096 packets');
        }
        out.push({ type: 'nack', senderSsrc: buf.readUInt32BE(body), mediaSsrc: buf.readUInt32BE(body + 4), lost });
        break;
      }
      default:
        out.push({ type: 'other', packetType: pt });
    }
    pos = end;
  }
  return out;
}

function header(out: Buffer, pos: number, count: number, pt: number, bytes: number): void {
  out[pos] = 0x80 | (count & 0x1f);
  out[pos + 1] = pt;
  out.writeUInt16BE(bytes / 4 - 1, pos + 2);
}

function sdes(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname, 'utf8').subarray(0, 255);
  const size = (4 + 4 + 2 + text.length + 1 + 3) & ~3;
  const out = Buffer.alloc(size);
  header(out, 0, 1, RTCP_SDES, size);
  out.writeUInt32BE(ssrc >>> 0, 4);
  out[8] = SDES_CNAME;
  out[9] = text.length;
  text.copy(out, 10);
  return out;
}

function writeReports(out: Buffer, pos: number, reports: readonly ReportBlock[]): void {
  for (const r of reports) {
    out.writeUInt32BE(r.ssrc >>> 0, pos);
    out[pos + 4] = Math.max(0, Math.min(255, r.fractionLost | 0));
    out.writeUIntBE(Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost | 0)) & 0xffffff, pos + 5, 3);
    out.writeUInt32BE(r.highestSequence >>> 0, pos + 8);
    out.writeUInt32BE(r.jitter >>> 0, pos + 12);
    out.writeUInt32BE(r.lastSr >>> 0, pos + 16);
    out.writeUInt32BE(r.delaySinceLastSr >>> 0, pos + 20);
    pos += 24;
  }
}

/** NTP timestamp (seconds, fraction) of a Unix time in ms. */
export function ntpTime(unixMs: number): { seconds: number; fraction: number } {
  const seconds = Math.floor(unixMs / 1000);
  return { seconds: (seconds + NTP_EPOCH_OFFSET) >>> 0, fraction: Math.floor(((unixMs - seconds * 1000) / 1000) * 0x100000000) >>> 0 };
}

/** The middle 32 bits of an NTP timestamp (what a receiver report's LSR echoes). */
export function ntpMiddle(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/** SR + SDES CNAME, one compound packet. */
export function buildSenderReport(o: { ssrc: number; unixMs: number; rtpTimestamp: number; packetCount: number; octetCount: number; cname: string }): Buffer {
  const sr = Buffer.alloc(28);
  header(sr, 0, 0, RTCP_SR, 28);
  const ntp = ntpTime(o.unixMs);
  sr.writeUInt32BE(o.ssrc >>> 0, 4);
  sr.writeUInt32BE(ntp.seconds, 8);
  sr.writeUInt32BE(ntp.fraction, 12);
  sr.writeUInt32BE(o.rtpTimestamp >>> 0, 16);
  sr.writeUInt32BE(o.packetCount >>> 0, 20);
  sr.writeUInt32BE(o.octetCount >>> 0, 24);
  return Buffer.concat([sr, sdes(o.ssrc, o.cname)]);
}

/** RR (up to 31 report blocks) + SDES CNAME, one compound packet. */
export function buildReceiverReport(o: { ssrc: number; reports: readonly ReportBlock[]; cname: string }): Buffer {
  const reports = o.reports.slice(0, 31);
  const size = 8 + 24 * reports.length;
  const rr = Buffer.alloc(size);
  header(rr, 0, reports.length, RTCP_RR, size);
  rr.writeUInt32BE(o.ssrc >>> 0, 4);
  writeReports(rr, 8, reports);
  return Buffer.concat([rr, sdes(o.ssrc, o.cname)]);
}

/** RR without reports + generic NACK (E bit set, as clients do) + SDES with the WMS CNAME of the rtx SSRC. */
export function buildNack(o: { senderSsrc: number; mediaSsrc: number; rtxSsrc: number; lost: readonly number[] }): Buffer {
  const fci: Array<[number, number]> = [];
  const sorted = [...new Set(o.lost.map((s) => s & 0xffff))].sort((a, b) => a - b);
  for (const s of sorted) {
    const last = fci[fci.length - 1];
    const d = last ? (s - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else fci.push([s, 0]);
  }
  const size = 12 + 4 * fci.length;
  const nack = Buffer.alloc(size);
  header(nack, 0, 0x10 | 1, RTCP_RTPFB, size);
  nack.writeUInt32BE(o.senderSsrc >>> 0, 4);
  nack.writeUInt32BE(o.mediaSsrc >>> 0, 8);
  fci.forEach(([pid, blp], i) => {
    nack.writeUInt16BE(pid, 12 + 4 * i);
    nack.writeUInt16BE(blp, 14 + 4 * i);
  });
  const rr = Buffer.alloc(8);
  header(rr, 0, 0, RTCP_RR, 8);
  rr.writeUInt32BE(o.senderSsrc >>> 0, 4);
  return Buffer.concat([rr, nack, sdes(o.senderSsrc, wmsNackCname(o.rtxSsrc))]);
}

/** BYE for one source. */
export function buildBye(ssrc: number): Buffer {
  const out = Buffer.alloc(8);
  header(out, 0, 1, RTCP_BYE, 8);
  out.writeUInt32BE(ssrc >>> 0, 4);
  return out;
}
