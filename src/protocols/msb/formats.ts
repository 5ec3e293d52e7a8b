/**
 * The ASF headers a multicast output has sent, each with its 11-bit Format ID: the framer stamps the ID into
 * every packet's wStreamID and the `.nsc` lists the same headers with the same IDs (MS-MSB 3.1.3.1: every header
 * a client may need, each with its own ID). IDs come from a hash of the header, so a header seen again keeps its
 * ID; a collision takes the next free value. Bounded: the oldest headers are forgotten first.
 */
import { MssError } from '../../core/errors.js';
import { FORMAT_ID_MASK, formatIdOf } from './nsc.js';

export const MAX_REMEMBERED_FORMATS = 16;

export interface KnownFormat {
  formatId: number;
  header: Buffer;
}

export class FormatBook {
  private readonly entries: KnownFormat[] = [];

  constructor(private readonly limit = MAX_REMEMBERED_FORMATS) {
    if (limit < 1 || limit > FORMAT_ID_MASK) throw new MssError('invalid-argument', `format book limit ${limit} outside 1..${FORMAT_ID_MASK}`);
  }

  /** The Format ID of a header, adding it (as the newest) when it is new. */
  idFor(header: Buffer): number {
    const i = this.entries.findIndex((e) => e.header.equals(header));
    if (i >= 0) {
      const [e] = this.entries.splice(i, 1);
      this.entries.push(e!);
      return e!.formatId;
    }
    if (this.entries.length >= this.limit) this.entries.shift();
    const used = new Set(this.entries.map((e) => e.formatId));
    let id = formatIdOf(header);
    while (used.has(id)) id = (id % FORMAT_ID_MASK) + 1;
    this.entries.push({ formatId: id, header: Buffer.from(header) });
    return id;
  }

  /** every remembered header, newest last */
  list(): readonly KnownFormat[] {
    return this.entries;
  }

  get size(): number {
    return this.entries.length;
  }
}
