/** Shared by the MSB tests: an ASF file's header and packets, and a comparison of packets by what they carry. */
import { createHash } from 'node:crypto';
import { makeBroadcastHeader, openAsfFile, parseDataPacket } from '../../../src/asf/index.js';

export interface LoadedAsf {
  /** broadcast header (Header Object + Data Object head), as a live point sends it */
  header: Buffer;
  packetSize: number;
  packets: Buffer[];
}

export async function loadAsf(file: string, max = Infinity): Promise<LoadedAsf> {
  const f = await openAsfFile(file);
  try {
    const n = Math.min(f.layout.packetCount, max);
    return { header: makeBroadcastHeader(f.layout.headerBytes), packetSize: f.layout.packetSize, packets: await f.readPackets(0, n) };
  } finally {
    await f.close();
  }
}

/**
 * What a packet carries, independent of how its header fields are laid out (padding, packet length field,
 * error-correction bytes): send time, duration and every payload with a digest of its bytes.
 */
export function packetContent(packet: Buffer, packetSize: number): string {
  const p = parseDataPacket(packet, packetSize);
  return JSON.stringify({
    send: p.sendTime,
    duration: p.duration,
    payloads: p.payloads.map((pl) => [pl.streamNumber, pl.keyFrame, pl.objectNumber, pl.offsetIntoObject, pl.objectSize, pl.presentationTime,
      createHash('sha1').update(pl.replicatedData).update(pl.data).digest('hex')]),
  });
}

import type { Logger } from '../../../src/core/log.js';

/** a Logger that keeps what it is told (for assertions) and prints nothing */
export function quietLogger(lines: Array<{ level: string; event: string; fields?: Record<string, unknown> }> = []): Logger {
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) => void lines.push({ level, event, fields });
  const self: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => self, enabled: () => true };
  return self;
}
