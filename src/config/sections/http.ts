import type { Schema } from '../schema.js';
import { listenerFields, type ListenerConfig } from './listener.js';

export interface HttpConfig extends ListenerConfig {
  /** bytes of request line + headers before 431 */
  maxHeaderBytes: number;
  /** bytes of a request body (log POSTs, commands) before 413 */
  maxBodyBytes: number;
  /** most requests one keep-alive connection may make (pipelined WMSP included) before it is closed */
  maxRequestsPerConnection: number;
}

export const httpSchema: Schema = {
  kind: 'object',
  doc: 'The one HTTP listener: WMSP players, encoder pushes, log posts, .asx files and the status API',
  fields: {
    ...listenerFields({ port: 8080, what: 'HTTP' }),
    maxHeaderBytes: { kind: 'int', doc: 'Largest request line plus headers, in bytes', default: 16384, min: 1024, max: 1048576 },
    maxBodyBytes: { kind: 'int', doc: 'Largest request body (log posts, API), in bytes', default: 65536, min: 1024, max: 16777216 },
    maxRequestsPerConnection: { kind: 'int', doc: 'Most requests on one keep-alive connection (pipelined WMSP included) before it is closed', default: 10000, min: 1, max: 10000000 },
  },
};
