import type { Schema } from '../schema.js';

/** A list of name/password accounts, as publishing points (Basic/Digest for players) and the API ask for them */
export function accountsSchema(doc: string, maxItems: number): Schema {
  return {
    kind: 'array',
    doc,
    default: [],
    maxItems,
    unique: 'name',
    items: {
      kind: 'object',
      doc: 'An account',
      fields: {
        name: { kind: 'string', doc: 'User name', pattern: /^[^:\s]{1,64}$/ },
        password: { kind: 'string', doc: 'Password', maxLength: 256, secret: true },
      },
    },
  };
}

/** an authentication realm: quoted in WWW-Authenticate, so no quote or backslash */
export function realmSchema(doc: string, fallback: string): Schema {
  return { kind: 'string', doc, default: fallback, maxLength: 128, pattern: /^[^"\\]*$/ };
}
