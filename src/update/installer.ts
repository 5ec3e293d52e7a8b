/**
 * Where an update bundle goes. `Installer` is what the firmware-update job needs from an A/B system: write the
 * bundle into the slot that is not running, say which slot booted, mark it good or bad, reboot. RAUC implements it on
 * devices (rauc.ts); `FileAbInstaller` implements it with two directories and a state file standing in for the
 * bootloader, so the whole job runs in tests with real files.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MssError } from '../core/errors.js';

export interface InstallProgress {
  signal: AbortSignal;
  /** 0..1 */
  progress(fraction: number): void;
}

export interface Installer {
  readonly name: string;
  /** changes at every boot: tells "before the reboot" from "after" */
  bootId(): Promise<string>;
  /** the slot that is running (A or B) */
  bootedSlot(): Promise<string>;
  /** the version the running slot carries */
  runningVersion(): Promise<string>;
  /** writes the bundle into the other slot and makes it the one tried at the next boot; returns that slot */
  install(bundle: string, version: string, opts: InstallProgress): Promise<{ slot: string }>;
  /** the booted slot works: keep booting it */
  markGood(): Promise<void>;
  /** the booted slot failed its health check: the bootloader goes back to the other one */
  markBad(): Promise<void>;
  reboot(): Promise<void>;
}

type Slot = 'A' | 'B';
interface AbState {
  /** the slot the bootloader boots by default */
  primary: Slot;
  /** the slot that runs now */
  booted: Slot;
  /** a freshly installed slot, booted once at the next boot (tryboot / boot count 1) */
  tryNext: Slot | null;
  bad: Slot[];
  boots: number;
  rebootRequested: boolean;
  versions: Partial<Record<Slot, string>>;
}

const other = (s: Slot): Slot => (s === 'A' ? 'B' : 'A');

/** A/B slots as directories `<dir>/A` and `<dir>/B`; `<dir>/state.json` plays the bootloader's environment. */
export class FileAbInstaller implements Installer {
  readonly name = 'file';
  private booting?: Promise<AbState>;

  constructor(
    private readonly dir: string,
    private readonly initialVersion: string,
    private readonly onReboot: () => void = () => undefined,
  ) {}

  private get stateFile(): string {
    return join(this.dir, 'state.json');
  }

  private async read(): Promise<AbState> {
    try {
      return JSON.parse(await readFile(this.stateFile, 'utf8')) as AbState;
    } catch {
      return { primary: 'A', booted: 'A', tryNext: null, bad: [], boots: 1, rebootRequested: false, versions: { A: this.initialVersion } };
    }
  }

  private async write(s: AbState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.stateFile}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w');
    await fh.writeFile(JSON.stringify(s, null, 2));
    await fh.sync();
    await fh.close();
    await rename(tmp, this.stateFile);
  }

  /** The bootloader's step, run once per process: a requested reboot boots the tried slot once, else the primary. */
  private state(): Promise<AbState> {
    this.booting ??= (async () => {
      const s = await this.read();
      if (s.rebootRequested) {
        s.booted = s.tryNext ?? s.primary;
        s.tryNext = null;
        s.boots++;
        s.rebootRequested = false;
      }
      await this.write(s);
      return s;
    })();
    return this.booting;
  }

  /** The whole bootloader state, for tests and `mss fleet show`. */
  async inspect(): Promise<AbState> {
    return structuredClone(await this.state());
  }

  async bootId(): Promise<string> {
    return `boot-${(await this.state()).boots}`;
  }

  async bootedSlot(): Promise<string> {
    return (await this.state()).booted;
  }

  async runningVersion(): Promise<string> {
    const s = await this.state();
    return s.versions[s.booted] ?? this.initialVersion;
  }

  async install(bundle: string, version: string, opts: InstallProgress): Promise<{ slot: string }> {
    const s = await this.state();
    const slot = other(s.booted);
    const target = join(this.dir, slot);
    const staging = join(this.dir, `.${slot}.installing`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    try {
      // the slot is replaced only once the whole image is written and synced
      await pipeline(createReadStream(bundle), createWriteStream(join(staging, 'rootfs.img')), { signal: opts.signal });
      const fh = await open(join(staging, 'rootfs.img'), 'r');
      await fh.sync();
      await fh.close();
      opts.progress(0.9);
      await rm(target, { recursive: true, force: true });
      await rename(staging, target);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err instanceof MssError ? err : new MssError('internal', `installing into slot ${slot} failed: ${(err as Error).message}`);
    }
    s.versions[slot] = version;
    s.bad = s.bad.filter((x) => x !== slot);
    s.tryNext = slot;
    await this.write(s);
    opts.progress(1);
    return { slot };
  }

  async markGood(): Promise<void> {
    const s = await this.state();
    s.primary = s.booted;
    s.bad = s.bad.filter((x) => x !== s.booted);
    await this.write(s);
  }

  async markBad(): Promise<void> {
    const s = await this.state();
    if (!s.bad.includes(s.booted)) s.bad.push(s.booted);
    s.primary = other(s.booted);
    s.tryNext = null;
    await this.write(s);
  }

  async reboot(): Promise<void> {
    const s = await this.state();
    s.rebootRequested = true;
    await this.write(s);
    this.onReboot();
  }
}
