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
  board: { kind: 'string', doc: 'Board profile: an id from board/ (rpi4, rpi5, rk3588, amlogic-s905, generic-arm64, generic-armv7, generic-x86_64), an absolute path to a JSON profile, or "auto" to detect', default: 'auto', pattern: /^([a-z0-9_-]{1,32}|\/[^\0]{1,1000}\.json)$/ },
};
