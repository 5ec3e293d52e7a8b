/**
 * The hooks module: turns what happens in the box into hook runs. It listens to the media core (point
 * started/stopped, player joined/left) and to every module that offers `onEvent` (the encoder's capture-lost
 * becomes source-lost; an update module's update-finished passes as it is; other module events keep their own
 * names), and hands each event to the HookRunner. Listening costs the streaming path one queue push per event.
 */
import type { AppContext } from '../app/context.js';
import type { MediaServerModule } from '../app/media-server.js';
import type { MssConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { MediaEvent } from '../media/counters.js';
import { HookRunner, type HookEvent } from './runner.js';

interface EventSourceModule {
  onEvent(cb: (type: string, data: Record<string, unknown>) => void): (() => void) | void;
}

/** module event types that mean "the encoder lost its source" */
const SOURCE_LOST = new Set(['capture-lost']);

export function mediaHookEvent(e: MediaEvent, at = new Date()): HookEvent {
  const base = { at: at.toISOString() };
  switch (e.type) {
    case 'point-started':
    case 'point-stopped':
      return { ...base, ...e };
    case 'player-joined':
    case 'player-left': {
      const { who, ...rest } = e;
      return { ...base, ...rest, protocol: who.protocol, remote: who.remote, userAgent: who.userAgent, url: who.url, clientId: who.clientId };
    }
  }
}

export class HooksModule implements AppModule {
  readonly name = 'hooks';
  readonly runner: HookRunner;
  private readonly log: Logger;
  private readonly unhook: Array<() => void> = [];
  private readonly subscribed = new Set<AppModule>();
  private state: 'stopped' | 'running' = 'stopped';

  constructor(private readonly ctx: AppContext) {
    this.log = ctx.log.child('hooks');
    this.runner = new HookRunner(ctx.config.hooks, this.log);
    // subscribed before any module starts: boot-started broadcasts announce themselves during media.start()
    this.subscribe();
  }

  /** the media core and every module with onEvent not listened to yet (modules listed after this one join at start) */
  private subscribe(): void {
    const media = this.ctx.modules.get('media') as MediaServerModule | undefined;
    if (media?.core && !this.subscribed.has(media)) this.unhook.push(media.core.onEvent((e) => this.runner.dispatch(mediaHookEvent(e))));
    for (const m of new Set(this.ctx.modules.values())) {
      if (m === this || this.subscribed.has(m)) continue;
      this.subscribed.add(m);
      const source = m as unknown as Partial<EventSourceModule>;
      if (typeof source.onEvent !== 'function') continue;
      const off = source.onEvent.call(m, (type, data) => this.onModuleEvent(m.name, type, data));
      if (typeof off === 'function') this.unhook.push(off);
    }
  }

  async start(): Promise<void> {
    this.subscribe();
    this.runner.restart();
    this.state = 'running';
    if (this.ctx.config.hooks.commands.length) this.log.info('hooks.started', { hooks: this.ctx.config.hooks.commands.length });
  }

  private onModuleEvent(module: string, type: string, data: Record<string, unknown>): void {
    const at = new Date().toISOString();
    this.runner.dispatch({ ...data, module, type, at });
    if (SOURCE_LOST.has(type)) this.runner.dispatch({ ...data, module, cause: type, type: 'source-lost', at });
  }

  async stop(): Promise<void> {
    // listeners stay (a restart-module keeps them); a stopped runner drops what arrives
    await this.runner.stop();
    this.state = 'stopped';
  }

  health(): ModuleHealth {
    return { ok: true, state: this.state, detail: { ...this.runner.counters, running: this.runner.runningCount, queued: this.runner.queuedCount } };
  }

  telemetry(): Record<string, unknown> {
    return { ...this.runner.counters, running: this.runner.runningCount, queued: this.runner.queuedCount };
  }

  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    if (JSON.stringify(next.hooks) === JSON.stringify(previous.hooks)) return 'unchanged';
    this.runner.setConfig(next.hooks);
    return 'applied';
  }
}
