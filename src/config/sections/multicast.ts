/**
 * The multicast (MS-MSB) output of a broadcast point: one group and port per point, announced by /<point>.nsc.
 * An empty group means the point has no multicast output.
 */
import type { Schema } from '../schema.js';

export interface MulticastOutputConfig {
  /** IPv4 multicast group (224.0.0.0/4); empty: no multicast output */
  group: string;
  port: number;
  /** IP TTL of the datagrams (1: this network only) */
  ttl: number;
  /** local IPv4 address of the interface to send from (empty: the one the group's route picks) */
  interface: string;
  /** data packets per XOR parity packet (MS-MSB error correction); 0: none */
  fecSpan: number;
  /** a Beacon goes out when nothing was sent for this long (MS-MSB: 1 to 10 s) */
  beaconIntervalMs: number;
  /** deliver the datagrams to receivers on this host too (IP_MULTICAST_LOOP) */
  loopback: boolean;
  /** the .nsc Unicast URL (fallback); empty: http://<host the .nsc was asked from>/<point> */
  unicastUrl: string;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
export const MULTICAST_GROUP = new RegExp(`^(?:2(?:2[4-9]|3\\d)\\.${OCTET}\\.${OCTET}\\.${OCTET})?$`);
const IPV4_OR_EMPTY = new RegExp(`^(?:${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET})?$`);

export const multicastSchema: Schema = {
  kind: 'object',
  doc: 'Multicast (MS-MSB) output, announced at /<point>.nsc',
  fields: {
    group: { kind: 'string', doc: 'IPv4 multicast group, e.g. 239.192.0.1 (empty: no multicast output)', default: '', pattern: MULTICAST_GROUP, maxLength: 15 },
    port: { kind: 'int', doc: 'UDP port of the group', default: 19009, min: 1, max: 65535 },
    ttl: { kind: 'int', doc: 'IP time to live of the datagrams (1: this network only)', default: 1, min: 1, max: 255 },
    interface: { kind: 'string', doc: 'Local IPv4 address to send from (empty: chosen by the route to the group)', default: '', pattern: IPV4_OR_EMPTY, maxLength: 15 },
    fecSpan: { kind: 'int', doc: 'Data packets per XOR parity packet (0: no error correction)', default: 10, min: 0, max: 15 },
    beaconIntervalMs: { kind: 'int', doc: 'Send a Beacon when nothing was sent for this long', default: 5000, min: 1000, max: 10000 },
    loopback: { kind: 'bool', doc: 'Also deliver to receivers on this host', default: true },
    unicastUrl: { kind: 'string', doc: 'Fallback URL written to the .nsc (empty: http://<host>/<point>)', default: '', pattern: /^(?:(?:https?|mms|mmsh|rtsp):\/\/\S+)?$/, maxLength: 1024 },
  },
};
