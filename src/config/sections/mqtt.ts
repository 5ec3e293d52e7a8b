import type { Schema } from '../schema.js';

export interface MqttConfig {
  /** broker URL (mqtt://, mqtts://); empty = device agent off */
  url: string;
  username: string;
  password: string;
  /** PEM files for TLS */
  caFile: string;
  certFile: string;
  keyFile: string;
  protocolVersion: 4 | 5;
  /** empty = board serial, else generated once and persisted */
  deviceId: string;
  telemetryIntervalMs: number;
  /** most events/logs kept in the durable outbox while the broker is away */
  outboxMaxRows: number;
  /** command run by the `reboot` command (empty = reboot refused) */
  rebootCommand: string;
  /** reconnect delays: exponential backoff with full jitter between these bounds */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  keepaliveSec: number;
  /** state/<module> is sent on change, at most once per this interval */
  stateIntervalMs: number;
  /** lowest level of structured log lines forwarded to logs/<level> */
  forwardLogLevel: 'debug' | 'info' | 'warn' | 'error';
  /** log lines forwarded per second at most (the rest counted in a "suppressed N" line) */
  forwardLogsPerSec: number;
  /** a rise of this many players within 10 s is sent as a player-burst event (0: off) */
  playerBurstThreshold: number;
}

export const mqttSchema: Schema = {
  kind: 'object',
  doc: 'Device management over MQTT',
  fields: {
    url: { kind: 'string', doc: 'Broker URL, mqtt:// or mqtts:// (empty: agent off)', default: '', pattern: /^(|(mqtts?|wss?):\/\/.+)$/ },
    username: { kind: 'string', doc: 'Broker user name', default: '' },
    password: { kind: 'string', doc: 'Broker password', default: '', secret: true },
    caFile: { kind: 'string', doc: 'CA certificate (PEM) for TLS', default: '' },
    certFile: { kind: 'string', doc: 'Client certificate (PEM)', default: '' },
    keyFile: { kind: 'string', doc: 'Client key (PEM)', default: '' },
    protocolVersion: { kind: 'int', doc: 'MQTT protocol: 5, or 4 for 3.1.1 brokers', default: 5, min: 4, max: 5 },
    deviceId: { kind: 'string', doc: 'Device id (empty: board serial, else generated once)', default: '', pattern: /^[a-z0-9-]{0,64}$/ },
    telemetryIntervalMs: { kind: 'int', doc: 'Telemetry period', default: 30000, min: 1000, max: 3600000 },
    outboxMaxRows: { kind: 'int', doc: 'Events and logs kept while the broker is away', default: 10000, min: 10, max: 10000000 },
    rebootCommand: { kind: 'string', doc: 'Command the reboot command runs (empty: reboot refused)', default: '', localOnly: true },
    reconnectMinMs: { kind: 'int', doc: 'First reconnect delay bound (backoff with full jitter)', default: 1000, min: 50, max: 60000 },
    reconnectMaxMs: { kind: 'int', doc: 'Largest reconnect delay bound', default: 300000, min: 1000, max: 3600000 },
    keepaliveSec: { kind: 'int', doc: 'MQTT keepalive; the broker declares the device lost after 1.5 times this without traffic', default: 30, min: 5, max: 1200 },
    stateIntervalMs: { kind: 'int', doc: 'Least time between two state/<module> messages of one module', default: 10000, min: 500, max: 3600000 },
    forwardLogLevel: { kind: 'enum', doc: 'Lowest level of log lines sent to logs/<level>', values: ['debug', 'info', 'warn', 'error'], default: 'warn' },
    playerBurstThreshold: { kind: 'int', doc: 'Players arriving within 10 s that make a player-burst event (0: off)', default: 50, min: 0, max: 1000000 },
    forwardLogsPerSec: { kind: 'int', doc: 'Most log lines forwarded per second (the rest are counted)', default: 20, min: 1, max: 10000 },
  },
};
