/**
 * The MQTT topic layout (../shared/mqtt.md) and the pure decoding of what operators send down.
 * No I/O here: every function returns a value or throws an MssError naming the field.
 */
import { MssError } from '../core/errors.js';

export const TOPIC_PREFIX = 'mss/v1';
export const BROADCAST_ROOT = `${TOPIC_PREFIX}/$broadcast`;
/** the largest payload the agent decodes; anything bigger is answered with a `too-large` error */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const DEVICE_ID_PATTERN = /^[a-z0-9-]{1,64}$/;

export function deviceTopics(deviceId: string) {
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new MssError('invalid-argument', `device id ${JSON.stringify(deviceId)} must be 1-64 of [a-z0-9-]`);
  const root = `${TOPIC_PREFIX}/${deviceId}`;
  return {
    root,
    status: `${root}/status`,
    info: `${root}/info`,
    state: (module: string) => `${root}/state/${module}`,
    telemetry: (module: string) => `${root}/telemetry/${module}`,
    configDesired: `${root}/config/desired`,
    configReported: `${root}/config/reported`,
    cmd: (name: string) => `${root}/cmd/${name}`,
    cmdResponse: (name: string) => `${root}/cmd/${name}/res`,
    job: (jobId: string) => `${root}/jobs/${jobId}`,
    jobStatus: (jobId: string) => `${root}/jobs/${jobId}/status`,
    event: (type: string) => `${root}/events/${type}`,
    log: (level: string) => `${root}/logs/${level}`,
  };
}

export type DeviceTopics = ReturnType<typeof deviceTopics>;

/** A down topic split into what it addresses, or undefined when it is not one the agent handles. */
export type DownTopic =
  | { kind: 'config-desired' }
  | { kind: 'cmd'; name: string }
  | { kind: 'job'; jobId: string }
  | { kind: 'broadcast'; name: string };

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function classifyDownTopic(topics: DeviceTopics, topic: string): DownTopic | undefined {
  if (topic === topics.configDesired) return { kind: 'config-desired' };
  if (topic.startsWith(`${BROADCAST_ROOT}/`)) return { kind: 'broadcast', name: topic.slice(BROADCAST_ROOT.length + 1) };
  const rest = topic.startsWith(`${topics.root}/`) ? topic.slice(topics.root.length + 1).split('/') : [];
  if (rest.length === 2 && rest[0] === 'cmd') return { kind: 'cmd', name: rest[1] };
  if (rest.length === 2 && rest[0] === 'jobs') return { kind: 'job', jobId: rest[1] };
  return undefined;
}

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** Decodes a JSON object payload, bounded in size. */
export function decodeJsonObject(payload: Buffer, what: string, limit = MAX_PAYLOAD_BYTES): Record<string, unknown> {
  if (payload.length > limit) throw new MssError('too-large', `${what}: payload is ${payload.length} bytes, limit ${limit}`);
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new MssError('malformed', `${what}: payload is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MssError('malformed', `${what}: payload must be a JSON object`);
  return value as Record<string, unknown>;
}

export interface CommandRequest {
  id: string | null;
  args: Record<string, unknown>;
  /** epoch ms after which the command must not run */
  expiresAt?: number;
  /** MQTT 3.1.1: where the reply goes */
  replyTo?: string;
}

/** The reply-routing fields of a command, read even from an otherwise invalid request so the error can be answered. */
export function commandReplyFields(doc: Record<string, unknown>): { id: string | null; replyTo?: string } {
  const id = typeof doc.id === 'string' && doc.id.length <= 128 ? doc.id : typeof doc.id === 'number' ? String(doc.id) : null;
  const replyTo = typeof doc.replyTo === 'string' && isValidReplyTopic(doc.replyTo) ? doc.replyTo : undefined;
  return { id, replyTo };
}

export function isValidReplyTopic(topic: string): boolean {
  return topic.length > 0 && topic.length <= 512 && !/[#+\0]/.test(topic);
}

export function parseCommandRequest(doc: Record<string, unknown>): CommandRequest {
  const { id, replyTo } = commandReplyFields(doc);
  if (doc.replyTo !== undefined && replyTo === undefined) throw new MssError('invalid-argument', 'replyTo must be a topic name without wildcards');
  if (doc.id !== undefined && id === null) throw new MssError('invalid-argument', 'id must be a string of at most 128 characters');
  let args: Record<string, unknown> = {};
  if (doc.args !== undefined && doc.args !== null) {
    if (typeof doc.args !== 'object' || Array.isArray(doc.args)) throw new MssError('invalid-argument', 'args must be a JSON object');
    args = doc.args as Record<string, unknown>;
  }
  let expiresAt: number | undefined;
  if (doc.expiresAt !== undefined && doc.expiresAt !== null) {
    expiresAt = typeof doc.expiresAt === 'number' ? doc.expiresAt : typeof doc.expiresAt === 'string' ? Date.parse(doc.expiresAt) : NaN;
    if (!Number.isFinite(expiresAt)) throw new MssError('invalid-argument', 'expiresAt must be epoch milliseconds or an ISO 8601 time');
  }
  return { id, args, expiresAt, replyTo };
}

export interface DesiredConfigDoc {
  version: number;
  config: unknown;
}

export function parseDesiredDoc(doc: Record<string, unknown>): DesiredConfigDoc {
  if (typeof doc.version !== 'number' || !Number.isInteger(doc.version) || doc.version < 0) {
    throw new MssError('invalid-argument', 'version must be a whole number >= 0');
  }
  if (typeof doc.config !== 'object' || doc.config === null || Array.isArray(doc.config)) throw new MssError('invalid-argument', 'config must be a JSON object');
  return { version: doc.version, config: doc.config };
}
