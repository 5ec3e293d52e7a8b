/**
 * Sends datagrams on a connected dgram socket with one sendmmsg(2) through the native addon, past Node's dgram
 * send (which costs a request object, argument checks and a callback per datagram: at one RTP packet per ASF packet
 * that was most of RTSP/UDP's user time). The caller uses it only when libuv holds nothing of that socket's (its
 * send queue is empty), so no datagram overtakes an earlier one. Off when the addon is missing, when Node's socket
 * state is not where it has been since Node 12, and with MSS_DIRECT_WRITE=0 (to rule it out or measure it).
 */
import type { Socket as DgramSocket } from 'node:dgram';
import { directNative } from './syscall.js';

export type DatagramSender = (fd: number, buffers: readonly Buffer[], start: number, end: number) => number;

/** the native sendmmsg, or null when it cannot be used here */
export const datagramSender: () => DatagramSender | null = directNative((addon) => addon.sendDatagrams);

/** the descriptor of a bound dgram socket (its UDP handle's fd; Node keeps the handle under its 'state symbol'), or -1 */
export function dgramFd(socket: DgramSocket): number {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (!key) return -1;
  const state = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } | null } | undefined>)[key];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}
