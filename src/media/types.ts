/**
 * The protocol-agnostic media core's contracts. Protocol adapters (WMSP today; RTSP, MMSP later) hand the core a
 * framing function set and a sink per player; the core decides what to send and when (one pacing scheduler for
 * on-demand sessions, one fan-out per broadcast point), so nothing here knows a wire format.
 */

/** Push ingest of a live stream into a broadcast point (an encoder's WMHTTP push lands here). */
export interface LiveIngest {
  /** Header Object + 50-byte Data Object head; a later call is a new stream (players get a stream change) */
  setHeader(headerBytes: Buffer /* Header Object + 50-byte Data Object head */): void;
  /** one ASF data packet of the current header's packet size */
  pushPacket(packet: Buffer): void;
  /** the encoder stopped; players get an end of stream */
  end(reason?: string): void;
  readonly closed: boolean;
}

export interface LiveIngestOptions {
  /** the pusher's address, for logs and status */
  remote: string;
  /** name of a broadcast point whose settings a new point copies when `pointName` does not exist */
  template?: string;
  /** remove a point created from a template when its ingest ends */
  autoDestroy?: boolean;
}

/**
 * Framing supplied by a protocol adapter. Each function is pure and returns the bytes to write; the fan-out calls
 * them once per packet (per group of players with the same selection) and writes the same Buffer to every player.
 */
export interface PacketFramer {
  /** a stable name; players whose framers share a name share framed buffers */
  readonly name: string;
  /** frames carrying an ASF header (Header Object + Data Object head) */
  header(headerBytes: Buffer): Buffer[];
  /** one data packet: `locationId` = packet number (virtual for live), `sequence` = per-response counter (mod 256) */
  data(packet: Buffer, locationId: number, sequence: number): Buffer;
  /** announces that a new header follows (playlist entry change, new encoder header) */
  streamChange(): Buffer;
  /** end of stream: 'finished' normally, 'error' when the source failed */
  end(reason: 'finished' | 'error'): Buffer;
}

/** Where the core writes one player's bytes (a socket, usually). */
export interface PlayerSink {
  /** queue bytes for sending (never blocks; the core watches queuedBytes) */
  write(buf: Buffer): void;
  /** bytes queued but not yet handed to the kernel */
  readonly queuedBytes: number;
  /** batch several writes into one send */
  cork?(): void;
  uncork?(): void;
  /** flush and close normally */
  end(): void;
  /** close now (slow player, shutdown) */
  destroy(reason: string): void;
  readonly closed: boolean;
  /** called once when the peer goes away or the sink is destroyed */
  onClose(cb: () => void): void;
}

export interface StreamDescription {
  number: number;
  type: string;
  codec: string;
  bitrate: number;
  width?: number;
  height?: number;
}

/** What a player is told about a source before playing (from its ASF header). */
export interface ContentDescription {
  /** Header Object + Data Object head, as sent to players (broadcast-patched for live) */
  headerBytes: Buffer;
  packetSize: number;
  prerollMs: number;
  /** ms; 0 for broadcast */
  durationMs: number;
  /** bits per second of all streams */
  bitrate: number;
  streams: StreamDescription[];
  /** streams of which a player gets only one (multi-bitrate groups from Bitrate Mutual Exclusion objects) */
  exclusiveGroups: number[][];
  /** on-demand only: packets in the file */
  packetCount: number;
  /** on-demand only: bytes of the whole file */
  fileSize: number;
  /** bumps when a broadcast's header changes */
  generation: number;
}

export interface PlayOptions {
  /** media time to start at (on-demand; 0 = beginning) */
  startTimeMs?: number;
  /** packet number to start at (on-demand; wins over nothing, loses to startTimeMs) */
  startPacket?: number;
  /** streams to send; undefined = all */
  streams?: ReadonlySet<number>;
  /** stop after this much media (ms); 0/undefined = to the end */
  maxDurationMs?: number;
  /** fast start: send the first `durationMs` of media at `bandwidth` bits/s */
  accel?: { bandwidth: number; durationMs: number };
  /** per-player bandwidth cap in bits/s (0 = none): pacing never exceeds it */
  maxBandwidth?: number;
  /** whether to send the header first (true unless the protocol already did) */
  sendHeader?: boolean;
}

export interface PlayStats {
  start: number;
  bytesSent: number;
  packetsSent: number;
  /** why it ended: finished, client-gone, slow-player, stopped, error */
  endReason?: string;
}

/** A running playback; ended resolves once the last byte was queued or the player went away. */
export interface PlayHandle {
  readonly stats: PlayStats;
  readonly ended: Promise<PlayStats>;
  stop(reason?: string): void;
  /** changes the streams sent from now on (SelectStream); undefined = all */
  selectStreams?(streams: ReadonlySet<number> | undefined): void;
}
