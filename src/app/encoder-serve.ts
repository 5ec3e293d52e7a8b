/**
 * `encoder.servePort` inside `mss serve`: the encoded stream is served for pull (MS-WMSP) on a listener of its own,
 * at http://<http.host>:<servePort>/<encoder.point or live>, the way `mss encode --serve` does, while the main
 * listener keeps serving the configured points. A second HttpModule and MediaServerModule with one push point, fed
 * by the encoder module through `openLiveIngest`. Off (a module that does nothing) when the encoder is off, the
 * port is 0, or it is the main listener's own port (then the encoder feeds `encoder.point` there).
 */
import { validateConfig, type MssConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { LiveIngest, LiveIngestOptions } from '../contracts/media.js';
import { HttpModule } from '../http/server.js';
import type { AppContext } from './context.js';
import { MediaServerModule } from './media-server.js';

export const ENCODER_SERVE_MODULE = 'encoder-serve';

/** whether `config` asks for a listener of the encoder's own */
export function encoderServeWanted(config: MssConfig): boolean {
  const e = config.encoder;
  return e.enabled && e.servePort > 0 && e.servePort !== config.http.port;
}

export class EncoderServeModule implements AppModule {
  readonly name = ENCODER_SERVE_MODULE;
  readonly liveSections = ['encoder'];
  readonly pointName: string;
  private readonly http: HttpModule | null = null;
  private readonly media: MediaServerModule | null = null;
  private readonly log: Logger;
  private state: 'off' | 'stopped' | 'running' = 'off';

  constructor(private readonly ctx: AppContext) {
    const c = ctx.config;
    this.log = ctx.log.child('encoder-serve');
    this.pointName = c.encoder.point || 'live';
    if (!encoderServeWanted(c)) return;
    const config: MssConfig = {
      ...c,
      http: { ...c.http, port: c.encoder.servePort },
      // the point's every other setting from the schema's defaults
      server: { ...c.server, publishingPoints: validateConfig({ server: { publishingPoints: [{ name: this.pointName, type: 'broadcast', source: { type: 'push' } }] } }).server.publishingPoints },
    };
    this.http = new HttpModule(config.http, this.log.child('http'));
    this.media = new MediaServerModule({ ...ctx, config, http: this.http, log: this.log, modules: new Map() });
    this.state = 'stopped';
  }

  /** the encoder's sink for the pull listener's point (undefined when this module is off) */
  get active(): boolean {
    return this.media !== null;
  }

  openLiveIngest(opts: LiveIngestOptions): LiveIngest {
    return this.media!.openLiveIngest(this.pointName, opts);
  }

  async start(): Promise<void> {
    const e = this.ctx.config.encoder;
    if (e.enabled && e.servePort > 0 && e.servePort === this.ctx.config.http.port && !e.point) {
      this.log.warn('encoder-serve.same-port', { reason: `encoder.servePort ${e.servePort} is the main listener's port: set encoder.point to a push point of server.publishingPoints to serve the encoder there` });
    }
    if (!this.http || !this.media) return;
    await this.http.start();
    try {
      await this.media.start();
    } catch (err) {
      await this.http.stop();
      throw err;
    }
    this.state = 'running';
    this.log.info('encoder-serve.started', { port: this.http.address()?.port, point: this.pointName });
  }

  async stop(): Promise<void> {
    if (!this.http || !this.media) return;
    await this.media.stop();
    await this.http.stop();
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    if (this.state === 'off') return { ok: true, state: 'off' };
    return { ok: this.state === 'running', state: this.state, detail: { port: this.http?.address()?.port, point: this.pointName, ...this.media?.health().detail } };
  }

  /** the listener is opened at start: a new port, point or host takes a restart */
  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    // only what this listener uses: the point name and host matter while it is wanted
    const key = (c: MssConfig) => (encoderServeWanted(c) ? JSON.stringify([c.encoder.servePort, c.encoder.point, c.http.host]) : 'off');
    return key(next) === key(previous) ? 'unchanged' : 'pending-restart';
  }
}
