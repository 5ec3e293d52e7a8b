/**
 * The RAUC installer on devices, over RAUC's D-Bus API (service de.pengutronix.rauc, object /, interface
 * de.pengutronix.rauc.Installer), spoken through `busctl` (part of systemd on every image) so mss needs no D-Bus
 * library: InstallBundle, then the Operation/Progress/LastError properties until it is idle; BootSlot for the
 * running slot; Mark("good"|"bad", "booted") after the post-boot health check.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { MssError } from '../core/errors.js';
import { packageVersion } from '../core/version.js';
import type { Installer, InstallProgress } from './installer.js';

const DEST = 'de.pengutronix.rauc';
const IFACE = 'de.pengutronix.rauc.Installer';
const POLL_MS = 1000;

export type BusctlRunner = (args: string[], signal?: AbortSignal) => Promise<string>;

const busctl: BusctlRunner = (args, signal) =>
  new Promise((resolve, reject) => {
    execFile('busctl', ['--system', '--json=short', ...args], { timeout: 30_000, maxBuffer: 1024 * 1024, signal }, (err, stdout, stderr) => {
      if (err) reject(new MssError('unavailable', `busctl ${args.slice(0, 4).join(' ')}: ${String(stderr || err.message).trim().slice(0, 300)}`));
      else resolve(stdout);
    });
  });

/** `busctl --json=short` prints {"type":"s","data":...} for properties and {"type":"s","data":[...]} for replies. */
function data(out: string): unknown {
  try {
    return (JSON.parse(out) as { data: unknown }).data;
  } catch {
    throw new MssError('malformed', `busctl answered something that is not JSON: ${out.slice(0, 200)}`);
  }
}

export class RaucInstaller implements Installer {
  readonly name = 'rauc';

  constructor(
    private readonly rebootCommand: string,
    private readonly run: BusctlRunner = busctl,
  ) {}

  private async property(name: string): Promise<unknown> {
    return data(await this.run(['get-property', DEST, '/', IFACE, name]));
  }

  async bootId(): Promise<string> {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  }

  async bootedSlot(): Promise<string> {
    return String(await this.property('BootSlot'));
  }

  async runningVersion(): Promise<string> {
    return packageVersion();
  }

  async install(bundle: string, _version: string, opts: InstallProgress): Promise<{ slot: string }> {
    await this.run(['call', DEST, '/', IFACE, 'InstallBundle', 'sa{sv}', bundle, '0'], opts.signal);
    for (;;) {
      if (opts.signal.aborted) throw opts.signal.reason;
      await new Promise((r) => setTimeout(r, POLL_MS));
      const progress = (await this.property('Progress')) as [number, string, number];
      if (Array.isArray(progress)) opts.progress(Math.min(1, Number(progress[0]) / 100));
      if ((await this.property('Operation')) === 'idle') break;
    }
    const lastError = String(await this.property('LastError'));
    if (lastError) throw new MssError('internal', `rauc could not install the bundle: ${lastError}`, { final: true });
    const primary = String((data(await this.run(['call', DEST, '/', IFACE, 'GetPrimary'])) as unknown[])[0]);
    return { slot: await this.bootname(primary) };
  }

  /** GetPrimary names a slot ("rootfs.1"), BootSlot its bootname ("B"): compare like with like */
  private async bootname(slot: string): Promise<string> {
    const status = (data(await this.run(['call', DEST, '/', IFACE, 'GetSlotStatus'])) as unknown[])[0];
    if (!Array.isArray(status)) return slot;
    for (const entry of status as Array<[string, Record<string, { data?: unknown }>]>) {
      if (Array.isArray(entry) && entry[0] === slot) return String(entry[1]?.bootname?.data ?? slot);
    }
    return slot;
  }

  async markGood(): Promise<void> {
    await this.run(['call', DEST, '/', IFACE, 'Mark', 'ss', 'good', 'booted']);
  }

  async markBad(): Promise<void> {
    await this.run(['call', DEST, '/', IFACE, 'Mark', 'ss', 'bad', 'booted']);
  }

  async reboot(): Promise<void> {
    const cmd = this.rebootCommand ? this.rebootCommand.split(/\s+/) : ['systemctl', 'reboot'];
    await new Promise<void>((resolve, reject) =>
      execFile(cmd[0]!, cmd.slice(1), { timeout: 30_000 }, (err) => (err ? reject(new MssError('unavailable', `reboot (${cmd.join(' ')}) failed: ${err.message}`)) : resolve())),
    );
  }
}
