import type { Schema } from '../schema.js';

/**
 * Who may use the operator routes: the control API, /metrics (unless metrics.protect is off), the status page.
 * (The same shape as the api section being built on the harden branch, so the two meet without a reshape.)
 */
export interface ApiConfig {
  /** answer hosts other than loopback (off: 403 for them) */
  allowRemote: boolean;
  auth: {
    scheme: 'none' | 'basic' | 'digest' | 'bearer';
    realm: string;
    users: Array<{ name: string; password: string }>;
    tokens: string[];
  };
}

export const apiSchema: Schema = {
  kind: 'object',
  doc: 'Who may use the operator routes (control API, /metrics, status page): loopback only without credentials by default',
  fields: {
    allowRemote: { kind: 'bool', doc: 'Answer other hosts than loopback (off: 403 for them); turn it on with auth', default: false },
    auth: {
      kind: 'object',
      doc: 'Credentials the operator routes ask for (every caller, loopback included, once a scheme is set)',
      fields: {
        scheme: { kind: 'enum', doc: 'none, HTTP Basic, Digest, or a bearer token (Authorization: Bearer ...)', values: ['none', 'basic', 'digest', 'bearer'], default: 'none' },
        realm: { kind: 'string', doc: 'Realm shown in the challenge', default: 'mss api', maxLength: 128, pattern: /^[^"\\]*$/ },
        users: {
          kind: 'array',
          doc: 'Accounts for basic and digest (none: nobody gets in)',
          default: [],
          maxItems: 100,
          items: {
            kind: 'object',
            doc: 'An account',
            fields: {
              name: { kind: 'string', doc: 'User name', pattern: /^[^:\s]{1,64}$/ },
              password: { kind: 'string', doc: 'Password', maxLength: 256, secret: true },
            },
          },
        },
        tokens: {
          kind: 'array',
          doc: 'Bearer tokens (none: nobody gets in)',
          default: [],
          maxItems: 100,
          items: { kind: 'string', doc: 'A token (16 to 256 characters of A-Z a-z 0-9 - . _ ~ + /)', pattern: /^[A-Za-z0-9\-._~+/]{16,256}$/, secret: true },
        },
      },
    },
  },
};
