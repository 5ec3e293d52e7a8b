import type { Schema } from '../schema.js';

export interface PackagerConfig {
  /** external DRM packager (empty: files dropped into incoming/ are published as they are, after an ASF check) */
  command: string;
  /** arguments; {input}, {output}, {point} and {name} are replaced */
  args: string[];
  timeoutMs: number;
  /** how often each on-demand point's incoming/ is looked at */
  scanIntervalMs: number;
  /** largest file accepted by an upload through the API */
  maxUploadBytes: number;
  /** on-demand points whose incoming/ is watched (empty: every on-demand point) */
  points: string[];
}

export const packagerSchema: Schema = {
  kind: 'object',
  doc: 'Publishing files dropped into an on-demand directory\'s incoming/ (or uploaded through the API), through an optional DRM packager; mss encrypts nothing itself',
  fields: {
    command: { kind: 'string', doc: 'DRM packager program run on each new file (empty: publish after an ASF check only)', default: '', maxLength: 1024 },
    args: { kind: 'array', doc: 'Its arguments: {input}, {output}, {point}, {name} are replaced', default: ['{input}', '{output}'], maxItems: 64, items: { kind: 'string', doc: 'argument', maxLength: 1024 } },
    timeoutMs: { kind: 'int', doc: 'A packager still running after this long is killed (the file is not published)', default: 600000, min: 1000, max: 86400000 },
    scanIntervalMs: { kind: 'int', doc: 'How often incoming/ folders are looked at (a file must keep its size for one interval)', default: 5000, min: 200, max: 3600000 },
    maxUploadBytes: { kind: 'int', doc: 'Largest file an API upload may send', default: 2147483648, min: 1024, max: 1099511627776 },
    points: { kind: 'array', doc: 'On-demand points whose incoming/ is watched (empty: all)', default: [], maxItems: 1000, items: { kind: 'string', doc: 'point name', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/ } },
  },
};
