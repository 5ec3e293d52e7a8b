/**
 * What the direct socket paths (net/direct-write.ts for TCP, net/udp-direct.ts for UDP) share: the one switch that
 * turns them all off (MSS_DIRECT_WRITE=0, to rule them out or to measure what they gain) and the translation of a
 * native call's -errno into the Error Node itself would have raised.
 */
import { constants } from 'node:os';

/** MSS_DIRECT_WRITE=0: every write goes through Node's own socket APIs */
export const directWritesOff = process.env.MSS_DIRECT_WRITE === '0';

const ERRNO_NAME = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** -errno as Node reports a failed call: code ECONNRESET, errno -104, syscall ... */
export function errnoError(negErrno: number, syscall: string): Error {
  const code = ERRNO_NAME.get(-negErrno) ?? `E${-negErrno}`;
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: negErrno, syscall });
}

export const EAGAIN = -constants.errno.EAGAIN;
