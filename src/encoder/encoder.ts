/**
 * One live encoder: a capture supervisor (ffmpeg → ASF header + packets) feeding any number of sinks — the push
 * client (MS-WMHTTP) and/or local broadcast points (LiveIngest) that players or a pulling server read over WMSP.
 * A sink that throws is logged and detached; it never stops the capture or the other sinks.
 */
import { EventEmitter } from 'node:events';
import { boardById, detectBoard, ffmpegEncoders, usableHardwareH264, type BoardProfile } from '../../board/detect.js';
import { toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { PushClient } from '../protocols/wmhttp/client.js';
import { CaptureSupervisor, type EncoderEvent } from './capture.js';
import { buildFfmpegArgs, findOverlayFont } from './ffmpeg-command.js';
import { chooseEncoders, getProfile, profileBitrate, type EncodingProfile } from './profiles.js';
import { parseSource, sourceDevices, type CaptureSource } from './source.js';
import { MssError } from '../core/errors.js';
import { withMultiBitrateObjects } from './mbr-header.js';

/** Where encoded media goes (LiveIngest and PushClient both fit). */
export interface StreamSink {
  setHeader(headerBytes: Buffer): void;
  pushPacket(packet: Buffer): void;
  end?(reason?: string): void;
}

export interface EncoderSettings {
  source: string;
  profile: string;
  ffmpegPath: string;
  /** board profile id; empty: detected */
  board?: string;
  push?: { url: string; template?: string; autoDestroy?: boolean; user?: string; password?: string };
  restartMaxDelayMs?: number;
  stallTimeoutMs?: number;
}

export type EncoderState = 'stopped' | 'starting' | 'running' | 'failed';

export interface EncoderEvents {
  event: [EncoderEvent];
}

export class LiveEncoder extends EventEmitter<EncoderEvents> {
  source: CaptureSource;
  profile: EncodingProfile;
  private capture: CaptureSupervisor | null = null;
  private pushClient: PushClient | null = null;
  private readonly sinks = new Set<StreamSink>();
  private header: Buffer | null = null;
  private state: EncoderState = 'stopped';
  private lastError: string | undefined;
  board: BoardProfile | undefined;
  ffmpegArgs: string[] = [];

  constructor(
    private readonly settings: EncoderSettings,
    private readonly log: Logger,
  ) {
    super();
    // validated up front so a bad source or profile fails at configuration time, not at start
    this.source = parseSource(settings.source);
    this.profile = getProfile(settings.profile);
  }

  get status(): { state: EncoderState; error?: string; header: boolean; sinks: number; push?: Record<string, unknown>; capture?: Record<string, unknown> } {
    return {
      state: this.state,
      error: this.lastError,
      header: this.header !== null,
      sinks: this.sinks.size,
      push: this.pushClient ? { connected: this.pushClient.connected, ...this.pushClient.stats } : undefined,
      capture: this.capture ? { running: this.capture.running, pid: this.capture.pid, ...this.capture.stats } : undefined,
    };
  }

  get capturePid(): number | undefined {
    return this.capture?.pid;
  }

  get push(): PushClient | null {
    return this.pushClient;
  }

  /** Adds a sink; it gets the current header at once. */
  addSink(sink: StreamSink): void {
    this.sinks.add(sink);
    if (this.header) this.deliver(sink, (s) => s.setHeader(this.header!));
  }

  removeSink(sink: StreamSink): void {
    this.sinks.delete(sink);
  }

  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') return;
    this.state = 'starting';
    try {
      this.ffmpegArgs = await this.prepareArgs();
    } catch (err) {
      this.state = 'failed';
      this.lastError = toMssError(err).message;
      throw err;
    }
    if (this.settings.push?.url) {
      const p = this.settings.push;
      const client = new PushClient({ url: p.url, templateUrl: p.template || undefined, autoDestroy: p.autoDestroy, user: p.user || undefined, password: p.password || undefined, log: this.log.child('push') });
      this.pushClient = client;
      this.sinks.add(client);
      client.start();
    }
    const capture = new CaptureSupervisor({
      ffmpegPath: this.settings.ffmpegPath,
      args: this.ffmpegArgs,
      log: this.log,
      devices: sourceDevices(this.source),
      backoffMaxMs: this.settings.restartMaxDelayMs,
      stallTimeoutMs: this.settings.stallTimeoutMs,
    });
    capture.on('header', (raw) => {
      let bytes = raw;
      if (this.profile.video.length > 1) {
        try {
          bytes = withMultiBitrateObjects(raw, this.streamBitrates());
        } catch (err) {
          this.log.warn('encoder.mbr-header-failed', { error: toMssError(err) });
        }
      }
      this.header = bytes;
      for (const s of [...this.sinks]) this.deliver(s, (x) => x.setHeader(bytes));
    });
    capture.on('packet', (packet) => {
      for (const s of this.sinks) this.deliver(s, (x) => x.pushPacket(packet));
    });
    capture.on('event', (e) => this.emit('event', e));
    this.capture = capture;
    capture.start();
    this.state = 'running';
  }

  async stop(): Promise<void> {
    const capture = this.capture;
    this.capture = null;
    await capture?.stop();
    const push = this.pushClient;
    this.pushClient = null;
    if (push) {
      this.sinks.delete(push);
      await push.stop();
    }
    for (const s of this.sinks) this.deliver(s, (x) => x.end?.('finished'));
    this.sinks.clear();
    this.header = null;
    if (this.state !== 'failed') this.state = 'stopped';
  }

  /** Board, encoders and ffmpeg arguments for the current source and profile (throws MssError when impossible). */
  private async prepareArgs(): Promise<string[]> {
    const board = this.settings.board ? boardById(this.settings.board) : detectBoard();
    if (!board) throw new MssError('invalid-config', `unknown board profile ${JSON.stringify(this.settings.board)}`);
    this.board = board;
    const bitrate = profileBitrate(this.profile);
    if (bitrate > board.maxEncodeBitrate) {
      throw new MssError('unsupported', `profile ${this.profile.name} (${bitrate} bit/s) exceeds what board ${board.id} encodes in real time (${board.maxEncodeBitrate} bit/s)`);
    }
    const available = await ffmpegEncoders(this.settings.ffmpegPath);
    if (available.size === 0) throw new MssError('unavailable', `cannot run ffmpeg (${this.settings.ffmpegPath}) to list its encoders`);
    const encoders = chooseEncoders(this.profile, available, usableHardwareH264(board, available));
    const args = buildFfmpegArgs({ source: this.source, profile: this.profile, encoders, fontFile: findOverlayFont() });
    this.log.info('encoder.configured', { board: board.id, source: this.settings.source, profile: this.profile.name, video: encoders.video, audio: encoders.audio });
    return args;
  }

  /**
   * Switches source and/or profile while running: delivery (push session, local points) stays up and players see
   * a stream change to the new header. On an invalid setting nothing changes and the MssError is thrown.
   */
  async changeSettings(next: { source?: string; profile?: string }): Promise<void> {
    const prev = { source: this.source, profile: this.profile, sourceSpec: this.settings.source, profileName: this.settings.profile };
    this.source = next.source !== undefined ? parseSource(next.source) : this.source;
    this.profile = next.profile !== undefined ? getProfile(next.profile) : this.profile;
    try {
      this.ffmpegArgs = await this.prepareArgs();
    } catch (err) {
      this.source = prev.source;
      this.profile = prev.profile;
      throw err;
    }
    if (next.source !== undefined) this.settings.source = next.source;
    if (next.profile !== undefined) this.settings.profile = next.profile;
    this.capture?.replaceArgs(this.ffmpegArgs, sourceDevices(this.source));
  }

  /** ASF stream number → bit rate, in the order buildFfmpegArgs maps them: video renditions, then audio. */
  private streamBitrates(): Map<number, number> {
    const m = new Map<number, number>();
    this.profile.video.forEach((v, i) => m.set(i + 1, v.bitrate));
    m.set(this.profile.video.length + 1, this.profile.audio.bitrate);
    return m;
  }

  /** Kills ffmpeg as if it crashed: the supervisor restarts it (for the device agent and tests). */
  restartCapture(): void {
    this.capture?.restartNow();
  }

  private deliver(sink: StreamSink, fn: (s: StreamSink) => void): void {
    try {
      fn(sink);
    } catch (err) {
      this.sinks.delete(sink);
      this.log.warn('encoder.sink-failed', { error: toMssError(err) });
    }
  }
}
