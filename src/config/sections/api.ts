import type { Schema } from '../schema.js';
import { accountsSchema, realmSchema } from './accounts.js';

export interface ApiConfig {
  /** answer operator endpoints (/api/*) from addresses other than loopback */
  allowRemote: boolean;
  auth: {
    scheme: 'none' | 'basic' | 'digest' | 'bearer';
    realm: string;
    users: Array<{ name: string; password: string }>;
    tokens: string[];
  };
  /** a failed attempt's refusal is answered after this delay */
  refusalDelayMs: number;
  /** failed attempts per address and minute before refusals come at once (429) */
  maxFailuresPerMinute: number;
}

/**
 * The operator endpoints (/api/status, /api/logs, and every later one). The development default answers loopback
 * only, without credentials; a board profile overlay turns `allowRemote` and `auth.scheme` on.
 */
export const apiSchema: Schema = {
  kind: 'object',
  doc: 'Who may use the operator endpoints (/api/status, /api/logs, ...)',
  fields: {
    allowRemote: { kind: 'bool', doc: 'Answer other hosts than loopback (off: 403 for them); a board profile turns it on with auth', default: false },
    auth: {
      kind: 'object',
      doc: 'Credentials the operator endpoints ask for (every caller, loopback included, once a scheme is set)',
      fields: {
        scheme: { kind: 'enum', doc: 'none, HTTP Basic, Digest, or a bearer token (Authorization: Bearer ...)', values: ['none', 'basic', 'digest', 'bearer'], default: 'none' },
        realm: realmSchema('Realm shown in the challenge', 'mss api'),
        users: accountsSchema('Accounts for basic and digest (none: nobody gets in)', 100),
        tokens: {
          kind: 'array',
          doc: 'Bearer tokens (none: nobody gets in)',
          default: [],
          maxItems: 100,
          items: { kind: 'string', doc: 'A token (16 to 256 characters of A-Z a-z 0-9 - . _ ~ + /)', pattern: /^[A-Za-z0-9\-._~+/]{16,256}$/, secret: true },
        },
      },
    },
    refusalDelayMs: { kind: 'int', doc: 'A wrong password or token is answered after this delay', default: 1000, min: 0, max: 30000 },
    maxFailuresPerMinute: { kind: 'int', doc: 'Failed attempts per address and minute; more are refused at once (429) until the minute has room', default: 10, min: 1, max: 10000 },
  },
};
