/**
 * systeminformation, loaded on first use: it costs ~12 MB of RSS, and the device agent that uses it is off
 * unless the config names a broker.
 */
type SystemInformation = typeof import('systeminformation');

let loading: Promise<SystemInformation> | undefined;

export function systemInformation(): Promise<SystemInformation> {
  loading ??= import('systeminformation').then((m) => ((m as { default?: SystemInformation }).default ?? m) as SystemInformation);
  return loading;
}
