import type { Schema } from '../schema.js';

export interface LogsConfig {
  /** W3C extended log files are written here (relative to dataDir when not absolute) */
  w3cDir: string;
  /** rotate a W3C file when it reaches this size */
  rotateBytes: number;
  /** keep this many days of rows in the database */
  retainDays: number;
  /** largest accepted log POST body */
  maxPostBytes: number;
  /** log POSTs accepted per client address per minute */
  postsPerMinute: number;
}

export const logsSchema: Schema = {
  kind: 'object',
  doc: 'Player and server logs (MS-WMLOG)',
  fields: {
    w3cDir: { kind: 'string', doc: 'Directory of W3C extended log files (relative to dataDir)', default: 'logs' },
    rotateBytes: { kind: 'int', doc: 'Start a new W3C file at this size (and at every UTC day change)', default: 10485760, min: 4096 },
    retainDays: { kind: 'int', doc: 'Days of log rows kept in the database (rows already in a W3C file)', default: 30, min: 1, max: 3650 },
    maxPostBytes: { kind: 'int', doc: 'Largest log POST body accepted (larger: 413, nothing stored)', default: 65536, min: 1024, max: 16777216 },
    postsPerMinute: { kind: 'int', doc: 'Log POSTs accepted per client address per minute (more: 429 on /logs, logged once a minute)', default: 60, min: 1, max: 100000 },
  },
};
