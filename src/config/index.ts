import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { MssError, systemReason } from '../core/errors.js';
import { packageRoot } from './paths.js';
import { redactBySchema } from './redact.js';
import { envNameFor, scalarLeaves, validate, type ConfigIssue, type Schema } from './schema.js';
import { generalFields, type GeneralConfig } from './sections/general.js';
import { httpSchema, type HttpConfig } from './sections/http.js';
import { serverIssues, serverSchema, type ServerConfig } from './sections/server.js';
import { proxySchema, type ProxyConfig } from './sections/proxy.js';
import { encoderSchema, type EncoderConfig } from './sections/encoder.js';
import { logsSchema, type LogsConfig } from './sections/logs.js';
import { mqttSchema, type MqttConfig } from './sections/mqtt.js';
import { updateSchema, type UpdateConfig } from './sections/update.js';
import { watchdogSchema, type WatchdogConfig } from './sections/watchdog.js';
import { selectBoard, type BoardChoice } from '../../board/detect.js';
import { applyBoardDefaults, boardConfigDefaults } from '../../board/overlay.js';
import { msbdSchema, type MsbdConfig } from './sections/msbd.js';
import { apiSchema, type ApiConfig } from './sections/api.js';
import { mmspSchema, type MmspConfig } from './sections/mmsp.js';
import { metricsSchema, type MetricsConfig } from './sections/metrics.js';
import { webSchema, type WebConfig } from './sections/web.js';
import { hooksSchema, type HooksConfig } from './sections/hooks.js';
import { packagerSchema, type PackagerConfig } from './sections/packager.js';
import { rtspSchema, type RtspConfig } from './sections/rtsp.js';

export type { ConfigIssue } from './schema.js';
export type * from './sections/server.js';
export type { HttpConfig } from './sections/http.js';
export type { EncoderConfig } from './sections/encoder.js';
export type { LogsConfig } from './sections/logs.js';
export type { MqttConfig } from './sections/mqtt.js';
export type { UpdateConfig } from './sections/update.js';
export type { WatchdogConfig } from './sections/watchdog.js';
export type { MsbdConfig } from './sections/msbd.js';
export type { ApiConfig } from './sections/api.js';
export type { ProxyConfig, ProxyCacheConfig, ProxyForwardConfig, OriginCredentials } from './sections/proxy.js';
export type { MmspConfig } from './sections/mmsp.js';
export type { MetricsConfig } from './sections/metrics.js';
export type { WebConfig } from './sections/web.js';
export type { HooksConfig, HookCommandConfig } from './sections/hooks.js';
export type { PackagerConfig } from './sections/packager.js';
export type { RtspConfig } from './sections/rtsp.js';

/** Bumped when a setting is renamed or reshaped; migrateConfig() carries older documents forward. */
export const CONFIG_VERSION = 1;

export interface MssConfig extends GeneralConfig {
  version: number;
  http: HttpConfig;
  server: ServerConfig;
  encoder: EncoderConfig;
  logs: LogsConfig;
  mqtt: MqttConfig;
  update: UpdateConfig;
  watchdog: WatchdogConfig;
  msbd: MsbdConfig;
  api: ApiConfig;
  proxy: ProxyConfig;
  mmsp: MmspConfig;
  metrics: MetricsConfig;
  web: WebConfig;
  hooks: HooksConfig;
  packager: PackagerConfig;
  rtsp: RtspConfig;
}

export const configSchema: Schema = {
  kind: 'object',
  doc: 'mss configuration',
  fields: {
    version: { kind: 'int', doc: 'Config format version', default: CONFIG_VERSION, min: 1, max: CONFIG_VERSION },
    ...generalFields,
    http: httpSchema,
    server: serverSchema,
    encoder: encoderSchema,
    logs: logsSchema,
    mqtt: mqttSchema,
    update: updateSchema,
    watchdog: watchdogSchema,
    msbd: msbdSchema,
    api: apiSchema,
    proxy: proxySchema,
    mmsp: mmspSchema,
    metrics: metricsSchema,
    web: webSchema,
    hooks: hooksSchema,
    packager: packagerSchema,
    rtsp: rtspSchema,
  },
};

/**
 * The embedded defaults: a sample on-demand point, a live point looping a sample, and a point waiting for an
 * encoder's push (`mss encode --push http://127.0.0.1:8080/live2`), so `npm start` serves at once.
 */
export function embeddedDefaults(): Record<string, unknown> {
  const media = join(packageRoot(), 'media');
  return {
    version: CONFIG_VERSION,
    server: {
      publishingPoints: [
        { name: 'vod', type: 'ondemand', path: media },
        { name: 'live', type: 'broadcast', source: { type: 'file', path: join(media, 'sample.wmv'), loop: true }, start: 'boot' },
        { name: 'live2', type: 'broadcast', source: { type: 'push' } },
      ],
    },
  };
}

/** Older config documents, carried to the current shape (none yet: version 1 is the first). */
export function migrateConfig(doc: Record<string, unknown>): Record<string, unknown> {
  return doc;
}

/** Validates a whole document. Throws MssError('invalid-config') listing every issue by path; nothing is coerced. */
export function validateConfig(doc: unknown): MssConfig {
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) doc = migrateConfig(doc as Record<string, unknown>);
  const { value, issues } = validate(configSchema, doc);
  issues.push(...serverIssues((value as Partial<MssConfig> | undefined)?.server));
  const rtsp = (value as Partial<MssConfig>).rtsp;
  if (rtsp?.udp && rtsp.udp.portMin + 1 > rtsp.udp.portMax) issues.push({ path: 'rtsp.udp.portMax', message: `must be above rtsp.udp.portMin (${rtsp.udp.portMin}) to hold an RTP/RTCP pair` });
  if (issues.length > 0) throw invalidConfig(issues);
  return value as MssConfig;
}

export function invalidConfig(issues: ConfigIssue[]): MssError {
  const lines = issues.map((i) => `${i.path || '(root)'}: ${i.message}`);
  return new MssError('invalid-config', `invalid config:\n  ${lines.join('\n  ')}`, { errors: issues });
}

const MAX_CONFIG_FILE = 1024 * 1024;

/** Reads a JSON config file (bounded), with a clear error for unreadable or non-JSON files. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_CONFIG_FILE) throw new MssError('too-large', `${file}: config file is ${buf.length} bytes, limit ${MAX_CONFIG_FILE}`);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof MssError) throw err;
    throw new MssError('not-found', `${file}: cannot read config file: ${systemReason(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new MssError('malformed', `${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new MssError('malformed', `${file}: the config must be a JSON object`);
  }
  return resolvePaths(doc as Record<string, unknown>, dirname(resolve(file)));
}

/** Relative file paths in a config file are relative to that file, not to the working directory. */
function resolvePaths(doc: Record<string, unknown>, base: string): Record<string, unknown> {
  const abs = (p: unknown) => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? resolve(base, p) : p);
  const out = structuredClone(doc);
  if (typeof out.dataDir === 'string') out.dataDir = abs(out.dataDir);
  const server = out.server as { publishingPoints?: unknown } | undefined;
  if (server && Array.isArray(server.publishingPoints)) {
    for (const p of server.publishingPoints as Array<Record<string, unknown>>) {
      if (!p || typeof p !== 'object') continue;
      if ('path' in p) p.path = abs(p.path);
      if (typeof p.archive === 'string') p.archive = abs(p.archive);
      const src = p.source as Record<string, unknown> | undefined;
      if (src && typeof src === 'object' && 'path' in src) src.path = abs(src.path);
    }
  }
  return out;
}

/** Applies MSS_<PATH> environment overrides to a document (values parsed strictly by the setting's type). */
export function applyEnvOverrides(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): { doc: Record<string, unknown>; issues: ConfigIssue[] } {
  const out = structuredClone(doc);
  const issues: ConfigIssue[] = [];
  for (const { path, schema } of scalarLeaves(configSchema)) {
    const name = envNameFor(path);
    const raw = env[name];
    if (raw === undefined) continue;
    let value: unknown = raw;
    if (schema.kind === 'int' || schema.kind === 'number') {
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) {
        issues.push({ path: path.join('.'), message: `${name} must be a number, got ${JSON.stringify(raw)}` });
        continue;
      }
      value = Number(raw);
    } else if (schema.kind === 'bool') {
      if (raw !== 'true' && raw !== 'false') {
        issues.push({ path: path.join('.'), message: `${name} must be true or false, got ${JSON.stringify(raw)}` });
        continue;
      }
      value = raw === 'true';
    }
    let node = out as Record<string, unknown>;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return { doc: out, issues };
}

const boardChoices = new WeakMap<MssConfig, BoardChoice & { applied: string[]; skipped: string[] }>();

/** The board profile a loaded config was made for, how it was chosen and which defaults it gave. */
export function boardOf(config: MssConfig): (BoardChoice & { applied: string[]; skipped: string[] }) | undefined {
  return boardChoices.get(config);
}

/**
 * The effective config: the board profile's defaults, under a file (or the embedded defaults), under MSS_*
 * environment overrides, then validation. Every problem is reported at once; a board profile that does not
 * validate stops here with the path of its bad field.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; board?: () => BoardChoice } = {}): MssConfig {
  const env = opts.env ?? process.env;
  const base = opts.file ? readConfigFile(opts.file) : embeddedDefaults();
  const { doc, issues } = applyEnvOverrides(base, env);
  if (issues.length > 0) throw invalidConfig(issues);
  const choice = opts.board ? opts.board() : selectBoard(typeof doc.board === 'string' ? doc.board : 'auto', {});
  const overlay = applyBoardDefaults(doc, boardConfigDefaults(choice.profile), configSchema);
  const config = validateConfig(overlay.doc);
  if (!isAbsolute(config.dataDir)) config.dataDir = resolve(config.dataDir);
  boardChoices.set(config, { ...choice, applied: overlay.applied, skipped: overlay.skipped });
  return config;
}

/** A copy safe to print or publish: settings flagged `secret` replaced, URL passwords hidden (see redact.ts). */
export function redactConfig(config: MssConfig): MssConfig {
  return redactBySchema(configSchema, config) as MssConfig;
}
