/**
 * The parsed layouts (header, Data Object head, indexes) of ASF files recently opened, so that on-demand sessions
 * of the same file and every seek (a new Play request, a new open) skip reading and parsing them again. An entry
 * counts only while the file is the same one: same device, inode, size and modification time as when it was read;
 * a file replaced or rewritten in place is read afresh. Bounded by entries and by bytes (least recently used out).
 * Layouts are shared: nobody changes one after openAsfFile returns it.
 */
import type { Stats } from 'node:fs';
import type { AsfFileLayout } from './file.js';

type Identity = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>;

interface Entry {
  key: string;
  layout: AsfFileLayout;
  bytes: number;
}

export class AsfLayoutCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  readonly stats = { hits: 0, misses: 0 };

  constructor(private readonly limits: { maxEntries: number; maxBytes: number } = { maxEntries: 256, maxBytes: 16 * 1024 * 1024 }) {}

  get(path: string, st: Identity): AsfFileLayout | undefined {
    const e = this.entries.get(path);
    if (!e || e.key !== keyOf(st)) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    // most recently used last
    this.entries.delete(path);
    this.entries.set(path, e);
    return e.layout;
  }

  set(path: string, st: Identity, layout: AsfFileLayout): void {
    const bytes = layoutBytes(layout);
    this.drop(path);
    if (bytes > this.limits.maxBytes / 4) return; // one huge index would evict everything else
    this.entries.set(path, { key: keyOf(st), layout, bytes });
    this.bytes += bytes;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      this.drop(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(path: string): void {
    const e = this.entries.get(path);
    if (!e) return;
    this.entries.delete(path);
    this.bytes -= e.bytes;
  }
}

function keyOf(st: Identity): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** what a layout holds, roughly: its header bytes and index entries */
function layoutBytes(l: AsfFileLayout): number {
  let n = l.headerBytes.length * 2 + 1024;
  for (const s of l.simpleIndexes) n += s.entries.length * 48;
  for (const i of l.indexObjects) for (const o of i.offsets) n += o.length * 8;
  return n;
}

/** the process's cache: on-demand sessions, seeks and looped broadcast files of every point share it */
export const fileLayouts = new AsfLayoutCache();
