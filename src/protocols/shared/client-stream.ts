/**
 * What every protocol's client stream emits (WMSP, RTSP, MMS), so the player and the proxy take them alike: the
 * protocol's description of the content once, the ASF header (again after each stream change), ASF data packets
 * with their LocationId, and the end (a protocol reason code) or an error.
 */
import type { AsfHeader } from '../../asf/header.js';
import type { MssError } from '../../core/errors.js';

export interface ClientStreamEvents<D, P extends { locationId: number } = { locationId: number }> {
  describe: [info: D];
  header: [headerBytes: Buffer, header: AsfHeader];
  packet: [packet: Buffer, info: P];
  'stream-change': [];
  end: [reason: number];
  error: [err: MssError];
  close: [];
}
