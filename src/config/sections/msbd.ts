/**
 * The MS-MSBD listener: serves broadcast points to downstream servers (and legacy pull clients) over TCP.
 * MSBD has no authentication, so it is off unless enabled, and it never serves a point that requires a login.
 */
import type { Schema } from '../schema.js';
import { listenerFields, type ListenerConfig } from './listener.js';

export interface MsbdConfig extends ListenerConfig {
  enabled: boolean;
  /** the point a client asking for the channel "NetShow" (what Windows clients send) gets; empty: refused */
  defaultPoint: string;
  /** a ping (MSB_MSG_REQ_PING) goes out this often; a client that does not answer within the same time is dropped */
  pingIntervalMs: number;
}

export const msbdSchema: Schema = {
  kind: 'object',
  doc: 'MSBD (server-to-server distribution, legacy encoder pull) listener',
  fields: {
    enabled: { kind: 'bool', doc: 'Listen for MSBD clients (no authentication in MSBD: off by default)', default: false },
    ...listenerFields({ port: 7007, what: 'MSBD' }),
    defaultPoint: { kind: 'string', doc: 'Broadcast point served to clients that ask for the channel "NetShow" (empty: refused)', default: '', pattern: /^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$/ },
    pingIntervalMs: { kind: 'int', doc: 'How often a ping goes to each client; no answer within as long drops it', default: 120000, min: 1000, max: 3600000 },
  },
};
