import type { Schema } from '../schema.js';
import { accessSchema, authSchema, type AccessConfig, type AuthConfig } from './server.js';

/** Who may use the operator routes: the control API, /metrics (unless metrics.protect is off), the status page. */
export interface ApiConfig {
  auth: AuthConfig;
  access: AccessConfig;
}

export const apiSchema: Schema = {
  kind: 'object',
  doc: 'Who may use the control API, /metrics and the status page (accounts as for a publishing point, and an address list)',
  fields: {
    auth: authSchema,
    access: {
      ...(accessSchema as Extract<Schema, { kind: 'object' }>),
      doc: 'Addresses allowed to the operator routes (default: this machine only, until accounts are configured)',
      fields: {
        ...(accessSchema as Extract<Schema, { kind: 'object' }>).fields,
        allow: { kind: 'array', doc: 'Addresses or CIDR blocks allowed (empty: all)', default: ['127.0.0.0/8', '::1'], maxItems: 1000, items: { kind: 'string', doc: 'address or CIDR', maxLength: 64 } },
      },
    },
  },
};
