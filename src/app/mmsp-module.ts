/**
 * The MMS listener as a module of the appliance: the MS-MMSP server on its own port (1755 by default) serving the
 * media module's publishing points, its sessions and player logs reported through ctx.hooks like WMSP's.
 */
import type { MssConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import { MmspServer } from '../protocols/mmsp/server.js';
import type { AppContext } from './context.js';
import type { MediaServerModule } from './media-server.js';

export class MmspModule implements AppModule {
  readonly name = 'mmsp';
  readonly server: MmspServer | null;
  private readonly log: Logger;
  private readonly media: MediaServerModule | undefined;
  private state: 'stopped' | 'running' | 'disabled' | 'failed' = 'stopped';

  constructor(ctx: AppContext) {
    this.log = ctx.log.child('mmsp');
    const media = ctx.modules.get('media') as MediaServerModule | undefined;
    this.media = media;
    if (!ctx.config.mmsp.enabled || !media) {
      this.server = null;
      return;
    }
    this.server = new MmspServer({
      resolver: media.core,
      sweeper: media.core.scheduler,
      log: this.log,
      config: ctx.config.mmsp,
      // the hooks are late-bound (the logs module fills them): look them up on every call
      onPlayerLog: async (report) => {
        await ctx.hooks.onPlayerLog?.(report);
      },
      onSessionEnd: (summary) => ctx.hooks.onSessionEnd?.(summary),
      authGuard: media.authGuard,
    });
  }

  async start(): Promise<void> {
    if (!this.server) {
      this.state = 'disabled';
      return;
    }
    try {
      await this.server.start();
      this.state = 'running';
      // its sessions and counters in /api/status, beside WMSP's and RTSP's
      const server = this.server;
      this.media?.addProtocol({ name: 'mmsp', status: () => server.status() });
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    if (this.state === 'running') this.state = 'stopped';
  }

  health(): ModuleHealth {
    const ok = this.state === 'running' || this.state === 'disabled';
    return { ok, state: this.state, detail: this.server ? { port: this.server.port, udp: this.server.udpEnabled, sessions: this.server.sessionCount } : undefined };
  }

  telemetry(): Record<string, unknown> {
    return this.server ? this.server.status() : { enabled: false };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    // the listener's port and limits are taken at start
    return JSON.stringify(next.mmsp) === JSON.stringify(previous.mmsp) ? 'unchanged' : 'pending-restart';
  }
}
