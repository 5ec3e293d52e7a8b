/**
 * `mss probe <file> [--json]`: describes an ASF source — streams, duration, preroll, packets, flags,
 * index. The input side is one small function per kind of source (`ProbeOpener`), so URL sources
 * (mmsh://, http://, rtsp://) can plug in through `registerProbeOpener` without touching this file.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { MssError, isMssError, systemReason } from '../core/errors.js';
import { measureFileBitrates, openAsfFile, type AsfFileLayout } from '../asf/file.js';
import type { AsfHeader } from '../asf/header.js';
import { measureStreamBitrates, readSendTime } from '../asf/packet.js';
import { AsfStreamParser } from '../asf/stream-parser.js';
import { parseArgs, withPrefix, type OptionSpec } from './args.js';
import { envHelp } from './help.js';

/** What a source tells the prober. */
export interface ProbeInput {
  /** 'asf' (a file with a Data Object), 'asf_stream' ($H/$D framed), or a protocol name for URLs */
  format: string;
  header: AsfHeader;
  packetCount: number | null;
  simpleIndexes: AsfFileLayout['simpleIndexes'];
  indexObjects?: AsfFileLayout['indexObjects'];
  sizeBytes: number | null;
  /** bitrate per stream measured from the packets (for streams whose header gives none) */
  measuredBitrates?: Map<number, number>;
  /** send-time span of the packets, for captures whose (broadcast) header gives no duration */
  measuredDurationMs?: number;
}

export type ProbeOpener = (input: string) => Promise<ProbeInput>;

const urlOpeners = new Map<string, ProbeOpener>();

/** Lets another module (the player) probe URLs of a scheme, e.g. registerProbeOpener('mmsh', ...). */
export function registerProbeOpener(scheme: string, opener: ProbeOpener): void {
  urlOpeners.set(scheme.toLowerCase(), opener);
}

async function openFileInput(file: string): Promise<ProbeInput> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    throw new MssError('not-found', `cannot read ${file}: ${systemReason(err)}`, { path: file });
  }
  if (!st.isFile()) throw new MssError('invalid-argument', `${file} is not a regular file`, { path: file });
  const head = Buffer.alloc(2);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x24 && head[1] === 0x48) return openFramedFile(file, st.size);
  const asf = await openAsfFile(file);
  try {
    const { layout } = asf;
    let measuredDurationMs: number | undefined;
    if (layout.header.durationMs === 0 && layout.packetCount > 0) {
      const first = readSendTime(await asf.readPacket(0));
      measuredDurationMs = readSendTime(await asf.readPacket(layout.packetCount - 1)) - first;
    }
    return {
      measuredDurationMs,
      format: 'asf',
      header: layout.header,
      packetCount: layout.packetCount,
      simpleIndexes: layout.simpleIndexes,
      indexObjects: layout.indexObjects,
      sizeBytes: st.size,
      measuredBitrates: await measureFileBitrates(asf),
    };
  } finally {
    await asf.close();
  }
}

/** A `-f asf_stream` recording: read it through the stream parser, counting packets. */
async function openFramedFile(file: string, size: number): Promise<ProbeInput> {
  const parser = new AsfStreamParser({ validatePackets: true });
  let header: AsfHeader | null = null;
  let packets = 0;
  const sample: Buffer[] = [];
  let firstSend = -1;
  let lastSend = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
    for (const ev of parser.push(chunk as Buffer)) {
      if (ev.type === 'header') {
        header ??= ev.header;
      } else {
        packets++;
        if (sample.length < 2000) sample.push(ev.packet);
        lastSend = readSendTime(ev.packet);
        if (firstSend < 0) firstSend = lastSend;
      }
    }
  }
  if (!header) throw new MssError('truncated', `${file}: no complete ASF header in the stream`, { path: file });
  const measuredBitrates = sample.length ? measureStreamBitrates(sample, header.fileProperties.packetSize) : undefined;
  const measuredDurationMs = header.durationMs === 0 && packets > 0 ? lastSend - firstSend : undefined;
  return { format: 'asf_stream', header, packetCount: packets, simpleIndexes: [], sizeBytes: size, measuredBitrates, measuredDurationMs };
}

export async function openProbeInput(input: string): Promise<ProbeInput> {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input);
  if (m) {
    const opener = urlOpeners.get(m[1]!.toLowerCase());
    if (!opener) throw new MssError('unsupported', `probing ${m[1]}:// URLs is not available in this build`, { input });
    return opener(input);
  }
  return openFileInput(input);
}

export interface ProbeReport {
  input: string;
  format: string;
  durationMs: number;
  /** send-time span of the packets when the header gives no duration (live captures) */
  measuredDurationMs?: number;
  prerollMs: number;
  packetSize: number;
  packetCount: number | null;
  broadcast: boolean;
  seekable: boolean;
  indexPresent: boolean;
  indexIntervalMs: number | null;
  maxBitrate: number;
  totalBitrate: number;
  sizeBytes: number | null;
  title?: string;
  author?: string;
  streams: {
    number: number;
    type: string;
    codec: string;
    codecName: string;
    codecTag: number | string;
    bitrate: number;
    /** measured from the packets, when the header gives no bitrate */
    measuredBitrate?: number;
    width?: number;
    height?: number;
    sampleRate?: number;
    channels?: number;
    encrypted: boolean;
    name?: string;
  }[];
}

export function buildProbeReport(input: string, src: ProbeInput): ProbeReport {
  const h = src.header;
  const fp = h.fileProperties;
  const idx = src.simpleIndexes.find((s) => s.entries.length > 0);
  const idxObj = src.indexObjects?.find((o) => o.offsets.some((list) => list.length > 0));
  const report: ProbeReport = {
    input,
    format: src.format,
    durationMs: h.durationMs,
    ...(src.measuredDurationMs !== undefined ? { measuredDurationMs: src.measuredDurationMs } : {}),
    prerollMs: fp.prerollMs,
    packetSize: fp.packetSize,
    packetCount: src.packetCount,
    broadcast: fp.broadcast,
    seekable: fp.seekable,
    indexPresent: !!idx || !!idxObj,
    indexIntervalMs: idx ? idx.intervalMs : idxObj ? idxObj.intervalMs : null,
    maxBitrate: fp.maxBitrate,
    totalBitrate: h.totalBitrate,
    sizeBytes: src.sizeBytes,
    streams: h.streams.map((s) => ({
      number: s.number,
      type: s.type,
      codec: s.codec,
      codecName: s.codecName,
      codecTag: s.codecTag,
      bitrate: s.bitrate,
      ...(s.bitrate === 0 && src.measuredBitrates?.get(s.number) ? { measuredBitrate: src.measuredBitrates.get(s.number)! } : {}),
      ...(s.width !== undefined ? { width: s.width, height: s.height } : {}),
      ...(s.sampleRate !== undefined ? { sampleRate: s.sampleRate, channels: s.channels } : {}),
      encrypted: s.encrypted,
      ...(s.name ? { name: s.name } : {}),
    })),
  };
  if (h.contentDescription?.title) report.title = h.contentDescription.title;
  if (h.contentDescription?.author) report.author = h.contentDescription.author;
  return report;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function kbps(bps: number): string {
  return bps > 0 ? `${(bps / 1000).toFixed(bps % 1000 === 0 || bps > 100_000 ? 0 : 1)} kbps` : '-';
}

function durationText(r: ProbeReport): string {
  if (r.durationMs > 0 || !r.broadcast) return `${(r.durationMs / 1000).toFixed(3)} s`;
  const measured = r.measuredDurationMs !== undefined ? `, ~${(r.measuredDurationMs / 1000).toFixed(1)} s of packets` : '';
  return `live (broadcast header)${measured}`;
}

export function formatProbeReport(r: ProbeReport): string {
  const lines = [
    `input:     ${r.input}`,
    `format:    ${r.format}${r.title ? `  title: ${r.title}` : ''}`,
    `duration:  ${durationText(r)}   preroll: ${r.prerollMs} ms`,
    `packets:   ${r.packetCount ?? '?'} x ${r.packetSize} bytes   max bitrate: ${kbps(r.maxBitrate)}`,
    `flags:     broadcast: ${yesNo(r.broadcast)}   seekable: ${yesNo(r.seekable)}   index: ${r.indexPresent ? `yes (${r.indexIntervalMs} ms)` : 'no'}`,
    '',
  ];
  const rows = [['#', 'type', 'codec', 'bitrate', 'details']];
  for (const s of r.streams) {
    const details =
      s.width !== undefined ? `${s.width}x${s.height}`
      : s.sampleRate !== undefined ? `${s.sampleRate} Hz, ${s.channels} ch`
      : '';
    const rate = s.bitrate > 0 ? kbps(s.bitrate) : s.measuredBitrate ? `~${kbps(s.measuredBitrate)}` : '-';
    rows.push([String(s.number), s.type, s.codec, rate, details + (s.encrypted ? ' (encrypted)' : '') + (s.name ? ` "${s.name}"` : '')]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) lines.push(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  return lines.join('\n') + '\n';
}

export const OPTIONS: Record<string, OptionSpec> = {
  json: { value: false },
  devices: { value: false },
  'dev-dir': { value: true },
  board: { value: false },
  help: { value: false, alias: 'h' },
};

const USAGE = 'usage: mss probe <file> [--json]\n       mss probe --devices [--dev-dir /dev] [--json]   (V4L2 capture and encoder devices)\n       mss probe --board [--json]                     (the board profile and what detection saw)\n';

export const HELP = `${USAGE}  Describes an ASF file (or an asf_stream capture): streams, duration, preroll, packets, flags, index.

  --json           the report as JSON
  --devices        list the V4L2 capture and encoder devices (capabilities, formats, frame sizes)
  --dev-dir <dir>  where --devices looks (default /dev)
  --board          the board profile chosen for this machine and why
  -h, --help       this text
${envHelp({ config: false, extra: { MSS_BOARD: 'the board profile to use instead of detecting one (--board)', MSS_NATIVE: 'off: do not load the native addon (--devices then says it is not available)' } })}`;

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export async function run(args: string[]): Promise<number> {
  try {
    const { options, positionals } = parseArgs(args, OPTIONS);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (options.board) {
      const { boardFactsFromSystemInformation, selectBoard } = await import('../../board/detect.js');
      const facts = await boardFactsFromSystemInformation();
      const choice = selectBoard('auto', process.env, () => facts);
      const report = { board: choice.profile.id, source: choice.source, matched: choice.detail, facts, profile: choice.profile };
      const text = `board:   ${choice.profile.id} (${choice.source}: ${choice.detail})\n         ${choice.profile.description}\nmodel:   ${facts.deviceTreeModel || facts.dmiProduct || '-'}\narch:    ${facts.arch}\n`;
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : text);
      return 0;
    }
    if (options.devices) {
      if (positionals.length !== 0) throw new MssError('invalid-argument', `--devices takes no input, got ${positionals.length}\n${USAGE}`);
      const { native } = await import('../native/index.js');
      const { formatV4l2Report, probeVideoDevices } = await import('../native/v4l2.js');
      const report = probeVideoDevices(native(), (options['dev-dir'] as string | undefined) ?? '/dev');
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatV4l2Report(report));
      return 0;
    }
    if (positionals.length !== 1) throw new MssError('invalid-argument', `expected one input, got ${positionals.length}\n${USAGE}`);
    const input = positionals[0]!;
    const report = buildProbeReport(input, await openProbeInput(input));
    process.stdout.write(options.json ? JSON.stringify(report, jsonReplacer, 2) + '\n' : formatProbeReport(report));
    return 0;
  } catch (err) {
    if (!isMssError(err)) throw err;
    process.stderr.write(withPrefix('mss probe', err.message) + '\n');
    return err.code === 'invalid-argument' ? 2 : 1;
  }
}
