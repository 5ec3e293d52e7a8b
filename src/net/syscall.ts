/**
 * What the direct socket paths (net/direct-write.ts for TCP, net/udp-direct.ts for UDP) share: the one switch that
 * turns them all off (MSS_DIRECT_WRITE=0, to rule them out or to measure what they gain) and the translation of a
 * native call's -errno into the Error Node itself would have raised.
 */
import { constants } from 'node:os';
import { native, type NativeAddon } from '../native/index.js';

/** MSS_DIRECT_WRITE=0: every write goes through Node's own socket APIs */
export const directWritesOff = process.env.MSS_DIRECT_WRITE === '0';

/** one of the addon's direct socket calls, looked up on first use: null without the addon, off Linux or when switched off */
export function directNative<T>(pick: (addon: NativeAddon) => T): () => T | null {
  let fn: T | null | undefined = directWritesOff ? null : undefined;
  return () => {
    if (fn !== undefined) return fn;
    const addon = native();
    fn = addon.available && process.platform === 'linux' ? pick(addon) : null;
    return fn;
  };
}

const ERRNO_NAME = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** -errno as Node reports a failed call: code ECONNRESET, errno -104, syscall ... */
export function errnoError(negErrno: number, syscall: string): Error {
  const code = ERRNO_NAME.get(-negErrno) ?? `E${-negErrno}`;
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: negErrno, syscall });
}

export const EAGAIN = -constants.errno.EAGAIN;
