/**
 * The OpenAPI 3.1 document of the control API, generated from the operations table and, for publishing points,
 * from the config schema itself (the API validates with that schema, so the document cannot drift from it).
 */
import type { Schema } from '../config/schema.js';
import { serverSchema } from '../config/sections/server.js';
import { packageVersion } from '../core/version.js';
import type { ApiOperation, SchemaRef } from './operations.js';

type Json = Record<string, unknown>;

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of a config schema node */
export function toJsonSchema(s: Schema, forPatch = false): Json {
  const base: Json = { description: s.doc };
  switch (s.kind) {
    case 'int':
    case 'number':
      return { ...base, type: s.kind === 'int' ? 'integer' : 'number', ...(s.min !== undefined ? { minimum: s.min } : {}), ...(s.max !== undefined ? { maximum: s.max } : {}), ...(s.default !== undefined ? { default: s.default } : {}) };
    case 'string':
      return { ...base, type: 'string', ...(s.pattern ? { pattern: s.pattern.source } : {}), maxLength: s.maxLength ?? 4096, ...(s.default !== undefined ? { default: s.default } : {}), ...(s.secret ? { format: 'password' } : {}) };
    case 'bool':
      return { ...base, type: 'boolean', ...(s.default !== undefined ? { default: s.default } : {}) };
    case 'enum':
      return { ...base, type: 'string', enum: [...s.values], ...(s.default !== undefined ? { default: s.default } : {}) };
    case 'array':
      return { ...base, type: 'array', items: toJsonSchema(s.items), ...(s.maxItems !== undefined ? { maxItems: s.maxItems } : {}) };
    case 'object':
      return objectSchema(s.doc, s.fields, forPatch);
    case 'union':
      return {
        ...base,
        oneOf: Object.entries(s.variants).map(([tag, fields]) => objectSchema(`${s.key} ${tag}`, { [s.key]: { kind: 'enum', doc: s.doc, values: [tag] }, ...fields }, forPatch)),
        discriminator: { propertyName: s.key },
      };
  }
}

function objectSchema(doc: string, fields: Record<string, Schema>, forPatch: boolean): Json {
  const required = forPatch ? [] : Object.entries(fields).filter(([, f]) => !('default' in f && f.default !== undefined) && !f.optional && f.kind !== 'object').map(([k]) => k);
  return {
    description: doc,
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, toJsonSchema(f, forPatch)])),
    ...(required.length ? { required } : {}),
  };
}

const pointSchema = (serverSchema as Extract<Schema, { kind: 'object' }>).fields.publishingPoints as Extract<Schema, { kind: 'array' }>;

const ref = (name: SchemaRef) => ({ $ref: `#/components/schemas/${name}` });
const obj = (properties: Json, description: string): Json => ({ type: 'object', description, properties });

function components(): Record<SchemaRef | 'Error', Json> {
  const point = toJsonSchema(pointSchema.items);
  return {
    PublishingPoint: point,
    PointPatch: { description: 'JSON merge patch of a publishing point (RFC 7396): objects merge, null removes a setting', type: 'object' },
    Point: obj({ name: { type: 'string' }, type: { enum: ['ondemand', 'broadcast'] }, config: ref('PublishingPoint'), status: { type: ['object', 'null'], description: 'live status (players, bytes, protected, state)' }, urls: obj({ mmsh: { type: 'string' }, http: { type: 'string' }, asx: { type: 'string' }, rtsp: { type: 'string' } }, 'URLs players use ({file}: a file of an on-demand point)') }, 'A publishing point: settings (passwords as "***"), status, URLs'),
    PointList: { type: 'array', items: ref('Point') },
    PointChange: obj({ point: ref('Point'), config: obj({ status: { enum: ['applied', 'pending-restart', 'unchanged'] }, changed: { type: 'array', items: { type: 'string' } } }, 'what the change did') }, 'The point after a change'),
    Removed: obj({ removed: { type: 'string' }, config: { type: 'object' } }, 'A removed point'),
    Player: obj({ id: { type: 'integer' }, point: { type: 'string' }, protocol: { type: 'string' }, remote: { type: 'string' }, userAgent: { type: ['string', 'null'] }, url: { type: ['string', 'null'] }, clientId: {}, role: { enum: ['player', 'relay'] }, bitrate: { type: 'integer' }, bytesSent: { type: 'integer' }, startedAt: { type: 'string', format: 'date-time' } }, 'A player (or relay output)'),
    PlayerList: { type: 'array', items: ref('Player') },
    Disconnected: obj({ disconnected: { type: 'integer' } }, 'The player that was disconnected'),
    Limits: obj({ maxPlayers: { type: 'integer', minimum: 1 }, maxBandwidth: { type: 'integer', minimum: 0 }, playerQueueBytes: { type: 'integer', readOnly: true }, slowPlayerTimeoutMs: { type: 'integer', readOnly: true }, points: { type: 'integer', readOnly: true } }, 'Server-wide limits (maxPlayers and maxBandwidth can be changed)'),
    Health: obj({ status: { enum: ['ok', 'degraded', 'failing'] }, uptimeSec: { type: 'integer' }, modules: { type: 'object', additionalProperties: obj({ ok: { type: 'boolean' }, state: { type: 'string' } }, 'one module') } }, 'Health of every module'),
    Server: obj({ version: { type: 'string' }, node: { type: 'string' }, startedAt: { type: 'string', format: 'date-time' }, uptimeSec: { type: 'integer' }, limits: ref('Limits'), players: { type: 'object' }, config: { type: 'object' }, health: ref('Health') }, 'The server'),
    FileList: { type: 'array', items: obj({ name: { type: 'string' }, bytes: { type: 'integer' }, protected: { type: ['boolean', 'null'] } }, 'an ASF file') },
    Upload: { type: 'string', format: 'binary', description: 'The file\'s bytes; the answer says where it waits until it is published' },
    OpenApi: { type: 'object', description: 'This document' },
    Error: obj({ error: obj({ code: { type: 'string', description: 'mss error code (not-found, invalid-config, conflict, unauthorized, ...)' }, message: { type: 'string' }, detail: { type: 'object' } }, 'what went wrong') }, 'Every error'),
  };
}

export function openApiDocument(operations: readonly ApiOperation[]): Json {
  const paths: Record<string, Json> = {};
  const errorResponse = { description: 'An error (JSON with a code)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  for (const op of operations) {
    const params = [...op.path.matchAll(/\{([a-z]+)\}/gi)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: m[1] === 'id' ? 'integer' : 'string' } }));
    const entry: Json = {
      operationId: op.id,
      summary: op.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: op.body === 'Upload' ? { 'application/octet-stream': { schema: ref('Upload') } } : { 'application/json': { schema: ref(op.body) } } } } : {}),
      responses: { [String(op.status ?? 200)]: { description: op.summary, content: { 'application/json': { schema: ref(op.response) } } }, default: errorResponse },
      ...(op.httpOnly ? {} : { 'x-mss-command': op.id }),
    };
    (paths[op.path] ??= {})[op.method.toLowerCase()] = entry;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'mss control API', version: packageVersion(), description: 'Publishing points, players and the server of an mss box. An operation with x-mss-command is also that device command over MQTT (cmd/<name>, args: its path parameters and the body under the name its description gives).' },
    paths,
    components: { schemas: components(), securitySchemes: { basic: { type: 'http', scheme: 'basic' }, digest: { type: 'http', scheme: 'digest' }, bearer: { type: 'http', scheme: 'bearer' } } },
    // the api section's scheme says which one; none when api.auth.scheme is none
    security: [{ basic: [] }, { digest: [] }, { bearer: [] }, {}],
  };
}
