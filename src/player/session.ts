/**
 * One `mss play`: resolves the input (.asx entries with fallbacks, .nsc stations: multicast then unicast), opens
 * each entry (a station's group, or a URL with protocol rollover), feeds header and packets to the sink in order (bounded: the network is paused while
 * the sink catches up), stops at --duration, reconnects after a network loss and resumes where it left off
 * (on-demand: at the next packet number, duplicates dropped; live: at the live edge), shows progress, and
 * sends the player's log to the server and to the LOGURLs, at the end and every `logIntervalMs`.
 */
import { randomUUID } from 'node:crypto';
import { parseDataPacket, readSendTime } from '../asf/packet.js';
import type { AsfHeader } from '../asf/header.js';
import { MssError, toMssError } from '../core/errors.js';
import { openWithRollover, redact, ProtocolRegistry, type PlayCredentials, type PlaySession, type PlaySessionInfo } from './protocol-client.js';
import type { ProgressReporter } from './progress.js';
import { anonymousPlayerId, buildPlayRecord, playLogXml, postWebLog } from './report.js';
import { readAnnouncement, resolvePlayInput, type PlayEntry } from './resolve.js';
import { openMulticast, type MulticastPlaySession } from './msb-client.js';
import { parseNsc, type NscStation } from '../protocols/msb/nsc.js';
import type { Sink, SinkResult } from './sinks.js';
import { wmspProtocolClient } from './wmsp-client.js';
import { mmstProtocolClient, mmsuProtocolClient } from './mmsp-client.js';
import { rtspProtocolClient } from './rtsp-client.js';

export const PLAYER_USER_AGENT = 'NSPlayer/9.0.0.2980 mss-play/0.1';

/** the protocol clients this build has; mms:// rolls over between them in `order` (default: ROLLOVER_ORDER) */
export function defaultRegistry(order?: readonly string[]): ProtocolRegistry {
  return new ProtocolRegistry(order).register(rtspProtocolClient).register(wmspProtocolClient).register(mmsuProtocolClient).register(mmstProtocolClient);
}

export interface PlayOptions {
  input: string;
  sink: Sink;
  progress: ProgressReporter;
  durationMs?: number;
  startMs?: number;
  streams?: number[];
  maxBitrate?: number;
  credentials?: PlayCredentials;
  /** reconnect attempts after a network loss before giving up (reset once data flows again) */
  maxReconnects?: number;
  /** an interim log is sent this often on long plays; 0 = only at the end */
  logIntervalMs?: number;
  sendLogs?: boolean;
  registry?: ProtocolRegistry;
  timeoutMs?: number;
  /** stops the play (SIGINT) */
  signal?: AbortSignal;
  /** multicast (.nsc) reception */
  multicast?: {
    /** local address of the interface to join groups on */
    interface?: string;
    /** MS-MSB Open timer: no packet or Beacon within this long rolls over to the unicast URL */
    openTimeoutMs?: number;
    endOfStreamMs?: number;
    /** never join: play the stations' unicast URLs */
    disabled?: boolean;
  };
}

export interface PlayResult {
  entries: number;
  packets: number;
  bytes: number;
  lost: number;
  reconnects: number;
  mediaMs: number;
  /** where in the content the first packet was (its send time less the preroll), ms */
  startPositionMs: number | undefined;
  sink: SinkResult;
  logs: string[];
  stoppedBy: 'end' | 'duration' | 'sink' | 'signal';
}

const MAX_PENDING = 256;

/** where in the content a packet plays: its earliest payload presentation time less the preroll (ms) */
function contentPosition(packet: Buffer, header: AsfHeader | undefined): number | undefined {
  if (!header) return undefined;
  try {
    const p = parseDataPacket(packet, header.fileProperties.packetSize);
    const times = p.payloads.map((pl) => pl.presentationTime);
    if (times.length === 0) return undefined;
    return Math.max(0, Math.min(...times) - header.fileProperties.prerollMs);
  } catch {
    return undefined;
  }
}
const RESUME_BELOW = 32;

/** Counters of one entry's play across its reconnects. */
class EntryState {
  firstSend: number | undefined;
  lastSend: number | undefined;
  lastLocationId: number | undefined;
  packets = 0;
  bytes = 0;
  lost = 0;
  longestLossRun = 0;
  reconnects = 0;
  firstPacketAt: number | undefined;
  header: AsfHeader | undefined;
  info: PlaySessionInfo | undefined;
  session: PlaySession | undefined;

  get mediaMs(): number {
    return this.firstSend === undefined || this.lastSend === undefined ? 0 : Math.max(0, this.lastSend - this.firstSend);
  }
}

export class Player {
  private readonly registry: ProtocolRegistry;
  private readonly playerId = anonymousPlayerId();
  private readonly clientGuid = `{${randomUUID()}}`;
  private readonly startedAt = Date.now();
  private totals = { packets: 0, bytes: 0, lost: 0, reconnects: 0, mediaMs: 0, startPositionMs: undefined as number | undefined };
  private logsSent: string[] = [];
  private stopReason: PlayResult['stoppedBy'] | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: PlayOptions) {
    this.registry = opts.registry ?? defaultRegistry();
    opts.signal?.addEventListener('abort', () => this.stop('signal'), { once: true });
  }

  private stop(reason: PlayResult['stoppedBy']): void {
    this.stopReason ??= reason;
    this.wake?.();
  }

  async run(): Promise<PlayResult> {
    const { progress, sink } = this.opts;
    const entries = await resolvePlayInput(this.opts.input, { timeoutMs: this.opts.timeoutMs, notice: (m) => progress.event('notice', { message: m }) });
    let played = 0;
    try {
      for (const entry of entries) {
        if (this.stopReason) break;
        played++;
        await this.playEntry(entry, played === 1);
      }
      const sinkResult = await sink.finish();
      return { entries: played, ...this.totals, sink: sinkResult, logs: this.logsSent, stoppedBy: this.stopReason ?? 'end' };
    } catch (err) {
      await sink.abort().catch(() => undefined);
      throw err;
    } finally {
      progress.done();
    }
  }

  /** Tries the entry's URLs in order (each with protocol rollover); the first that opens is played. */
  private async open(entry: PlayEntry, state: EntryState, first: boolean): Promise<PlaySession> {
    const resume = state.lastLocationId !== undefined && state.info?.seekable;
    const openOpts = {
      startMs: first && !resume ? this.opts.startMs : undefined,
      packetNumber: resume ? state.lastLocationId! + 1 : undefined,
      streams: this.opts.streams,
      maxBitrate: this.opts.maxBitrate,
      credentials: this.opts.credentials,
      userAgent: PLAYER_USER_AGENT,
      clientGuid: this.clientGuid,
      timeoutMs: this.opts.timeoutMs,
    };
    const failures: string[] = [];
    const candidates = entry.urls.filter((u) => !(entry.stations?.has(u.href) && this.opts.multicast?.disabled));
    for (const url of candidates) {
      try {
        const station = entry.stations?.get(url.href);
        if (station) return await this.openStation(url, station);
        return await openWithRollover(this.registry, url, openOpts);
      } catch (err) {
        const e = toMssError(err);
        if (candidates.length === 1 || e.code === 'unauthorized' || e.code === 'invalid-argument') throw e;
        failures.push(`${redact(url)}: ${e.message}`);
        this.opts.progress.event('fallback', { url: redact(url), error: e.message });
      }
    }
    throw new MssError('unavailable', `no URL of the entry played: ${failures.join('; ')}`);
  }

  /** Joins a station's group; resolves once its first stream starts, rejects on the Open timer or an error. */
  private openStation(nscUrl: URL, station: NscStation): Promise<PlaySession> {
    const m = this.opts.multicast ?? {};
    const session = openMulticast({
      station,
      nscUrl: nscUrl.href,
      interface: m.interface,
      openTimeoutMs: m.openTimeoutMs,
      endOfStreamMs: m.endOfStreamMs,
      refetch: async () => parseNsc(await readAnnouncement(nscUrl, this.opts.timeoutMs)),
      onEvent: (event, fields) => this.opts.progress.event(event, fields),
    });
    return new Promise((resolve, reject) => {
      const onDescribe = () => {
        session.off('error', onError);
        resolve(session);
      };
      const onError = (err: MssError) => {
        session.off('describe', onDescribe);
        session.close();
        reject(err);
      };
      session.once('describe', onDescribe);
      session.once('error', onError);
    });
  }

  private async playEntry(entry: PlayEntry, firstEntry: boolean): Promise<void> {
    const { progress } = this.opts;
    const state = new EntryState();
    let attempt = 0;
    const timer = setInterval(() => progress.progress(this.snapshot(state)), progress.intervalMs);
    const logTimer = this.opts.logIntervalMs && this.opts.sendLogs !== false ? setInterval(() => void this.sendLogs(entry, state, true), this.opts.logIntervalMs) : null;
    try {
      for (;;) {
        if (this.stopReason && state.session) break; // stopped while waiting to reconnect
        let session: PlaySession;
        try {
          session = await this.open(entry, state, firstEntry && state.session === undefined);
        } catch (err) {
          const e = toMssError(err);
          if (state.session === undefined || !this.retryable(e) || attempt >= (this.opts.maxReconnects ?? 5) || this.stopReason) throw e;
          attempt++;
          progress.event('reconnect-failed', { attempt, error: e.message });
          await this.pause(Math.min(8000, 500 * 2 ** (attempt - 1)));
          continue;
        }
        if (state.session) {
          state.reconnects++;
          this.totals.reconnects++;
          progress.event('reconnected', { url: redact(session.info!.url), resumeAt: state.info?.seekable ? (state.lastLocationId ?? -1) + 1 : 'live edge' });
        } else {
          const info = session.info!;
          progress.event('playing', {
            url: redact(info.url),
            protocol: session.protocol,
            sessionId: info.sessionId,
            broadcast: info.broadcast,
            streams: info.selectedStreams,
            durationMs: info.header.durationMs,
          });
        }
        state.session = session;
        state.info = session.info;
        const outcome = await this.pump(session, state, entry);
        if (outcome === 'progress-then-lost' || outcome === 'lost') {
          if (outcome === 'progress-then-lost') attempt = 0;
          if (this.stopReason || attempt >= (this.opts.maxReconnects ?? 5)) {
            throw new MssError('unavailable', `connection lost and ${attempt} reconnect attempts failed`);
          }
          attempt++;
          progress.event('connection-lost', { attempt, lastPacket: state.lastLocationId });
          await this.pause(Math.min(8000, 500 * 2 ** (attempt - 1)));
          continue;
        }
        break;
      }
    } finally {
      clearInterval(timer);
      if (logTimer) clearInterval(logTimer);
      state.session?.close();
      const counters = (state.session as Partial<MulticastPlaySession> | undefined)?.counters;
      if (counters) progress.event('multicast-stats', { ...counters });
      this.totals.mediaMs += state.mediaMs;
      progress.progress(this.snapshot(state));
    }
    if (this.opts.sendLogs !== false) await this.sendLogs(entry, state, false);
  }

  private retryable(e: MssError): boolean {
    return e.code === 'unavailable' || e.code === 'timeout' || e.code === 'limit-reached';
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let t: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      t = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /**
   * Feeds one session's events to the sink, in order, until it ends. Resolves 'end' (finished or stopped),
   * 'lost' / 'progress-then-lost' (network failure, before / after new packets arrived); rejects on other errors.
   */
  private pump(session: PlaySession, state: EntryState, entry: PlayEntry): Promise<'end' | 'lost' | 'progress-then-lost'> {
    const { sink } = this.opts;
    let chain: Promise<void> = Promise.resolve();
    let pending = 0;
    let paused = false;
    let gotPackets = false;
    let settled = false;
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.wake = null;
        session.removeAllListeners('packet');
        session.removeAllListeners('header');
        session.close();
        fn();
      };
      const finish = (why: PlayResult['stoppedBy']) => {
        this.stop(why);
        settle(() => resolve('end'));
      };
      this.wake = () => settle(() => resolve('end'));
      if (this.stopReason) return settle(() => resolve('end'));
      const enqueue = (task: () => Promise<void> | void) => {
        pending++;
        if (pending > MAX_PENDING && !paused) {
          paused = true;
          session.pause();
        }
        chain = chain
          .then(async () => {
            if (settled) return;
            await task();
          })
          .catch((err) => settle(() => reject(toMssError(err))))
          .finally(() => {
            pending--;
            if (paused && pending < RESUME_BELOW) {
              paused = false;
              session.resume();
            }
          });
      };
      session.on('header', (bytes, header) =>
        enqueue(async () => {
          state.header = header;
          await sink.header(bytes, header);
          if (sink.gone) finish('sink');
        }),
      );
      session.on('stream-change', () =>
        enqueue(() => {
          this.opts.progress.event('stream-change', {});
          // a multicast player logs each playlist entry it saw (MS-MSB 4.2): it has no server to tell at the end
          if (!session.sendLog && this.opts.sendLogs !== false) void this.sendLogs(entry, state, true);
        }),
      );
      session.on('packet', (packet, { locationId }) =>
        enqueue(async () => {
          const last = state.lastLocationId;
          // after an on-demand resume the server may start a little early: drop what we already have
          if (state.info?.seekable && last !== undefined && locationId <= last) return;
          // a server that thins unselected streams skips the packets holding only those: not a loss
          const allStreams = state.info ? state.info.selectedStreams.length >= state.info.header.streams.length : true;
          if (allStreams && last !== undefined && locationId > last + 1) {
            const run = locationId - last - 1;
            state.lost += run;
            this.totals.lost += run;
            state.longestLossRun = Math.max(state.longestLossRun, run);
          }
          state.lastLocationId = locationId;
          let send: number | undefined;
          try {
            send = readSendTime(packet);
          } catch {
            send = undefined; // an unreadable packet still goes to the sink, which decides
          }
          if (send !== undefined) {
            // the first packet whose payloads say where the content starts (a packet with no payloads says nothing)
            if (this.totals.startPositionMs === undefined) this.totals.startPositionMs = contentPosition(packet, state.header);
            state.firstSend ??= send;
            state.lastSend = Math.max(state.lastSend ?? send, send);
          }
          state.firstPacketAt ??= Date.now();
          state.packets++;
          state.bytes += packet.length;
          this.totals.packets++;
          this.totals.bytes += packet.length;
          gotPackets = true;
          if (!sink.write(packet)) await sink.waitDrain();
          if (sink.gone) return finish('sink');
          if (this.opts.durationMs !== undefined && state.mediaMs >= this.opts.durationMs) return finish('duration');
        }),
      );
      session.on('end', () => enqueue(() => settle(() => resolve('end'))));
      session.on('error', (err) => {
        enqueue(() => {
          if (err.detail.lostConnection === true || err.code === 'timeout') settle(() => resolve(gotPackets ? 'progress-then-lost' : 'lost'));
          else settle(() => reject(err));
        });
      });
    });
  }

  private snapshot(state: EntryState) {
    const elapsedMs = Date.now() - this.startedAt;
    const wallSinceFirst = state.firstPacketAt === undefined ? 0 : Date.now() - state.firstPacketAt;
    return {
      elapsedMs,
      mediaMs: state.mediaMs,
      bufferMs: Math.max(0, state.mediaMs - wallSinceFirst),
      bitrate: elapsedMs > 0 ? Math.round((this.totals.bytes * 8 * 1000) / elapsedMs) : 0,
      bytes: this.totals.bytes,
      packets: this.totals.packets,
      lost: this.totals.lost,
      reconnects: this.totals.reconnects,
      dropped: 0,
    };
  }

  /** Sends the entry's log to the server (over its protocol) and to each LOGURL; failures are reported, not fatal. */
  private async sendLogs(entry: PlayEntry, state: EntryState, interim: boolean): Promise<void> {
    const session = state.session;
    if (!session?.info) return;
    const stats = session.stats;
    const record = buildPlayRecord({
      streamUrl: session.info.url.href.replace(/\/\/[^@/]*@/, '//'),
      requestedUrl: this.opts.input.replace(/\/\/[^@/]*@/, '//'),
      playerId: this.playerId,
      userAgent: PLAYER_USER_AGENT,
      startedAtMs: this.startedAt,
      endedAtMs: Date.now(),
      startSeconds: (this.opts.startMs ?? 0) / 1000,
      header: state.header,
      broadcast: session.info.broadcast,
      bytesReceived: state.bytes,
      packetsReceived: state.packets,
      packetsLost: state.lost,
      longestLossRun: state.longestLossRun,
      reconnects: state.reconnects,
      protocol: session.protocol,
      transport: session.transport,
      recoveredEcc: stats.packetsRecovered,
      mediaName: entry.title,
      channelUrl: entry.channelUrl,
    });
    const what = interim ? 'interim-log' : 'log';
    // multicast has no way back to the server: its log goes to the LOGURLs (the .nsc Log URL) only
    if (session.sendLog) {
      try {
        const status = await session.sendLog(playLogXml(record));
        this.logsSent.push(`server:${status}`);
        this.opts.progress.event(`${what}-sent`, { to: 'server', status });
      } catch (err) {
        this.opts.progress.event(`${what}-failed`, { to: 'server', error: toMssError(err).message });
      }
    }
    for (const logUrl of new Set(entry.logUrls)) {
      try {
        const status = await postWebLog(logUrl, record);
        this.logsSent.push(`${logUrl}:${status}`);
        this.opts.progress.event(`${what}-sent`, { to: logUrl, status });
      } catch (err) {
        this.opts.progress.event(`${what}-failed`, { to: logUrl, error: toMssError(err).message });
      }
    }
  }
}
