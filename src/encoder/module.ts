/**
 * The encoder as an appliance module (`encoder` section of the config): a LiveEncoder pushing to a server and/or
 * feeding a local broadcast point, plus an optional VISCA camera. Offers its events to the device agent
 * (`onEvent`) and camera/encoder commands (`commands()`); a camera failure never stops the encoder.
 */
import type { AppContext } from '../app/context.js';
import type { ConfigIssue, EncoderConfig, MssConfig } from '../config/index.js';
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleCommand, ModuleHealth, ReconfigureResult } from '../core/module.js';
import type { EncoderEvent } from './capture.js';
import { LiveEncoder, type StreamSink } from './encoder.js';
import { cameraCommands } from './camera-commands.js';
import { ViscaCamera } from './visca/session.js';
import { boardById, detectBoard } from '../../board/detect.js';
import { getProfile, profileBitrate, type EncodingProfile } from './profiles.js';
import { parseSource } from './source.js';

type Ingest = StreamSink & { end(reason?: string): void; readonly closed: boolean };

interface IngestProvider {
  openLiveIngest(point: string, opts: { remote: string }): Ingest;
}

/** the encoder's own pull listener in `mss serve` (encoder.servePort), found by name: src/app/encoder-serve.ts */
interface PullListener {
  readonly active: boolean;
  openLiveIngest(opts: { remote: string }): Ingest;
}

type EventListener = (type: string, data: Record<string, unknown>) => void;

export class EncoderModule implements AppModule {
  readonly name = 'encoder';
  private encoder: LiveEncoder | null = null;
  /** the local points it feeds (encoder.point, the encoder.servePort listener) */
  private ingests: Ingest[] = [];
  private camera: ViscaCamera | null = null;
  private readonly listeners = new Set<EventListener>();
  private readonly log: Logger;
  private recentEvents: EncoderEvent[] = [];

  constructor(
    private config: EncoderConfig,
    private readonly deps: { log: Logger; modules?: Map<string, AppModule> },
  ) {
    this.log = deps.log;
  }

  static fromContext(ctx: AppContext): EncoderModule {
    return new EncoderModule(ctx.config.encoder, { log: ctx.log.child('encoder'), modules: ctx.modules });
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  get liveEncoder(): LiveEncoder | null {
    return this.encoder;
  }

  /** device agent hook: encoder events (capture-lost, encoder-restart, …) */
  onEvent(cb: EventListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  async start(): Promise<void> {
    if (!this.config.enabled) return;
    await this.openCamera();
    await this.startEncoder();
  }

  async stop(): Promise<void> {
    await this.stopEncoder();
    await this.camera?.close();
    this.camera = null;
  }

  private async openCamera(): Promise<void> {
    const c = this.config.camera;
    if (!c.port) return;
    const cam = new ViscaCamera({ port: c.port, baudRate: c.baudRate, address: c.address, timeoutMs: c.timeoutMs, log: this.log.child('camera') });
    try {
      await cam.open();
      this.camera = cam;
      this.log.info('camera.opened', { port: c.port, address: c.address });
    } catch (err) {
      // no camera is not a reason to stop encoding
      this.log.warn('camera.unavailable', { port: c.port, error: toMssError(err) });
      this.emitEvent('camera-unavailable', { port: c.port, message: toMssError(err).message });
    }
  }

  private async startEncoder(): Promise<void> {
    if (this.encoder) return;
    const c = this.config;
    const enc = new LiveEncoder(
      {
        source: c.source,
        profile: c.profile,
        ffmpegPath: c.ffmpegPath,
        board: c.board || undefined,
        restartMaxDelayMs: c.restartMaxDelayMs,
        push: c.push ? { url: c.push, template: c.pushTemplate, autoDestroy: c.pushAutoDestroy, user: c.pushUser, password: c.pushPassword } : undefined,
      },
      this.log,
    );
    enc.on('event', (e) => {
      this.recentEvents.push(e);
      if (this.recentEvents.length > 20) this.recentEvents.shift();
      const { type, ...data } = e;
      this.emitEvent(type, data as Record<string, unknown>);
    });
    try {
      if (c.point) {
        const media = this.deps.modules?.get('media') as unknown as IngestProvider | undefined;
        if (!media?.openLiveIngest) throw new MssError('invalid-config', `encoder.point ${c.point}: no media server in this process to feed`);
        this.ingests.push(media.openLiveIngest(c.point, { remote: 'local encoder' }));
      }
      const pull = this.deps.modules?.get('encoder-serve') as unknown as PullListener | undefined;
      if (pull?.active) this.ingests.push(pull.openLiveIngest({ remote: 'local encoder' }));
      for (const i of this.ingests) enc.addSink(i);
      this.encoder = enc;
      await enc.start();
    } catch (err) {
      this.encoder = null;
      for (const i of this.ingests) i.end('error');
      this.ingests = [];
      throw err;
    }
  }

  private async stopEncoder(): Promise<void> {
    const enc = this.encoder;
    this.encoder = null;
    await enc?.stop();
    this.ingests = [];
  }

  private emitEvent(type: string, data: Record<string, unknown>): void {
    for (const l of this.listeners) {
      try {
        l(type, data);
      } catch (err) {
        this.log.warn('encoder.event-listener-failed', { error: toMssError(err) });
      }
    }
  }

  /** An enabled encoder's source, profile, board and local point, checked before any module applies a config. */
  checkConfig(next: MssConfig): ConfigIssue[] {
    const c = next.encoder;
    if (!c.enabled) return [];
    const issues: ConfigIssue[] = [];
    const problem = (path: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        issues.push({ path, message: toMssError(err).message });
      }
    };
    problem('encoder.source', () => parseSource(c.source));
    let profile: EncodingProfile | undefined;
    problem('encoder.profile', () => (profile = getProfile(c.profile)));
    let board: ReturnType<typeof boardById>;
    problem('encoder.board', () => (board = c.board ? boardById(c.board) : detectBoard()));
    if (!board && !issues.some((i) => i.path === 'encoder.board')) issues.push({ path: 'encoder.board', message: `unknown board profile ${JSON.stringify(c.board)}` });
    else if (board && profile && profileBitrate(profile) > board.maxEncodeBitrate) {
      issues.push({ path: 'encoder.profile', message: `profile ${profile.name} (${profileBitrate(profile)} bit/s) exceeds what board ${board.id} encodes in real time (${board.maxEncodeBitrate} bit/s)` });
    }
    if (c.point) {
      const p = next.server.publishingPoints.find((x) => x.name === c.point);
      if (!p) issues.push({ path: 'encoder.point', message: `names no publishing point of server.publishingPoints (${JSON.stringify(c.point)})` });
      else if (p.type !== 'broadcast' || p.source.type !== 'push') issues.push({ path: 'encoder.point', message: `${c.point} must be a broadcast point with a push source to be fed by the encoder` });
    }
    return issues;
  }

  /**
   * A new encoder section: a source/profile change is applied to the running encoder (players see a stream change,
   * the push session stays up); a delivery or ffmpeg change restarts the encoder; a camera change reopens it.
   */
  async reconfigure(next: MssConfig, previous: MssConfig): Promise<ReconfigureResult> {
    const a = previous.encoder;
    const b = next.encoder;
    if (JSON.stringify(a) === JSON.stringify(b)) return 'unchanged';
    this.config = b;
    if (JSON.stringify(a.camera) !== JSON.stringify(b.camera)) {
      await this.camera?.close();
      this.camera = null;
      if (b.enabled) await this.openCamera();
    }
    const { source: _s1, profile: _p1, camera: _c1, ...restA } = a;
    const { source: _s2, profile: _p2, camera: _c2, ...restB } = b;
    const deliveryChanged = JSON.stringify(restA) !== JSON.stringify(restB);
    if (!b.enabled || deliveryChanged || !this.encoder) {
      await this.stopEncoder();
      if (b.enabled) await this.startEncoder();
      return 'applied';
    }
    if (a.source !== b.source || a.profile !== b.profile) await this.encoder.changeSettings({ source: b.source, profile: b.profile });
    return 'applied';
  }

  health(): ModuleHealth {
    if (!this.config.enabled) return { ok: true, state: 'stopped', detail: { enabled: false } };
    const s = this.encoder?.status;
    if (!s) return { ok: false, state: 'stopped' };
    const capturing = s.capture?.running === true;
    const pushOk = s.push === undefined || s.push.connected === true;
    return { ok: s.state === 'running' && capturing && pushOk, state: s.state === 'running' && !(capturing && pushOk) ? 'degraded' : s.state, detail: { ...s, camera: this.camera ? this.camera.counters() : null } };
  }

  telemetry(): Record<string, unknown> {
    const s = this.encoder?.status;
    return { running: s?.state === 'running', packets: s?.capture?.packets ?? 0, bytes: s?.capture?.bytes ?? 0, restarts: s?.capture?.restarts ?? 0, pushConnected: s?.push?.connected ?? null, pushDropped: s?.push?.dropped ?? 0 };
  }

  commands(): ModuleCommand[] {
    return [
      {
        name: 'encoder-start',
        description: 'start the encoder (capture and delivery) with the current config',
        run: async () => {
          await this.startEncoder();
          return this.encoder?.status;
        },
      },
      {
        name: 'encoder-stop',
        description: 'stop the encoder (ffmpeg and delivery); the camera stays available',
        run: async () => {
          await this.stopEncoder();
          return { state: 'stopped' };
        },
      },
      {
        name: 'encoder-restart',
        description: 'restart ffmpeg (as after a crash: the stream continues after a short gap)',
        run: async () => {
          if (!this.encoder) throw new MssError('conflict', 'the encoder is not running');
          this.encoder.restartCapture();
          return { restarting: true };
        },
      },
      {
        name: 'encoder-status',
        description: 'state of the encoder, its capture and push, and its recent events',
        run: async () => ({ ...(this.encoder?.status ?? { state: 'stopped' }), events: this.recentEvents, board: (this.config.board ? boardById(this.config.board) : detectBoard())?.id }),
      },
      ...cameraCommands(() => this.camera),
    ];
  }
}
