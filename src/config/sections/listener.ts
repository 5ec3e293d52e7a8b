/**
 * The settings every TCP listener shares (HTTP, RTSP, MMS, MSBD): where it listens and the limits that keep one
 * peer or a flood of idle sockets from locking everyone else out. A protocol section spreads these fields.
 */
import type { Schema } from '../schema.js';

export interface ListenerConfig {
  host: string;
  port: number;
  /** most connections held at once */
  maxConnections: number;
  /** most connections from one address (0: no limit) */
  maxConnectionsPerAddress: number;
  /** a request (line + headers, or one message) must arrive whole within this time of its first byte */
  headerTimeoutMs: number;
  /** a connection with no request in progress and no stream running is closed after this */
  idleTimeoutMs: number;
  /** a streaming connection on which nothing moved (no byte read or written) for this long is closed */
  streamIdleTimeoutMs: number;
}

export function listenerFields(defaults: { port: number; host?: string; what: string }): Record<string, Schema> {
  return {
    host: { kind: 'string', doc: `Address the ${defaults.what} listener binds to`, default: defaults.host ?? '0.0.0.0', maxLength: 255 },
    port: { kind: 'int', doc: `TCP port of the ${defaults.what} listener (0 = any free port)`, default: defaults.port, min: 0, max: 65535 },
    maxConnections: { kind: 'int', doc: 'Most TCP connections held at once', default: 5000, min: 1, max: 100000 },
    maxConnectionsPerAddress: { kind: 'int', doc: 'Most TCP connections from one address (0: no limit)', default: 500, min: 0, max: 100000 },
    headerTimeoutMs: { kind: 'int', doc: 'Time allowed for a request to arrive whole once it began', default: 10000, min: 100, max: 600000 },
    idleTimeoutMs: { kind: 'int', doc: 'Idle time after which a connection that is not streaming is closed', default: 60000, min: 1000, max: 3600000 },
    streamIdleTimeoutMs: { kind: 'int', doc: 'A streaming connection with no byte moving for this long is closed', default: 300000, min: 5000, max: 86400000 },
  };
}
