/**
 * What the media core counts for operators (the Windows Media Services counters and more): joins and bytes by
 * point and protocol, refusals by reason (their sum is WMS's "stream denials"), slow-player drops, peak and
 * total players; and the events hooks listen to (point started/stopped, player joined/left). Counting is a map
 * increment where the event happens; nothing here does I/O. Late sends and late reads belong to the pacing
 * clock (PacingScheduler.lateSends / lateReads).
 */
import type { PlayerIdentity } from '../contracts/media.js';

/** Why a player was refused: a limit, the access list, credentials, a missing point or stream, a source down. */
export type RefusalReason =
  | 'server-players'
  | 'point-players'
  | 'player-bandwidth'
  | 'server-bandwidth'
  | 'forbidden'
  | 'unauthorized'
  | 'not-found'
  | 'no-streams'
  | 'unavailable'
  | 'stopped';

export type MediaEvent =
  | { type: 'point-started'; point: string; source: string; protected: boolean }
  | { type: 'point-stopped'; point: string; reason: string }
  | { type: 'player-joined'; point: string; id: number; role: 'player' | 'relay'; who: PlayerIdentity; bitrate: number }
  | { type: 'player-left'; point: string; id: number; role: 'player' | 'relay'; who: PlayerIdentity; bitrate: number; bytesSent: number; durationMs: number; reason: string };

export type MediaEventListener = (event: MediaEvent) => void;

/** Most distinct (point, protocol) label pairs kept: points created by pushes come and go. */
const MAX_LABEL_PAIRS = 4096;

export class MediaCounters {
  /** `${point}\u0000${protocol}` → joins (players only) */
  readonly joins = new Map<string, number>();
  /** `${point}\u0000${protocol}` → bytes of sessions that ended */
  readonly endedBytes = new Map<string, number>();
  readonly refusals = new Map<RefusalReason, number>();
  slowDrops = 0;
  totalPlayers = 0;
  peakPlayers = 0;
  private readonly listeners = new Set<MediaEventListener>();

  static key(point: string, protocol: string): string {
    return `${point}\u0000${protocol}`;
  }

  static splitKey(key: string): { point: string; protocol: string } {
    const i = key.indexOf('\u0000');
    return { point: key.slice(0, i), protocol: key.slice(i + 1) };
  }

  private bump(map: Map<string, number>, key: string, n: number): void {
    if (!map.has(key) && map.size >= MAX_LABEL_PAIRS) return;
    map.set(key, (map.get(key) ?? 0) + n);
  }

  joined(point: string, protocol: string): void {
    this.totalPlayers++;
    this.bump(this.joins, MediaCounters.key(point, protocol), 1);
  }

  sessionEnded(point: string, protocol: string, bytes: number, reason: string | undefined): void {
    this.bump(this.endedBytes, MediaCounters.key(point, protocol), bytes);
    if (reason === 'slow-player') this.slowDrops++;
  }

  refused(reason: RefusalReason): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  /** WMS "stream denials": every refused request */
  get streamDenials(): number {
    let n = 0;
    for (const v of this.refusals.values()) n += v;
    return n;
  }

  playersNow(n: number): void {
    if (n > this.peakPlayers) this.peakPlayers = n;
  }

  onEvent(cb: MediaEventListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** hands an event to every listener; a failing listener never reaches the caller (the streaming path) */
  emit(event: MediaEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // listeners (hooks) log their own failures
      }
    }
  }
}
