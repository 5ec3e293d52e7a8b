/**
 * The MSBD listener as a module: serves the media core's broadcast points over MS-MSBD on its own TCP port
 * (msbd.port, 7007 by default) when msbd.enabled. Sessions are reported through ctx.hooks like every protocol's.
 */
import type { MssConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import { MsbdServer } from '../protocols/msbd/server.js';
import type { AppContext } from './context.js';
import type { MediaServerModule } from './media-server.js';

export class MsbdModule implements AppModule {
  readonly name = 'msbd';
  private server: MsbdServer | null = null;
  private state: 'stopped' | 'disabled' | 'running' | 'failed' = 'stopped';
  private readonly log: Logger;

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('msbd');
  }

  async start(): Promise<void> {
    const cfg = this.ctx.config.msbd;
    if (!cfg.enabled) {
      this.state = 'disabled';
      return;
    }
    const media = this.ctx.modules.get('media') as MediaServerModule | undefined;
    if (!media) throw new Error('the MSBD module needs the media module before it in the module list');
    const server = new MsbdServer({
      config: cfg,
      resolver: media.core,
      sweeper: media.core.scheduler,
      log: this.log,
      onSessionEnd: (summary) => this.ctx.hooks.onSessionEnd?.(summary),
      hasNsc: (point) => media.multicast.get(point) !== undefined,
    });
    try {
      await server.start();
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    this.server = server;
    this.state = 'running';
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    await s?.stop();
    if (this.state === 'running') this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: this.state === 'running' || this.state === 'disabled', state: this.state, detail: this.server ? { sessions: this.server.sessionCount, port: this.server.address()?.port } : undefined };
  }

  telemetry(): Record<string, unknown> {
    return this.server ? this.server.stats() : { enabled: false };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    // the listener's address and limits are taken at start
    return JSON.stringify(next.msbd) === JSON.stringify(previous.msbd) ? 'unchanged' : 'pending-restart';
  }
}
