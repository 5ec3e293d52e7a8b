import type { Schema } from '../schema.js';

export interface GeneralConfig {
  /** where the database, logs and archives live */
  dataDir: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** board profile name from board/ (auto = detect) */
  board: string;
}

export const generalFields: Record<string, Schema> = {
  dataDir: { kind: 'string', doc: 'Directory for the database, W3C logs and archives', default: './var', localOnly: true },
  logLevel: { kind: 'enum', doc: 'Lowest level of structured log lines written to stderr', values: ['debug', 'info', 'warn', 'error'], default: 'info' },
  board: { kind: 'string', doc: 'Board profile (a file name in board/, or "auto" to detect)', default: 'auto', pattern: /^[a-z0-9-]+$/ },
};
