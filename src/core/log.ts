/**
 * Structured logging: one JSON line per event on stderr, quiet by default.
 * Modules take a Logger (child of the root) so every line names its component.
 */
import { redactDeep } from '../config/redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string, level: LogLevel, event: string, fields: LogFields) => void;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(component: string, fields?: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

interface LogState {
  level: LogLevel;
  /** a temporary level (e.g. debug for 10 minutes, set over MQTT) and when it ends */
  overrideLevel?: LogLevel;
  overrideUntil?: number;
  sinks: LogSink[];
}

const state: LogState = {
  level: (process.env.MSS_LOG_LEVEL as LogLevel) in LEVEL_RANK ? (process.env.MSS_LOG_LEVEL as LogLevel) : 'info',
  sinks: [(line) => process.stderr.write(line + '\n')],
};

export function setLogLevel(level: LogLevel): void {
  state.level = level;
}

/** Raises or lowers the level until `untilMs` (epoch ms), then falls back to the configured level. */
export function setTemporaryLogLevel(level: LogLevel, untilMs: number): void {
  state.overrideLevel = level;
  state.overrideUntil = untilMs;
}

export function currentLogLevel(): LogLevel {
  if (state.overrideLevel && state.overrideUntil && Date.now() < state.overrideUntil) return state.overrideLevel;
  return state.level;
}

/** Replaces the sinks (tests capture lines; the device agent adds an MQTT forwarder). */
export function setLogSinks(sinks: LogSink[]): void {
  state.sinks = sinks;
}

export function addLogSink(sink: LogSink): () => void {
  state.sinks.push(sink);
  return () => {
    state.sinks = state.sinks.filter((s) => s !== sink);
  };
}

function serialize(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: value.message };
    if ('code' in value) out.code = (value as { code: unknown }).code;
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function makeLogger(component: string, base: LogFields): Logger {
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < LEVEL_RANK[currentLogLevel()]) return;
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level, component, event, ...base };
    // URL passwords never reach a sink (stderr, the journal, MQTT log forwarding), whatever field carries them
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = redactDeep(serialize(v));
    const line = JSON.stringify(record);
    for (const sink of state.sinks) sink(line, level, event, record);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (sub, fields) => makeLogger(`${component}.${sub}`, { ...base, ...fields }),
    enabled: (level) => LEVEL_RANK[level] >= LEVEL_RANK[currentLogLevel()],
  };
}

export const rootLogger: Logger = makeLogger('mss', {});

export function createLogger(component: string, fields: LogFields = {}): Logger {
  return makeLogger(component, fields);
}
