import type { Schema } from '../schema.js';

export interface HookCommandConfig {
  /** event types that run it (point-started, point-stopped, player-joined, player-left, source-lost, update-finished, or any module event; "*" = all) */
  events: string[];
  /** program to run (no shell): the event arrives as JSON on stdin and as MSS_EVENT_* environment variables */
  command: string;
  args: string[];
  /** killed after this long (0 = the section's timeoutMs) */
  timeoutMs: number;
}

export interface HooksConfig {
  /** most hook processes running at once */
  maxConcurrent: number;
  /** events waiting for a free slot; beyond it new events are dropped (and counted) */
  maxQueued: number;
  timeoutMs: number;
  commands: HookCommandConfig[];
}

const EVENT = /^(\*|[a-z][a-z0-9-]{0,63})$/;

export const hooksSchema: Schema = {
  kind: 'object',
  doc: 'Commands run on events (point started/stopped, player joined/left, encoder lost its source, update finished); never blocking streaming',
  fields: {
    maxConcurrent: { kind: 'int', doc: 'Most hook processes running at once', default: 4, min: 1, max: 64 },
    maxQueued: { kind: 'int', doc: 'Events waiting for a free slot; beyond it events are dropped, counted and logged', default: 256, min: 1, max: 100000 },
    timeoutMs: { kind: 'int', doc: 'A hook still running after this long is killed', default: 10000, min: 100, max: 3600000 },
    commands: {
      kind: 'array',
      doc: 'Hooks: which events run which program',
      default: [],
      maxItems: 64,
      items: {
        kind: 'object',
        doc: 'A hook',
        fields: {
          events: { kind: 'array', doc: 'Event types (point-started, point-stopped, player-joined, player-left, source-lost, update-finished, a module event, or "*")', maxItems: 32, items: { kind: 'string', doc: 'event type', pattern: EVENT } },
          command: { kind: 'string', doc: 'Program to run (absolute path or on PATH; no shell): event JSON on stdin, MSS_EVENT_* in the environment', pattern: /^\S.*$/, maxLength: 1024 },
          args: { kind: 'array', doc: 'Arguments', default: [], maxItems: 64, items: { kind: 'string', doc: 'argument', maxLength: 1024 } },
          timeoutMs: { kind: 'int', doc: 'Kill it after this long (0: the section timeoutMs)', default: 0, min: 0, max: 3600000 },
        },
      },
    },
  },
};
