/** Preflight of a signed update: the board, the version (no downgrade unless forced) and the space it needs. */
import { mkdirSync, statfsSync } from 'node:fs';
import { MssError } from '../core/errors.js';
import { compareVersions, type UpdateParams } from './manifest.js';

export interface PreflightContext {
  board: string;
  runningVersion: string;
  downloadDir: string;
  minFreeBytes: number;
  /** bytes already downloaded (a resumed job needs only the rest) */
  haveBytes?: number;
}

export function freeBytes(dir: string): number {
  mkdirSync(dir, { recursive: true });
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Throws MssError('invalid-argument') with the reason the device refuses this update. */
export function preflight(p: UpdateParams, ctx: PreflightContext): void {
  if (!p.boards.includes(ctx.board)) throw new MssError('invalid-argument', `wrong board: the bundle is for ${p.boards.join(', ')}, this device is ${ctx.board}: refused`);
  if (!p.force && compareVersions(p.version, ctx.runningVersion) <= 0) {
    throw new MssError('invalid-argument', `version ${p.version} is not newer than the running ${ctx.runningVersion} (a downgrade needs force: true): refused`);
  }
  const need = p.size - (ctx.haveBytes ?? 0) + ctx.minFreeBytes;
  const free = freeBytes(ctx.downloadDir);
  if (free < need) throw new MssError('invalid-argument', `not enough space in ${ctx.downloadDir}: ${free} bytes free, ${need} needed (bundle + update.minFreeBytes): refused`);
}
