/**
 * sd_notify(3): readiness, status and watchdog pings to systemd. The message goes to $NOTIFY_SOCKET as one unix
 * datagram, sent by the native addon (node:net has no datagram unix sockets); without the addon, through
 * `systemd-notify` (the unit then needs NotifyAccess=all, since that helper is a child process).
 */
import { spawn } from 'node:child_process';
import { native } from '../native/index.js';

export interface Notifier {
  readonly kind: string;
  notify(message: string): void;
}

/** The notifier for this process, or null when systemd did not ask for notifications. */
export function systemdNotifier(env: NodeJS.ProcessEnv = process.env): Notifier | null {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return null;
  const addon = native();
  if (addon.available) return { kind: 'addon', notify: (m) => addon.sdNotify(socket, m) };
  return {
    kind: 'systemd-notify',
    notify: (m) => {
      const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...m.split('\n').filter(Boolean)], { stdio: 'ignore' });
      child.on('error', () => undefined);
      child.unref();
    },
  };
}

/** The service watchdog period systemd asked for (WatchdogSec), or 0 when none or meant for another process. */
export function watchdogUsec(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return 0;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return 0;
  return usec;
}
