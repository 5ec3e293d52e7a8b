/**
 * The native addon (src/native/mss_native.c, built by node-gyp, found by node-gyp-build in build/Release or
 * prebuilds/<platform>-<arch>/) behind a typed face. When it cannot be loaded (no compiler at install time, an
 * unsupported platform, MSS_NATIVE=off) every function still answers: `available` is false and callers report
 * "not available" instead of failing.
 */
import { createRequire } from 'node:module';
import { packageRoot } from '../config/paths.js';

export interface V4l2FrameSize {
  kind: 'discrete' | 'stepwise' | 'continuous';
  width?: number;
  height?: number;
  minWidth?: number;
  maxWidth?: number;
  stepWidth?: number;
  minHeight?: number;
  maxHeight?: number;
  stepHeight?: number;
}

export interface V4l2Format {
  bufferType: 'capture' | 'capture-mplane' | 'output' | 'output-mplane';
  fourcc: string;
  description: string;
  compressed: boolean;
  emulated: boolean;
  sizes: V4l2FrameSize[];
}

export interface V4l2DeviceInfo {
  path: string;
  driver: string;
  card: string;
  busInfo: string;
  version: string;
  /** V4L2_CAP_* bits of the device node */
  capabilities: number;
  formats: V4l2Format[];
}

interface AddonExports {
  abiVersion: number;
  probeV4l2(path: string): V4l2DeviceInfo;
  sdNotify(socket: string, message: string): void;
  sendDatagrams(fd: number, buffers: readonly Buffer[], start: number, end: number): number;
  writeMany(fds: Int32Array, count: number, data: Buffer, results: Int32Array): void;
}

/** the interface version of mss_native.c this code expects (scripts/install-native.mjs checks the built file for it) */
export const NATIVE_ABI_VERSION = 3;

export interface NativeAddon {
  readonly available: boolean;
  /** why the addon is not available (empty when it is) */
  readonly reason: string;
  /** where it was loaded from */
  readonly file: string;
  probeV4l2(path: string): V4l2DeviceInfo;
  sdNotify(socket: string, message: string): void;
  /**
   * buffers[start..end) as datagrams on a connected UDP socket in one sendmmsg(2) (64 at most): how many the kernel
   * took (> 0), or -errno when it took none (-EAGAIN: the socket buffer is full).
   */
  sendDatagrams(fd: number, buffers: readonly Buffer[], start: number, end: number): number;
  /**
   * `data` to each of fds[0..count) (connected stream sockets) with one non-blocking send(2) each, in one call:
   * results[i] is how many bytes fds[i] took (fewer than data.length when its buffer filled) or -errno
   * (-EAGAIN: it took none).
   */
  writeMany(fds: Int32Array, count: number, data: Buffer, results: Int32Array): void;
}

class MissingAddon implements NativeAddon {
  readonly available = false;
  readonly file = '';
  constructor(readonly reason: string) {}
  probeV4l2(): V4l2DeviceInfo {
    throw Object.assign(new Error(`native addon not available: ${this.reason}`), { code: 'ENOSYS' });
  }
  sdNotify(): void {
    throw Object.assign(new Error(`native addon not available: ${this.reason}`), { code: 'ENOSYS' });
  }
  sendDatagrams(): number {
    throw Object.assign(new Error(`native addon not available: ${this.reason}`), { code: 'ENOSYS' });
  }
  writeMany(): void {
    throw Object.assign(new Error(`native addon not available: ${this.reason}`), { code: 'ENOSYS' });
  }
}

/** Loads the addon from a package directory (default: this package); never throws. */
export function loadNative(dir: string = packageRoot(), env: NodeJS.ProcessEnv = process.env): NativeAddon {
  if (env.MSS_NATIVE === 'off') return new MissingAddon('disabled by MSS_NATIVE=off');
  const require = createRequire(import.meta.url);
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    const file = nodeGypBuild.resolve(dir);
    const addon = require(file) as AddonExports;
    if (addon.abiVersion !== NATIVE_ABI_VERSION) return new MissingAddon(`${file} has interface version ${addon.abiVersion}, expected ${NATIVE_ABI_VERSION} (rebuild it)`);
    return {
      available: true,
      reason: '',
      file,
      probeV4l2: (path) => addon.probeV4l2(path),
      sdNotify: (socket, message) => addon.sdNotify(socket, message),
      sendDatagrams: addon.sendDatagrams,
      writeMany: addon.writeMany,
    };
  } catch (err) {
    const first = String((err as Error).message ?? err).split('\n')[0]!;
    return new MissingAddon(first);
  }
}

let shared: NativeAddon | undefined;

/** The process-wide addon, loaded on first use. */
export function native(): NativeAddon {
  return (shared ??= loadNative());
}
