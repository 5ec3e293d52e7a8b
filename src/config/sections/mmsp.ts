import type { Schema } from '../schema.js';
import { listenerFields, type ListenerConfig } from './listener.js';

/** The MMS (MS-MMSP) listener: mmst:// and mmsu:// players on TCP 1755, UDP data and resend requests. */
export interface MmspConfig extends ListenerConfig {
  enabled: boolean;
  /** offer UDP data (mmsu://); resend requests arrive on the UDP port with the TCP port's number */
  udp: boolean;
  /** answer packet-pair bandwidth probes (FunnelInfo 0xF0F0F0F0/F1 over TCP, 0xF0F0F901 over UDP) */
  packetPair: boolean;
  /** a Ping after this much control silence (spec: 30 s, at least 10 s) */
  keepAliveMs: number;
  /** a session neither streaming nor asking for anything this long is closed (spec Idle-Timeout: 3,600 s) */
  sessionIdleMs: number;
  /** largest control packet a player may send */
  maxMessageBytes: number;
  /** control messages per second a player may send (pings, pongs, floods); beyond it the session is closed */
  maxMessagesPerSecond: number;
  /** UDP: Data packets each session keeps for resend requests (one per sequence number, at most 256) */
  resendBufferPackets: number;
  /** UDP: packets resent per second to one session at most */
  maxResendsPerSecond: number;
}

export const mmspSchema: Schema = {
  kind: 'object',
  doc: 'The MMS listener (MS-MMSP): mmst:// and mmsu:// players, the protocol old Windows Media Players and embedded radios speak',
  fields: {
    enabled: { kind: 'bool', doc: 'Serve the publishing points over MMS too', default: true },
    ...listenerFields({ port: 1755, what: 'MMS' }),
    udp: { kind: 'bool', doc: 'Offer UDP data (mmsu://); resend requests arrive on the UDP port of the same number', default: true },
    packetPair: { kind: 'bool', doc: 'Answer packet-pair bandwidth probes', default: true },
    keepAliveMs: { kind: 'int', doc: 'A Ping after this much silence on the control connection', default: 30000, min: 10000, max: 3600000 },
    sessionIdleMs: { kind: 'int', doc: 'A session not streaming and sending no request this long is closed', default: 3600000, min: 10000, max: 86400000 },
    maxMessageBytes: { kind: 'int', doc: 'Largest control packet a player may send, in bytes', default: 16384, min: 2048, max: 65536 },
    maxMessagesPerSecond: { kind: 'int', doc: 'Control messages per second one player may send before its session is closed', default: 200, min: 10, max: 100000 },
    resendBufferPackets: { kind: 'int', doc: 'UDP: recent Data packets each session keeps for resend requests', default: 128, min: 0, max: 256 },
    maxResendsPerSecond: { kind: 'int', doc: 'UDP: packets resent to one session per second at most', default: 200, min: 0, max: 100000 },
  },
};
