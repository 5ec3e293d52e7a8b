/**
 * The control API module: `/api/v1/` over HTTP (behind the operator guard) and the same operations as device
 * commands (`commands()`), over the one config path (ConfigService) so changes are validated, persisted and
 * survive a restart whether or not MQTT is configured.
 */
import type { AppContext } from '../app/context.js';
import type { MediaServerModule } from '../app/media-server.js';
import { MssError } from '../core/errors.js';
import type { AppModule, ModuleCommand, ModuleHealth } from '../core/module.js';
import type { MediaCore } from '../media/core.js';
import { apiCommands } from './commands.js';
import { openApiDocument } from './openapi.js';
import { apiOperations, type ApiOperation } from './operations.js';
import { operatorAccess } from './operator-access.js';
import { apiRoute } from './routes.js';
import { storeUpload } from './upload.js';

export class ApiModule implements AppModule {
  readonly name = 'control-api';
  readonly operations: readonly ApiOperation[];
  private document: unknown;
  private state: 'stopped' | 'running' = 'stopped';

  constructor(private readonly ctx: AppContext) {
    const config = ctx.configService;
    if (!config) throw new MssError('internal', 'the control API needs the config service of the app');
    const core = (): MediaCore => {
      const media = ctx.modules.get('media') as MediaServerModule | undefined;
      if (!media) throw new MssError('unavailable', 'this process runs no media server');
      return media.core;
    };
    this.operations = apiOperations({
      config,
      core,
      modules: () => [...new Set(ctx.modules.values())],
      upload: (point, file, req) => storeUpload(config.running(), point, file, req),
      openapi: () => (this.document ??= openApiDocument(this.operations)),
    });
    ctx.http.addRoute(operatorAccess(ctx)(apiRoute(() => this.operations)));
  }

  async start(): Promise<void> {
    this.state = 'running';
  }

  async stop(): Promise<void> {
    this.ctx.configService?.close();
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: true, state: this.state };
  }

  commands(): ModuleCommand[] {
    const http = this.ctx.modules.get('http') as (AppModule & { address?(): { port: number } | null }) | undefined;
    return apiCommands(this.operations, () => `${this.ctx.config.http.host === '0.0.0.0' || this.ctx.config.http.host === '::' ? '127.0.0.1' : this.ctx.config.http.host}:${http?.address?.()?.port ?? this.ctx.config.http.port}`);
  }
}
