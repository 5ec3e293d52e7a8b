/**
 * Publishing points as the operator sees them: their settings (secrets replaced by "***"), their live status
 * and the URLs players use; and the changes (add, replace, merge, remove) made through the one config path, so
 * the config schema validates them and they are persisted like any config change. Start and stop act on the
 * running broadcast only.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { openAsfFile } from '../asf/index.js';
import type { ConfigService, ConfigApplyResult } from '../app/config-service.js';
import type { MssConfig, PublishingPointConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { MediaCore } from '../media/core.js';

const REDACTED = '***';
const POINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** paths the operator routes own: a point of that name would be unreachable */
const RESERVED_NAMES = new Set(['api', 'metrics', 'health', 'logs', 'favicon.ico']);
const MAX_LISTED_FILES = 500;
const MEDIA_FILE = /\.(asf|wmv|wma)$/i;

export interface PointUrls {
  mmsh: string;
  http: string;
  asx: string;
  rtsp?: string;
}

export interface PointView {
  name: string;
  type: 'ondemand' | 'broadcast';
  config: PublishingPointConfig;
  status: Record<string, unknown> | null;
  /** for an on-demand point, `{file}` stands for a file inside it */
  urls: PointUrls;
}

export interface PointsDeps {
  config: ConfigService;
  core(): MediaCore;
}

export interface UrlContext {
  /** host[:port] the operator used (the Host header), or the listener's address */
  host: string;
}

function hostname(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
}

export function pointUrls(cfg: PublishingPointConfig, running: MssConfig, at: UrlContext): PointUrls {
  const suffix = cfg.type === 'ondemand' ? `/${cfg.name}/{file}` : `/${cfg.name}`;
  const urls: PointUrls = { mmsh: `mmsh://${at.host}${suffix}`, http: `http://${at.host}${suffix}`, asx: `http://${at.host}${suffix}.asx` };
  // an RTSP listener, when this build runs one, is announced too
  const rtsp = (running as unknown as { rtsp?: { enabled?: boolean; port?: number } }).rtsp;
  if (rtsp && rtsp.enabled !== false && typeof rtsp.port === 'number' && rtsp.port > 0) urls.rtsp = `rtsp://${hostname(at.host)}:${rtsp.port}${suffix}`;
  return urls;
}

function redactPoint(p: PublishingPointConfig): PublishingPointConfig {
  const out = structuredClone(p);
  for (const u of out.auth?.users ?? []) u.password = REDACTED;
  return out;
}

/** a point document from the operator: an object naming no point other than `name` */
function pointBody(body: unknown, name?: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MssError('invalid-argument', 'the body must be a JSON object describing a publishing point');
  const doc = structuredClone(body) as Record<string, unknown>;
  if (name !== undefined) {
    if (doc.name !== undefined && doc.name !== name) throw new MssError('invalid-argument', `the body names point ${JSON.stringify(doc.name)}, the path ${JSON.stringify(name)}: rename by removing and adding`);
    doc.name = name;
  }
  if (typeof doc.name === 'string' && RESERVED_NAMES.has(doc.name.toLowerCase())) throw new MssError('invalid-argument', `${JSON.stringify(doc.name)} is reserved for the operator routes`);
  return doc;
}

/** "***" passwords (as the API shows them) keep the running point's */
function keepSecrets(doc: Record<string, unknown>, was: PublishingPointConfig | undefined): void {
  const users = (doc.auth as { users?: unknown } | undefined)?.users;
  if (!Array.isArray(users)) return;
  for (const u of users as Array<Record<string, unknown>>) {
    if (u?.password !== REDACTED) continue;
    const old = was?.auth.users.find((x) => x.name === u.name);
    if (!old) throw new MssError('invalid-argument', `user ${JSON.stringify(u.name)} has password "***" but no password to keep`);
    u.password = old.password;
  }
}

/** RFC 7396 merge patch: objects merge, null removes, anything else replaces */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class PointsApi {
  constructor(private readonly deps: PointsDeps) {}

  private configOf(name: string): PublishingPointConfig {
    const p = this.deps.config.running().server.publishingPoints.find((x) => x.name === name);
    if (!p) throw new MssError('not-found', `no publishing point ${JSON.stringify(name.slice(0, 64))}`);
    return p;
  }

  view(cfg: PublishingPointConfig, at: UrlContext): PointView {
    const point = this.deps.core().point(cfg.name);
    return { name: cfg.name, type: cfg.type, config: redactPoint(cfg), status: point ? point.status() : null, urls: pointUrls(cfg, this.deps.config.running(), at) };
  }

  list(at: UrlContext): PointView[] {
    return this.deps.config.running().server.publishingPoints.map((p) => this.view(p, at));
  }

  get(name: string, at: UrlContext): PointView {
    return this.view(this.configOf(name), at);
  }

  async add(body: unknown, at: UrlContext): Promise<{ point: PointView; config: ConfigApplyResult }> {
    const doc = pointBody(body);
    if (typeof doc.name !== 'string' || !POINT_NAME.test(doc.name)) throw new MssError('invalid-argument', `name must match ${POINT_NAME}`);
    const name = doc.name;
    const result = await this.deps.config.update((c) => {
      if (c.server.publishingPoints.some((p) => p.name === name)) throw new MssError('conflict', `publishing point ${name} exists: change it with PUT or PATCH`);
      (c.server.publishingPoints as unknown[]).push(doc);
    }, { source: 'api' });
    return { point: this.get(name, at), config: result };
  }

  /** replaces a point's settings (what the body leaves out takes the schema default) */
  async replace(name: string, body: unknown, at: UrlContext): Promise<{ point: PointView; config: ConfigApplyResult }> {
    const doc = pointBody(body, name);
    const result = await this.deps.config.update((c) => {
      const i = c.server.publishingPoints.findIndex((p) => p.name === name);
      if (i < 0) throw new MssError('not-found', `no publishing point ${JSON.stringify(name)}`);
      keepSecrets(doc, c.server.publishingPoints[i]);
      (c.server.publishingPoints as unknown[])[i] = doc;
    }, { source: 'api' });
    return { point: this.get(name, at), config: result };
  }

  /** merges the body into a point's settings (RFC 7396) */
  async patch(name: string, body: unknown, at: UrlContext): Promise<{ point: PointView; config: ConfigApplyResult }> {
    const patchDoc = pointBody(body, name);
    const result = await this.deps.config.update((c) => {
      const i = c.server.publishingPoints.findIndex((p) => p.name === name);
      if (i < 0) throw new MssError('not-found', `no publishing point ${JSON.stringify(name)}`);
      const merged = mergePatch(c.server.publishingPoints[i], patchDoc) as Record<string, unknown>;
      keepSecrets(merged, c.server.publishingPoints[i]);
      (c.server.publishingPoints as unknown[])[i] = merged;
    }, { source: 'api' });
    return { point: this.get(name, at), config: result };
  }

  async remove(name: string): Promise<{ removed: string; config: ConfigApplyResult }> {
    const result = await this.deps.config.update((c) => {
      const before = c.server.publishingPoints.length;
      c.server.publishingPoints = c.server.publishingPoints.filter((p) => p.name !== name);
      if (c.server.publishingPoints.length === before) throw new MssError('not-found', `no publishing point ${JSON.stringify(name)}`);
    }, { source: 'api' });
    return { removed: name, config: result };
  }

  private runningPoint(name: string) {
    this.configOf(name);
    const point = this.deps.core().point(name);
    if (!point) throw new MssError('unavailable', `publishing point ${name} is not running yet`);
    return point;
  }

  async start(name: string, at: UrlContext): Promise<PointView> {
    await this.runningPoint(name).startBroadcast();
    return this.get(name, at);
  }

  async stop(name: string, at: UrlContext): Promise<PointView> {
    await this.runningPoint(name).stopBroadcast();
    return this.get(name, at);
  }

  /** the ASF files at the top of an on-demand point's directory, with their size and whether they are protected */
  async files(name: string): Promise<Array<{ name: string; bytes: number; protected: boolean | null }>> {
    const cfg = this.configOf(name);
    if (cfg.type !== 'ondemand') throw new MssError('conflict', `publishing point ${name} is a broadcast: it has no files`);
    const entries = await readdir(cfg.path, { withFileTypes: true }).catch((err: Error) => {
      throw new MssError('unavailable', `cannot read ${cfg.path}: ${err.message}`);
    });
    const files = entries.filter((e) => e.isFile() && MEDIA_FILE.test(e.name)).map((e) => e.name).sort().slice(0, MAX_LISTED_FILES);
    const out = [];
    for (const f of files) {
      const full = path.join(cfg.path, f);
      const bytes = (await stat(full).catch(() => null))?.size ?? 0;
      let prot: boolean | null = null;
      try {
        const asf = await openAsfFile(full);
        prot = (asf.layout.header.protection?.length ?? 0) > 0;
        await asf.close();
      } catch {
        // not a readable ASF file: listed, protection unknown
      }
      out.push({ name: f, bytes, protected: prot });
    }
    return out;
  }
}
