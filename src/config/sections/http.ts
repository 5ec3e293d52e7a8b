import type { Schema } from '../schema.js';

export interface HttpConfig {
  host: string;
  port: number;
  /** bytes of request line + headers before 431 */
  maxHeaderBytes: number;
  /** bytes of a request body (log POSTs, commands) before 413 */
  maxBodyBytes: number;
  /** a request's headers must arrive within this time (slowloris) */
  headerTimeoutMs: number;
  /** an idle keep-alive or non-streaming connection is closed after this */
  idleTimeoutMs: number;
  maxConnections: number;
}

export const httpSchema: Schema = {
  kind: 'object',
  doc: 'The one HTTP listener: WMSP players, encoder pushes, log posts, .asx files and the status API',
  fields: {
    host: { kind: 'string', doc: 'Address to listen on', default: '0.0.0.0' },
    port: { kind: 'int', doc: 'TCP port (0 = any free port)', default: 8080, min: 0, max: 65535 },
    maxHeaderBytes: { kind: 'int', doc: 'Largest request line plus headers, in bytes', default: 16384, min: 1024, max: 1048576 },
    maxBodyBytes: { kind: 'int', doc: 'Largest request body (log posts, API), in bytes', default: 65536, min: 1024, max: 16777216 },
    headerTimeoutMs: { kind: 'int', doc: 'Time allowed for a request line and headers to arrive', default: 10000, min: 100, max: 600000 },
    idleTimeoutMs: { kind: 'int', doc: 'Idle time after which a connection that is not streaming is closed', default: 60000, min: 1000, max: 3600000 },
    maxConnections: { kind: 'int', doc: 'Most TCP connections held at once', default: 5000, min: 1, max: 100000 },
  },
};
