/** The environment part of every command's --help, from the one list of variables (config/env.ts). */
import { OTHER_ENV_VARS } from '../config/env.js';

/** Config overrides (MSS_<PATH>) when the command reads the config, then the command's own variables. */
export function envHelp(opts: { config: boolean; vars?: string[]; extra?: Record<string, string> }): string {
  const rows: Array<[string, string]> = [];
  if (opts.config) {
    rows.push(['MSS_<PATH>', 'any setting, in upper snake case: MSS_HTTP_PORT=9090, MSS_DATA_DIR=/var/lib/mss,']);
    rows.push(['', 'MSS_LOG_LEVEL=debug, MSS_MQTT_URL=mqtt://broker:1883 (mss config --doc lists every setting)']);
  }
  for (const v of opts.vars ?? []) rows.push([v, OTHER_ENV_VARS[v] ?? '']);
  for (const [k, v] of Object.entries(opts.extra ?? {})) rows.push([k, v]);
  if (rows.length === 0) return 'environment: none read\n';
  const w = Math.max(...rows.map(([k]) => k.length));
  return 'environment:\n' + rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`.trimEnd()).join('\n') + '\n';
}
