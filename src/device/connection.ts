/**
 * The agent's MQTT connection: MQTT 5 (or 3.1.1), TLS and credentials from the config, a retained last will,
 * and reconnects on our own schedule (exponential backoff with full jitter) instead of mqtt.js's fixed period.
 * Nothing is queued while offline: `publish` refuses when not connected, so the callers decide per class
 * (state coalesced, telemetry dropped, events kept in the durable outbox).
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions, IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { MqttConfig } from '../config/index.js';
import { redactText, redactUrl } from '../config/redact.js';
import { Backoff } from './backoff.js';

export interface ConnectionEvents {
  online(): void;
  offline(): void;
  message(topic: string, payload: Buffer, packet: IPublishPacket): void;
}

export interface ConnectionOptions {
  clientId: string;
  will: { topic: string; payload: string };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  keepaliveSec: number;
}

const PUBLISH_TIMEOUT_MS = 30_000;

export class DeviceConnection {
  private client?: MqttClient;
  private readonly backoff: Backoff;
  private reconnectTimer?: NodeJS.Timeout;
  private stopping = false;
  private closeWaiters: Array<() => void> = [];
  private lastError = '';
  connects = 0;

  constructor(
    private readonly config: MqttConfig,
    private readonly opts: ConnectionOptions,
    private readonly events: ConnectionEvents,
    private readonly log: Logger,
  ) {
    this.backoff = new Backoff(opts.reconnectMinMs, opts.reconnectMaxMs);
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  get protocolVersion(): 4 | 5 {
    return this.config.protocolVersion;
  }

  get reconnectAttempts(): number {
    return this.backoff.attempts;
  }

  async start(): Promise<void> {
    this.stopping = false;
    // loaded only when the agent is on: the MQTT client costs ~19 MB of RSS on a box that may never use it
    const { default: mqtt } = await import('mqtt');
    const options: IClientOptions = {
      clientId: this.opts.clientId,
      protocolVersion: this.config.protocolVersion,
      clean: true,
      keepalive: this.opts.keepaliveSec,
      reconnectPeriod: 0, // we schedule reconnects ourselves (full jitter)
      connectTimeout: 30_000,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: this.opts.will.topic, payload: Buffer.from(this.opts.will.payload), qos: 1, retain: true },
    };
    if (this.config.username) options.username = this.config.username;
    if (this.config.password) options.password = this.config.password;
    try {
      if (this.config.caFile) options.ca = readFileSync(this.config.caFile);
      if (this.config.certFile) options.cert = readFileSync(this.config.certFile);
      if (this.config.keyFile) options.key = readFileSync(this.config.keyFile);
    } catch (err) {
      throw new MssError('invalid-config', `mqtt: cannot read a TLS file: ${(err as Error).message}`);
    }
    const client = mqtt.connect(this.config.url, options);
    this.client = client;
    client.on('connect', () => {
      this.backoff.reset();
      this.connects++;
      this.lastError = '';
      this.log.info('mqtt-connected', { url: redactUrl(this.config.url), protocolVersion: this.config.protocolVersion });
      this.events.online();
    });
    client.on('message', (topic, payload, packet) => this.events.message(topic, payload, packet));
    client.on('error', (err) => {
      // the same failure on every retry is logged once
      if (err.message !== this.lastError) this.log.warn('mqtt-error', { err: err.message });
      this.lastError = err.message;
    });
    client.on('close', () => {
      const waiters = this.closeWaiters;
      this.closeWaiters = [];
      for (const w of waiters) w();
      if (this.stopping) return;
      this.events.offline();
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopping) return;
    const delay = this.backoff.next();
    this.log.debug('mqtt-reconnect-scheduled', { delayMs: delay, attempt: this.backoff.attempts });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  /**
   * Resolves when the current connection closes (used to abandon in-flight QoS 1 publishes). `cancel` removes
   * the waiter, so a long-lived connection does not collect one per publish.
   */
  private whenClosed(): { closed: Promise<void>; cancel(): void } {
    if (!this.connected) return { closed: Promise.resolve(), cancel: () => undefined };
    let waiter!: () => void;
    const closed = new Promise<void>((resolve) => {
      waiter = resolve;
      this.closeWaiters.push(resolve);
    });
    return { closed, cancel: () => (this.closeWaiters = this.closeWaiters.filter((w) => w !== waiter)) };
  }

  /** Publishes when connected; resolves when the broker acknowledged (QoS 1). Refuses (false) when offline. */
  async publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions): Promise<boolean> {
    const client = this.client;
    if (!client || !client.connected) return false;
    // the last gate before the broker: no URL password leaves the device in a state, reply or log it publishes
    if (typeof payload === 'string') payload = redactText(payload);
    if (this.config.protocolVersion !== 5) delete opts.properties;
    if (opts.qos === 0) {
      // nothing to wait for: written to the socket or dropped (telemetry)
      client.publish(topic, payload, opts);
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const close = this.whenClosed();
    try {
      await Promise.race([
        client.publishAsync(topic, payload, opts),
        close.closed.then(() => {
          throw new MssError('unavailable', 'connection closed before the broker acknowledged');
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new MssError('timeout', 'broker did not acknowledge')), PUBLISH_TIMEOUT_MS);
        }),
      ]);
      return true;
    } finally {
      clearTimeout(timer);
      close.cancel();
    }
  }

  async subscribe(topics: string[]): Promise<void> {
    await this.client?.subscribeAsync(topics, { qos: 1 });
  }

  /** Publishes `last` (e.g. status offline) if connected, then disconnects cleanly so the will is not sent. */
  async stop(last?: { topic: string; payload: string }): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    if (!client) return;
    if (last && client.connected) {
      await this.publish(last.topic, last.payload, { qos: 1, retain: true }).catch(() => undefined);
    }
    await Promise.race([client.endAsync(false), new Promise((r) => setTimeout(r, 3000))]).catch(() => undefined);
    if (client.connected || !client.disconnected) client.end(true);
    this.client = undefined;
  }
}

