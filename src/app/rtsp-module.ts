/**
 * The RTSP module: the RTSP-WME server on a listener of its own, serving the media module's publishing points
 * (the same targets, limits, IP lists and accounts as WMSP). It reports sessions and logs through ctx.hooks, adds
 * its counters to /api/status and its rtsp:// URL to the .asx announcements (first, with mmsh:// as fallback).
 */
import type { MssConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import { RtspServer } from '../protocols/rtsp/server.js';
import type { AppContext } from './context.js';
import type { MediaServerModule } from './media-server.js';

export class RtspModule implements AppModule {
  readonly name = 'rtsp';
  private server: RtspServer | null = null;
  private state: 'stopped' | 'running' | 'disabled' | 'failed' = 'stopped';
  private port = 0;
  private readonly log: Logger;

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('rtsp');
  }

  async start(): Promise<void> {
    const cfg = this.ctx.config.rtsp;
    if (!cfg.enabled) {
      this.state = 'disabled';
      return;
    }
    const media = this.ctx.modules.get('media') as MediaServerModule | undefined;
    if (!media?.core) throw new MssError('unavailable', 'the RTSP module needs the media module before it in the module list');
    const server = new RtspServer({ config: cfg, resolver: media.core, sweeper: media.core.scheduler, hooks: this.ctx.hooks, log: this.log, authGuard: media.authGuard });
    try {
      this.port = (await server.start()).port;
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    this.server = server;
    this.state = 'running';
    media.addProtocol({
      name: 'rtsp',
      status: () => this.server?.status() ?? {},
      streamUrl: (hostname, path) => (this.server ? `rtsp://${hostname}${this.port === 554 ? '' : `:${this.port}`}${path}` : undefined),
    });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await s.stop();
    if (this.state === 'running') this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: this.state === 'running' || this.state === 'disabled', state: this.state, detail: this.server ? { port: this.port, ...this.server.status() } : undefined };
  }

  telemetry(): Record<string, unknown> {
    return this.server?.status() ?? {};
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    // the listener and its port ranges are bound at start: a changed section needs a restart
    return JSON.stringify(next.rtsp) === JSON.stringify(previous.rtsp) ? 'unchanged' : 'pending-restart';
  }
}
