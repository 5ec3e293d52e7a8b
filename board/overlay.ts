/**
 * Board defaults: a profile gives default values for config paths (standard ports, the data partition, API auth,
 * watchdog, installer). They are laid under the user's document (the user's file and MSS_* variables win); a path
 * whose section the config does not have (yet) is skipped, so a profile may name settings other modules add later.
 */
import type { Schema } from '../src/config/schema.js';
import type { BoardProfile } from './types.js';

export function boardConfigDefaults(b: BoardProfile): Record<string, unknown> {
  return {
    'http.port': b.ports.http,
    'rtsp.port': b.ports.rtsp,
    'mmsp.port': b.ports.mms,
    'msbd.port': b.ports.msbd,
    dataDir: b.storage.dataDir,
    // a board with API auth answers the network too (with that scheme); without it, loopback only
    'api.auth.scheme': b.api.auth,
    'api.allowRemote': b.api.auth !== 'none',
    'watchdog.enabled': b.watchdog.serviceWatchdogSec > 0,
    'update.installer': b.storage.bootloader === 'none' ? 'none' : 'rauc',
    'update.rebootCommand': b.reboot.method === 'command' ? b.reboot.command : '',
  };
}

function schemaAt(schema: Schema, path: string[]): Schema | undefined {
  let s: Schema | undefined = schema;
  for (const key of path) {
    if (!s || s.kind !== 'object') return undefined;
    s = s.fields[key];
  }
  return s;
}

/** The document with the board's defaults filled in where it has no value; which paths were applied or skipped. */
export function applyBoardDefaults(doc: Record<string, unknown>, defaults: Record<string, unknown>, schema: Schema): { doc: Record<string, unknown>; applied: string[]; skipped: string[] } {
  const out = structuredClone(doc);
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const [dotted, value] of Object.entries(defaults)) {
    const path = dotted.split('.');
    if (value === undefined || !schemaAt(schema, path)) {
      skipped.push(dotted);
      continue;
    }
    let node = out;
    let present = true;
    for (const key of path.slice(0, -1)) {
      if (node[key] === undefined) node[key] = {};
      if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) {
        present = false; // the user's value is not an object: validation will name it
        break;
      }
      node = node[key] as Record<string, unknown>;
    }
    if (!present) continue;
    const last = path[path.length - 1]!;
    if (node[last] !== undefined) continue; // the user's config wins
    node[last] = structuredClone(value);
    applied.push(dotted);
  }
  return { doc: out, applied, skipped };
}
