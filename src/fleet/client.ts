/**
 * The operator's side of device management: reads retained device topics, sends desired configs, commands and
 * jobs, and waits for answers with timeouts. Used by `mss fleet` (and by tests as a real MQTT peer).
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { MssError } from '../core/errors.js';
import { deviceTopics, TOPIC_PREFIX } from '../device/topics.js';

export interface FleetClientOptions {
  url: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  connectTimeoutMs?: number;
}

export interface DeviceStatus {
  deviceId: string;
  state: string;
  bootId?: string;
  ts?: string;
  version?: string;
  /** from the retained info: the running A/B slot and the board profile */
  slot?: string | null;
  board?: string;
  /** the newest firmware-update job the device reports */
  lastUpdate?: { job: string; status: string; reason: string; updatedAt: string } | null;
}

export interface CommandResult {
  id: string | null;
  status: 'ok' | 'error';
  data: unknown;
  error: { code: string; message: string } | null;
}

export type FleetMessage = { topic: string; payload: Buffer; packet: IPublishPacket };

const SETTLE_MS = 300;

function parse(payload: Buffer): unknown {
  if (payload.length === 0) return null;
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return payload.toString('utf8');
  }
}

export class FleetClient {
  private readonly listeners = new Set<(m: FleetMessage) => void>();

  private constructor(
    readonly client: MqttClient,
    readonly protocolVersion: 4 | 5,
  ) {
    client.on('message', (topic, payload, packet) => {
      for (const l of [...this.listeners]) l({ topic, payload, packet });
    });
  }

  static async connect(opts: FleetClientOptions): Promise<FleetClient> {
    const protocolVersion = opts.protocolVersion ?? 5;
    const options: IClientOptions = {
      clientId: `mss-fleet-${randomBytes(6).toString('hex')}`,
      protocolVersion,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
    };
    if (opts.username) options.username = opts.username;
    if (opts.password) options.password = opts.password;
    const client = mqtt.connect(opts.url, options);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new MssError('timeout', `no answer from the broker ${opts.url} within ${options.connectTimeout} ms`)), options.connectTimeout! + 500);
      const fail = (err: Error) => {
        clearTimeout(timer);
        client.end(true);
        reject(err instanceof MssError ? err : new MssError('unavailable', `cannot connect to ${opts.url}: ${err.message}`));
      };
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', fail);
      client.once('close', () => fail(new Error('connection closed')));
    });
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    client.on('error', () => undefined);
    return new FleetClient(client, protocolVersion);
  }

  /** Disconnects; never waits long (a connection the broker already dropped is closed at once). */
  async close(): Promise<void> {
    if (!this.client.connected) {
      this.client.end(true);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.client.endAsync().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    if (!this.client.disconnected) this.client.end(true);
  }

  onMessage(listener: (m: FleetMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Retained messages under a filter: everything the broker sends until it has been quiet for a moment. */
  async retained(filter: string, settleMs = SETTLE_MS): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    let last = Date.now();
    const off = this.onMessage((m) => {
      if (!m.packet.retain || !topicMatches(filter, m.topic)) return;
      out.set(m.topic, parse(m.payload));
      last = Date.now();
    });
    try {
      await this.client.subscribeAsync(filter, { qos: 1 });
      last = Date.now();
      while (Date.now() - last < settleMs) await new Promise((r) => setTimeout(r, 25));
      await this.client.unsubscribeAsync(filter);
    } finally {
      off();
    }
    return out;
  }

  async list(): Promise<DeviceStatus[]> {
    const [found, infos, jobs] = await Promise.all([
      this.retained(`${TOPIC_PREFIX}/+/status`),
      this.retained(`${TOPIC_PREFIX}/+/info`),
      this.retained(`${TOPIC_PREFIX}/+/jobs/+/status`),
    ]);
    const updates = new Map<string, NonNullable<DeviceStatus['lastUpdate']>>();
    for (const [topic, value] of jobs) {
      const r = value as { type?: string; status?: string; reason?: string; updatedAt?: string } | null;
      if (!r || typeof r !== 'object' || r.type !== 'firmware-update') continue;
      const [, , deviceId, , job] = topic.split('/');
      const was = updates.get(deviceId!);
      if (!was || String(r.updatedAt) > was.updatedAt) updates.set(deviceId!, { job: job!, status: String(r.status), reason: String(r.reason ?? ''), updatedAt: String(r.updatedAt ?? '') });
    }
    const out: DeviceStatus[] = [];
    for (const [topic, value] of found) {
      const deviceId = topic.split('/')[2];
      if (deviceId === '$broadcast' || !value || typeof value !== 'object') continue;
      const info = infos.get(`${TOPIC_PREFIX}/${deviceId}/info`) as { slot?: string | null; board?: string } | undefined;
      out.push({ deviceId, ...(value as Omit<DeviceStatus, 'deviceId'>), slot: info?.slot ?? null, board: info?.board, lastUpdate: updates.get(deviceId) ?? null });
    }
    return out.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  }

  /** status, info, state/*, config reported and desired, job status of one device */
  async show(deviceId: string): Promise<Record<string, unknown>> {
    const t = deviceTopics(deviceId);
    const found = await this.retained(`${t.root}/#`);
    const out: Record<string, unknown> = { deviceId, status: null, info: null, state: {}, config: { desired: null, reported: null }, jobs: {} };
    for (const [topic, value] of found) {
      const rest = topic.slice(t.root.length + 1).split('/');
      if (rest[0] === 'status') out.status = value;
      else if (rest[0] === 'info') out.info = value;
      else if (rest[0] === 'state' && rest[1]) (out.state as Record<string, unknown>)[rest[1]] = value;
      else if (rest[0] === 'config' && rest[1] === 'desired') (out.config as Record<string, unknown>).desired = value;
      else if (rest[0] === 'config' && rest[1] === 'reported') (out.config as Record<string, unknown>).reported = value;
      else if (rest[0] === 'jobs' && rest[1]) {
        const jobs = out.jobs as Record<string, Record<string, unknown>>;
        jobs[rest[1]] ??= {};
        jobs[rest[1]][rest[2] === 'status' ? 'status' : 'job'] = value;
      }
    }
    return out;
  }

  /**
   * Publishes a whole desired config (retained) and waits for config/reported of that version.
   * The version is one above both the current desired and reported versions unless given.
   */
  async setDesiredConfig(deviceId: string, config: Record<string, unknown>, opts: { version?: number; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const t = deviceTopics(deviceId);
    let version = opts.version;
    if (version === undefined) {
      const found = await this.retained(`${t.root}/config/+`);
      const versions = [...found.values()].map((v) => (v && typeof v === 'object' ? Number((v as { version?: unknown }).version) : NaN)).filter(Number.isFinite);
      version = Math.max(0, ...versions) + 1;
    }
    const report = this.waitFor(t.configReported, (v) => (v as { version?: unknown })?.version === version, opts.timeoutMs ?? 15_000);
    await this.client.subscribeAsync(t.configReported, { qos: 1 });
    await this.client.publishAsync(t.configDesired, JSON.stringify({ version, config }), { qos: 1, retain: true });
    try {
      return (await report) as Record<string, unknown>;
    } finally {
      await this.client.unsubscribeAsync(t.configReported).catch(() => undefined);
    }
  }

  /** Sends `cmd/<name>` and waits for the reply (MQTT 5: response topic + correlation data; 3.1.1: replyTo + id). */
  async command(deviceId: string, name: string, args: Record<string, unknown> = {}, opts: { timeoutMs?: number; expiresInMs?: number; payload?: Buffer } = {}): Promise<CommandResult> {
    const t = deviceTopics(deviceId);
    const id = randomBytes(8).toString('hex');
    const replyTopic = `${t.cmdResponse(name)}/${id}`;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const correlation = Buffer.from(id);
    const reply = this.waitForMessage(replyTopic, (m) => {
      const value = parse(m.payload) as { id?: unknown } | null;
      if (this.protocolVersion === 5 && m.packet.properties?.correlationData) return Buffer.compare(m.packet.properties.correlationData, correlation) === 0;
      return value?.id === id || value?.id === null;
    }, timeoutMs);
    await this.client.subscribeAsync(replyTopic, { qos: 1 });
    const expiresAt = opts.expiresInMs !== undefined ? Date.now() + opts.expiresInMs : Date.now() + timeoutMs;
    // replyTo and id travel in the payload too, so a device on MQTT 3.1.1 can answer an MQTT 5 operator
    const body = opts.payload ?? Buffer.from(JSON.stringify({ id, args, expiresAt, replyTo: replyTopic }));
    const properties = this.protocolVersion === 5 ? { responseTopic: replyTopic, correlationData: correlation, messageExpiryInterval: Math.max(1, Math.ceil(timeoutMs / 1000)) } : undefined;
    try {
      await this.client.publishAsync(t.cmd(name), body, { qos: 1, properties });
      const m = await reply;
      return parse(m.payload) as CommandResult;
    } catch (err) {
      if (err instanceof MssError && err.code === 'timeout') throw new MssError('timeout', `device ${deviceId} did not answer ${name} within ${timeoutMs} ms`);
      throw err;
    } finally {
      await this.client.unsubscribeAsync(replyTopic).catch(() => undefined);
    }
  }

  async publishJob(deviceId: string, jobId: string, doc: Record<string, unknown> | null): Promise<void> {
    await this.client.publishAsync(deviceTopics(deviceId).job(jobId), doc ? JSON.stringify(doc) : '', { qos: 1, retain: true });
  }

  async broadcast(name: 'rebirth' | 'check-jobs'): Promise<void> {
    await this.client.publishAsync(`${TOPIC_PREFIX}/$broadcast/${name}`, '{}', { qos: 1 });
  }

  /** Resolves with the first JSON value on `topic` (already subscribed or retained) that satisfies `accept`. */
  waitFor(topic: string, accept: (value: unknown) => boolean, timeoutMs: number): Promise<unknown> {
    return this.waitForMessage(topic, (m) => accept(parse(m.payload)), timeoutMs).then((m) => parse(m.payload));
  }

  waitForMessage(filter: string, accept: (m: FleetMessage) => boolean, timeoutMs: number): Promise<FleetMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new MssError('timeout', `nothing matching on ${filter} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onMessage((m) => {
        if (!topicMatches(filter, m.topic) || !accept(m)) return;
        clearTimeout(timer);
        off();
        resolve(m);
      });
    });
  }

  async subscribe(filter: string | string[]): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
  }
}

/** MQTT topic filter matching (+ one level, # the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
