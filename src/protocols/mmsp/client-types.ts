/** The MMS client's options, the facts it reports when the file is open, its counters and its events. */
import type { ClientStreamEvents } from '../shared/client-stream.js';
import type { MssError } from '../../core/errors.js';
import type { AsfHeader } from '../../asf/header.js';
import type { MmsClientCredentials } from './client-parts.js';
import type { OpenFileReport } from './messages.js';

export interface MmsOpenOptions {
  startMs?: number;
  /** resume at this ASF packet number (wins over startMs) */
  packetNumber?: number;
  streams?: readonly number[];
  maxBitrate?: number;
  credentials?: MmsClientCredentials;
  /** product token of subscriberName (NSPlayer/9.0.0.2980) */
  userAgent?: string;
  clientGuid?: string;
  timeoutMs?: number;
  /** default: udp for mmsu://, tcp otherwise */
  transport?: 'tcp' | 'udp';
  /** ask for packet-pair bandwidth estimation (FunnelInfo 0xF0F0F0F1 / 0xF0F0F901) */
  packetPair?: boolean;
  /** UDP: how long a gap waits for resent packets before they count as lost */
  reorderMs?: number;
}

export interface MmsDescribeInfo {
  url: URL;
  transport: 'tcp' | 'udp';
  clientId: number;
  serverVersion: string;
  broadcast: boolean;
  seekable: boolean;
  openFile: OpenFileReport;
  headerBytes: Buffer;
  header: AsfHeader;
  selectedStreams: number[];
  /** bits/s measured by packet-pair, when it ran */
  packetPairBps?: number;
}

export interface MmsStreamStats {
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  longestLossRun: number;
  lastLocationId: number | undefined;
  resendRequests: number;
  packetsRecovered: number;
}

export type MmsStreamEvents = ClientStreamEvents<MmsDescribeInfo>;
