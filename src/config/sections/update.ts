import type { Schema } from '../schema.js';

export interface UpdateConfig {
  /** Ed25519 public key (PEM) that firmware-update jobs must be signed with; empty: every update is refused */
  publicKeyFile: string;
  /** rauc: RAUC over D-Bus (devices); file: A/B directories (tests, development); none: updates refused */
  installer: 'rauc' | 'file' | 'none';
  /** the file installer's slot directory (relative to dataDir) */
  slotsDir: string;
  /** where bundles are downloaded (relative to dataDir: the data partition) */
  downloadDir: string;
  maxBundleBytes: number;
  /** free space kept on the data partition beyond the bundle */
  minFreeBytes: number;
  /** HH:MM-HH:MM (local time) when an update may install even with players or an encoder active; empty: none */
  maintenanceWindow: string;
  /** time after boot for the health check to pass before the new slot is given up */
  healthTimeoutMs: number;
  /** loopback URL the post-boot health check plays from (empty: the first publishing point on http.port) */
  healthUrl: string;
  /** command that reboots the device (empty: systemctl reboot, or the board's reboot command) */
  rebootCommand: string;
}

export const updateSchema: Schema = {
  kind: 'object',
  doc: 'Signed A/B firmware updates (the firmware-update job)',
  fields: {
    // local only: a remote config must not choose whose signature a firmware update needs
    publicKeyFile: { kind: 'string', doc: 'Ed25519 public key (PEM) update jobs must be signed with (empty: updates refused)', default: '/etc/mss/update-key.pem', maxLength: 1024, localOnly: true },
    installer: { kind: 'enum', doc: 'rauc (D-Bus, devices), file (A/B directories, tests) or none', values: ['rauc', 'file', 'none'], default: 'none' },
    slotsDir: { kind: 'string', doc: 'Slot directory of the file installer (relative to dataDir)', default: 'slots', maxLength: 1024 },
    downloadDir: { kind: 'string', doc: 'Where bundles are downloaded (relative to dataDir)', default: 'updates', maxLength: 1024 },
    maxBundleBytes: { kind: 'int', doc: 'Largest bundle accepted', default: 1073741824, min: 1024, max: 17179869184 },
    minFreeBytes: { kind: 'int', doc: 'Space left free on the data partition beyond the bundle', default: 67108864, min: 0, max: 17179869184 },
    maintenanceWindow: { kind: 'string', doc: 'HH:MM-HH:MM local time when an update installs even with players or an encoder active (empty: only when idle)', default: '', pattern: /^(|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)$/ },
    healthTimeoutMs: { kind: 'int', doc: 'Time after boot for the health check to pass before the new slot is given up', default: 180000, min: 1000, max: 3600000 },
    healthUrl: { kind: 'string', doc: 'Loopback URL the post-boot check plays from (empty: the first publishing point)', default: '', pattern: /^(|http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/.*)$/ },
    rebootCommand: { kind: 'string', doc: 'Command that reboots after an install (empty: systemctl reboot)', default: '', maxLength: 256, localOnly: true },
  },
};
