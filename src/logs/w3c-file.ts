/**
 * W3C extended log files (the WMS log file format): a `#Software/#Version/#Date/#Fields` header, then one line
 * per entry in the MS-WMLOG field order. Crash-safe: lines are appended and fsynced per batch; the active file
 * is rotated by rename (daily, UTC, and when it reaches the size limit), and a line cut short by a crash is
 * closed off when the file is reopened so the next line starts clean.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MssError } from '../core/errors.js';
import { FIELDS_52, fileColumnName, formatW3cLine, type WmlogRecord } from '../protocols/wmlog/codec.js';

export const ACTIVE_FILE = 'mss_w3c.log';
const EOL = '\r\n';

/** The #Fields line: the 52-field order of MS-WMLOG 2.2.2, with the cs(Name) spelling WMS files use. */
export function fieldsDirective(): string {
  return `#Fields: ${FIELDS_52.map(fileColumnName).join(' ')}`;
}

export function fileHeader(software: string, atMs: number): string {
  const stamp = new Date(atMs).toISOString();
  return [`#Software: ${software}`, '#Version: 1.0', `#Date: ${stamp.slice(0, 10)} ${stamp.slice(11, 19)}`, fieldsDirective()].join(EOL) + EOL;
}

export function w3cLine(record: WmlogRecord): string {
  return formatW3cLine(record, 52);
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class W3cLogFile {
  private fh: fs.FileHandle | null = null;
  private size = 0;
  /** UTC day (YYYY-MM-DD) the active file started on */
  private day = '';
  private startedAt = 0;

  constructor(
    readonly dir: string,
    private readonly rotateBytes: number,
    private readonly software: string,
  ) {}

  get activePath(): string {
    return path.join(this.dir, ACTIVE_FILE);
  }

  /** Opens (or adopts) the active file; a half-written last line left by a crash is terminated. */
  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    let stat;
    try {
      stat = await fs.stat(this.activePath);
    } catch {
      return; // created by the first append
    }
    const fh = await fs.open(this.activePath, 'r+');
    const head = Buffer.alloc(Math.min(stat.size, 512));
    await fh.read(head, 0, head.length, 0);
    const m = /#Date: (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})/.exec(head.toString('latin1'));
    this.day = m ? m[1]! : utcDay(stat.mtimeMs);
    this.startedAt = m ? Date.parse(`${m[1]}T${m[2]}Z`) : stat.mtimeMs;
    this.size = stat.size;
    if (stat.size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, stat.size - 1);
      if (last[0] !== 0x0a) {
        await fh.write(EOL, stat.size);
        this.size += EOL.length;
      }
    }
    this.fh = fh;
  }

  /** Appends lines (one entry each) and fsyncs; rotates first when the day changed or the file is full. */
  async append(lines: readonly string[], atMs: number): Promise<void> {
    if (lines.length === 0) return;
    const text = lines.map((l) => l + EOL).join('');
    const bytes = Buffer.byteLength(text);
    if (this.fh && (utcDay(atMs) !== this.day || this.size + bytes > this.rotateBytes)) await this.rotate();
    if (!this.fh) await this.create(atMs);
    await this.fh!.write(text, this.size);
    this.size += bytes;
    await this.fh!.sync();
  }

  private async create(atMs: number): Promise<void> {
    const fh = await fs.open(this.activePath, 'w');
    const header = fileHeader(this.software, atMs);
    await fh.write(header, 0);
    this.fh = fh;
    this.size = Buffer.byteLength(header);
    this.day = utcDay(atMs);
    this.startedAt = atMs;
  }

  /** Closes the active file and renames it after the time it started; the next append starts a new one. */
  async rotate(): Promise<string | undefined> {
    if (!this.fh) return undefined;
    await this.fh.sync();
    await this.fh.close();
    this.fh = null;
    const stamp = new Date(this.startedAt).toISOString().replace(/[-:]/g, '').slice(0, 15); // YYYYMMDDTHHMMSS
    let target = path.join(this.dir, `mss_w3c_${stamp}.log`);
    for (let n = 1; await exists(target); n++) {
      if (n > 1000) throw new MssError('conflict', `cannot find a free name to rotate ${this.activePath}`);
      target = path.join(this.dir, `mss_w3c_${stamp}_${n}.log`);
    }
    await fs.rename(this.activePath, target);
    await syncDir(this.dir);
    return target;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) {
      await fh.sync().catch(() => undefined);
      await fh.close();
    }
  }

  /** Names of the W3C files in the directory (rotated ones and the active one), oldest first. */
  async files(): Promise<string[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => /^mss_w3c(_.+)?\.log$/.test(n)).sort((a, b) => (a === ACTIVE_FILE ? 1 : b === ACTIVE_FILE ? -1 : a.localeCompare(b)));
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}
