/**
 * Job type `firmware-update` (jobs/<id>): queued → downloading → installing → rebooting → verifying → successful.
 * Refused (rejected) at once: unsigned or badly signed documents, another board, a downgrade without force, too
 * little space. Each step saves a checkpoint, so a restart resumes the download where the file ends and the reboot
 * is recognised by a new boot id; after the boot, the health check marks the slot good, or marks it bad (failed)
 * and reboots so the bootloader brings back the previous slot. Nothing is installed before the bytes match the
 * signed sha256, and the running slot is never written.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { MssConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { AppModule } from '../core/module.js';
import type { JobContext, JobType } from '../device/jobs.js';
import { downloadResumable } from './download.js';
import { waitHealthy } from './health.js';
import type { Installer } from './installer.js';
import { waitForUpdateLock } from './lock.js';
import { readUpdateKey, validateUpdateDoc, verifyUpdateSignature, type UpdateParams } from './manifest.js';
import { preflight } from './preflight.js';

export interface FirmwareUpdateDeps {
  config: () => MssConfig;
  /** the running board profile id */
  board: () => string;
  /** the version this process runs (preflight's downgrade check) */
  runningVersion: () => string;
  installer: () => Installer;
  modules: () => readonly AppModule[];
  /** modules the health check needs ready */
  core: readonly string[];
  mqttConnected: () => boolean;
  /** the loopback URL a player plays from in the health check */
  loopbackUrl: () => string;
  /** status/<state> of the device while installing and rebooting */
  announce: (state: 'updating' | 'rebooting' | 'online') => Promise<void>;
}

interface Checkpoint {
  phase?: 'downloaded' | 'installed' | 'rebooting';
  slot?: string;
  bootBefore?: string;
}

export function downloadDirOf(config: MssConfig): string {
  return isAbsolute(config.update.downloadDir) ? config.update.downloadDir : join(config.dataDir, config.update.downloadDir);
}

const final = (message: string) => new MssError('internal', message, { final: true });

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export function firmwareUpdateJob(deps: FirmwareUpdateDeps): JobType {
  const files = (id: string) => {
    const dir = downloadDirOf(deps.config());
    return { dir, part: join(dir, `${id}.bundle.part`), bundle: join(dir, `${id}.bundle`) };
  };

  /** signature, board, version, space: everything that refuses a job before a byte is downloaded */
  function check(doc: Record<string, unknown>, haveBytes = 0): UpdateParams {
    const c = deps.config();
    deps.installer(); // a device without an installer refuses at once
    const p = validateUpdateDoc(doc, c.update.maxBundleBytes);
    verifyUpdateSignature(p, readUpdateKey(c.update.publicKeyFile));
    preflight(p, { board: deps.board(), runningVersion: deps.runningVersion(), downloadDir: downloadDirOf(c), minFreeBytes: c.update.minFreeBytes, haveBytes });
    return p;
  }

  async function download(ctx: JobContext, p: UpdateParams): Promise<void> {
    const f = files(ctx.id);
    await mkdir(f.dir, { recursive: true });
    const have = await stat(f.part).then((s) => s.size, () => 0);
    ctx.setStatus('downloading', 0.5 * (have / p.size), have > 0 ? `resuming at byte ${have}` : '');
    const r = await downloadResumable({ url: p.url, file: f.part, size: p.size, signal: ctx.signal, onProgress: (b) => ctx.setStatus('downloading', 0.5 * (b / p.size)) });
    if (r.resumedFrom > 0) ctx.log.info('update-download-resumed', { from: r.resumedFrom, size: p.size });
    const digest = await sha256Of(f.part);
    if (digest !== p.sha256) {
      await rm(f.part, { force: true });
      throw new MssError('malformed', `the downloaded bundle's sha256 is ${digest}, the signed one is ${p.sha256}: discarded`);
    }
    await rename(f.part, f.bundle);
  }

  async function install(ctx: JobContext, p: UpdateParams): Promise<Checkpoint> {
    const c = deps.config();
    ctx.setStatus('installing', 0.5, 'waiting for the update lock');
    const why = await waitForUpdateLock({ modules: deps.modules, window: c.update.maintenanceWindow, signal: ctx.signal, waiting: (w) => ctx.setStatus('installing', 0.5, w) });
    ctx.setStatus('installing', 0.5, `installing (${why})`);
    await deps.announce('updating');
    const installer = deps.installer();
    const bootBefore = await installer.bootId();
    const { slot } = await installer.install(files(ctx.id).bundle, p.version, { signal: ctx.signal, progress: (x) => ctx.setStatus('installing', 0.5 + 0.3 * x, `installing (${installer.name})`) });
    ctx.log.info('update-installed', { slot, version: p.version, installer: installer.name });
    return { phase: 'installed', slot, bootBefore };
  }

  async function verifyAfterBoot(ctx: JobContext, p: UpdateParams, cp: Checkpoint): Promise<void> {
    const installer = deps.installer();
    // the broker is part of the check, and the operator should see this step: wait for it (bounded) first
    const deadline = Date.now() + deps.config().update.healthTimeoutMs;
    while (!deps.mqttConnected() && Date.now() < deadline && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 100));
    ctx.setStatus('verifying', 0.9, `checking slot ${cp.slot}`);
    const booted = await installer.bootedSlot();
    if (booted !== cp.slot) throw final(`the device booted slot ${booted}, not the new slot ${cp.slot}: the bootloader rolled back`);
    const running = await installer.runningVersion();
    const failures = running === p.version ? [] : [`slot ${booted} runs version ${running}, expected ${p.version}`];
    if (failures.length === 0) {
      failures.push(...(await waitHealthy({ modules: deps.modules, core: deps.core, mqttConnected: deps.mqttConnected, url: deps.loopbackUrl }, deps.config().update.healthTimeoutMs, ctx.signal)));
    }
    if (failures.length > 0) {
      await installer.markBad();
      // let the failed status reach the broker, then go back to the previous slot
      setTimeout(() => void installer.reboot().catch((err) => ctx.log.error('update-rollback-reboot-failed', { err })), 2000).unref();
      throw final(`health check failed on slot ${booted}: ${failures.join('; ')}; slot marked bad, rebooting into the previous slot`);
    }
    await installer.markGood();
    await deps.announce('online');
    ctx.log.info('update-verified', { slot: booted, version: p.version });
  }

  return {
    name: 'firmware-update',
    workingStates: ['downloading', 'installing', 'rebooting', 'verifying'],
    validate: (doc) => check(doc) as unknown as Record<string, unknown>,
    async run(ctx) {
      let cp = ctx.checkpoint as Checkpoint;
      const p = cp.phase ? validateUpdateDoc(ctx.params, Number.MAX_SAFE_INTEGER) : check(ctx.params, await stat(files(ctx.id).part).then((s) => s.size, () => 0));
      if (!cp.phase) {
        await download(ctx, p);
        cp = { phase: 'downloaded' };
        ctx.saveCheckpoint({ ...cp });
      }
      if (cp.phase === 'downloaded') {
        cp = await install(ctx, p);
        ctx.saveCheckpoint({ ...cp });
        await rm(files(ctx.id).bundle, { force: true });
      }
      const installer = deps.installer();
      if (cp.phase === 'installed' || (cp.phase === 'rebooting' && (await installer.bootId()) === cp.bootBefore)) {
        cp = { ...cp, phase: 'rebooting' };
        ctx.saveCheckpoint({ ...cp });
        ctx.setStatus('rebooting', 0.85, `rebooting into slot ${cp.slot}`);
        await deps.announce('rebooting');
        await installer.reboot();
        await untilAborted(ctx.signal); // the reboot stops this process; the job resumes after the boot
      }
      await verifyAfterBoot(ctx, p, cp);
    },
    async cleanup(id) {
      const f = files(id);
      await rm(f.part, { force: true });
      await rm(f.bundle, { force: true });
    },
  };
}
