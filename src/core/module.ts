import type { ConfigIssue, MssConfig } from '../config/index.js';

/**
 * A feature the appliance runs (server, encoder, logs, device agent, later proxy and updates).
 * Constructors do no I/O; start() acquires sockets, files and processes; stop() releases them all.
 */
export interface ModuleHealth {
  ok: boolean;
  /** short state word: starting, running, degraded, stopped, failed */
  state: string;
  detail?: Record<string, unknown>;
}

/** Whether a new config took effect in the running module, or needs a restart of the process. */
export type ReconfigureResult = 'applied' | 'unchanged' | 'pending-restart';

/** A remote command a module offers (the device agent serves every module's commands over MQTT). */
export interface ModuleCommand {
  /** command name, unique across modules: `cmd/<name>` */
  name: string;
  description: string;
  /** validates `args` (throw MssError('invalid-argument')) and performs the action; the result is the reply's data */
  run(args: Record<string, unknown>): Promise<unknown>;
}

export interface AppModule {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): ModuleHealth;
  /**
   * What the schema cannot see but this module would refuse while applying `next` (an unknown encoder profile, a
   * point that does not exist): checked for every module before any module applies anything.
   */
  checkConfig?(next: MssConfig, previous: MssConfig): ConfigIssue[];
  /** apply a validated new config live where possible */
  reconfigure?(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult>;
  /**
   * the config sections reconfigure applies live (default: the section named like the module); a changed section
   * no module applies waits for a restart, and the change says so
   */
  readonly liveSections?: readonly string[];
  /** commands this module adds to the device agent's table */
  commands?(): ModuleCommand[];
  /** metrics for telemetry/<module> (cheap: called periodically) */
  telemetry?(): Record<string, unknown>;
}

/** Starts modules in list order and stops them in reverse; a failed start stops what already started. */
export class ModuleRunner {
  private readonly started: AppModule[] = [];

  constructor(readonly modules: readonly AppModule[]) {}

  async start(): Promise<void> {
    for (const m of this.modules) {
      try {
        await m.start();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.started.push(m);
    }
  }

  async stop(): Promise<void> {
    while (this.started.length > 0) {
      const m = this.started.pop()!;
      try {
        await m.stop();
      } catch {
        // keep stopping the rest; the module logs its own failure
      }
    }
  }

  get<T extends AppModule = AppModule>(name: string): T | undefined {
    return this.modules.find((m) => m.name === name) as T | undefined;
  }

  health(): Record<string, ModuleHealth> {
    const out: Record<string, ModuleHealth> = {};
    for (const m of this.modules) out[m.name] = m.health();
    return out;
  }
}
