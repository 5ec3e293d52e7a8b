/**
 * The one contract between the protocol-agnostic media core and every protocol server (WMSP, RTSP, MMSP, MSB,
 * MSBD) and proxy: a request path resolves to a target (an on-demand file or a broadcast point) that describes
 * itself (ASF header + facts) and plays to a sink through a protocol's framer. Protocols and the core both import
 * this module and nothing of each other; it holds types only.
 *
 * Frame once, send many: the core calls a framer once per packet per group of players that share the framer's
 * name and stream selection, and writes the same Buffer(s) to every sink of the group.
 */

/** Push ingest of a live stream into a broadcast point (an encoder's WMHTTP push, a pull or proxy upstream). */
export interface LiveIngest {
  /** Header Object + 50-byte Data Object head; a later call is a new stream (players get a stream change) */
  setHeader(headerBytes: Buffer): void;
  /** one ASF data packet of the current header's packet size (or shorter: padding is restored) */
  pushPacket(packet: Buffer): void;
  /** the source stopped; players get an end of stream */
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
 * What one framing call returns: bytes for a stream transport, several buffers (RTP packets of one ASF packet,
 * UDP datagrams), or null when the protocol sends nothing in the data path (e.g. RTSP's end of stream travels on
 * the control connection).
 */
export type Frame = Buffer | readonly Buffer[] | null;

/**
 * Framing supplied by a protocol adapter. `header` and `streamChange`/`end` are pure; `data` may keep state (RTP
 * sequence numbers): the core calls it at most once per packet of a live group, in packet order (and in order for
 * an on-demand session).
 */
export interface PacketFramer {
  /** a stable name: players whose framers share it share framed header buffers */
  readonly name: string;
  /**
   * players whose framers share this key (and the stream selection) share framed data packets (default: name).
   * Framers that differ only in their header frames (WMSP $M for v9 players) give the same key.
   */
  readonly packetKey?: string;
  /**
   * 'stream' (default): the buffers of several frames may be joined into one write (TCP, chunked HTTP).
   * 'datagram': every Buffer is one datagram and is handed to the sink on its own, never joined.
   */
  readonly transport?: 'stream' | 'datagram';
  /**
   * data() numbers what it returns (RTP sequence numbers): the core then never frames a packet twice (a live join
   * is not trimmed to its key frame) and a live group uses its first player's framer for every member.
   */
  readonly sequenced?: boolean;
  /** frames carrying an ASF header (Header Object + Data Object head); [] where the header travels elsewhere */
  header(headerBytes: Buffer): Buffer[];
  /** one data packet: `locationId` = packet number (virtual for live), `sequence` = per-response counter (mod 256) */
  data(packet: Buffer, locationId: number, sequence: number): Frame;
  /** announces that a new header follows (playlist entry change, new encoder header) */
  streamChange(): Frame;
  /** end of stream: 'finished' normally, 'error' when the source failed */
  end(reason: 'finished' | 'error'): Frame;
}

/** Where the core writes one player's bytes (a TCP socket, a chunked HTTP response, a UDP peer, a multicast group). */
/**
 * One Buffer to many sockets in one call: results[i] is what fds[i] took (possibly fewer bytes than data.length)
 * or -errno. The native send loop behind TCP sinks (net/direct-write.ts manyWriter).
 */
export type ManyWriter = (fds: Int32Array, count: number, data: Buffer, results: Int32Array) => void;

export interface PlayerSink {
  /** queue bytes (or one datagram) for sending; never blocks: the core watches queuedBytes */
  write(buf: Buffer): void;
  /**
   * A sink that can be written to together with others of its kind: the live fan-out sends a batch to every such
   * sink of a group with one manyWriter call, on the descriptors rawFd() gives (-1: not now, write() it), and then
   * hands each sink its result (rawWritten queues what the kernel did not take, or fails the sink).
   */
  readonly manyWriter?: ManyWriter | null;
  rawFd?(): number;
  rawWritten?(data: Buffer, result: number): void;
  /** several datagrams at once (a datagram sink sends them in one syscall where it can); as write() of each in turn */
  writeDatagrams?(list: readonly Buffer[]): void;
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
  /** the header carries DRM objects (Content Encryption, Extended Content Encryption, Digital Signature, PlayReady) */
  protected?: boolean;
}

/** Who is playing: for the players list, logs and hooks. */
export interface PlayerIdentity {
  /** wmsp, rtsp, mmsp, msb, msbd, proxy */
  protocol: string;
  /** peer address (no IPv4-mapped prefix) */
  remote: string;
  userAgent?: string;
  /** the request URL or path the player used */
  url?: string;
  /** the protocol's session or client id */
  clientId?: string | number;
}

export interface PlayOptions {
  /** media time to start at (on-demand; 0 = beginning) */
  startTimeMs?: number;
  /** packet number to start at (on-demand; loses to startTimeMs) */
  startPacket?: number;
  /** streams to send; undefined = all. The core applies the multi-bitrate pick (see chooseStreams). */
  streams?: ReadonlySet<number>;
  /** the player's link bandwidth in bits/s (0/undefined = unknown): picks one stream of each multi-bitrate group */
  linkBandwidth?: number;
  /** stop after this much media (ms); 0/undefined = to the end */
  maxDurationMs?: number;
  /** fast start: send the first `durationMs` of media at `bandwidth` bits/s */
  accel?: { bandwidth: number; durationMs: number };
  /** per-player bandwidth cap in bits/s (0 = none): pacing never exceeds it */
  maxBandwidth?: number;
  /** whether to send the header first (true unless the protocol already did) */
  sendHeader?: boolean;
  /**
   * 'player' (default): counted against the player limits, gets Fast Start. 'relay': an output of the server itself
   * (a multicast sender, a downstream distribution server): not counted as a player, joins at the live edge.
   */
  role?: 'player' | 'relay';
}

export interface PlayStats {
  start: number;
  bytesSent: number;
  packetsSent: number;
  /** locationId of the last data packet sent (undefined before the first) */
  lastLocationId?: number;
  /** ASF send time (ms) of the last data packet sent */
  lastSendTime?: number;
  /** why it ended: finished, client-gone, slow-player, stopped, source-error, error */
  endReason?: string;
}

/** A running playback; ended resolves once the last byte was queued or the player went away. */
export interface PlayHandle {
  readonly stats: PlayStats;
  readonly ended: Promise<PlayStats>;
  stop(reason?: string): void;
  /** changes the streams sent from now on (SelectStream); undefined = all */
  selectStreams?(streams: ReadonlySet<number> | undefined): void;
  /** on-demand: holds the clock (nothing is sent) until resume; the position is kept */
  pause?(): void;
  resume?(): void;
}

/** HTTP-style authentication (Basic/Digest) of one publishing point or API, shared by every protocol. */
export type AuthResult =
  | { ok: true; user?: string }
  | { ok: false; /** WWW-Authenticate header values, strongest first */ challenge: string[]; reason: string };

export interface Authenticator {
  check(method: string, uri: string, authorization: string | undefined): AuthResult;
}

/** What a request path names: a file of an on-demand point or a broadcast point. */
export interface MediaTarget {
  point: string;
  kind: 'ondemand' | 'broadcast';
  /** broadcast fed by an encoder or an upstream server (WMSP features "live") */
  live: boolean;
  /** file path inside the point (on-demand) */
  file?: string;
  /** null: the point is open to everyone who passes the access list */
  auth: Authenticator | null;
  allows(address: string): boolean;
  describe(): Promise<ContentDescription>;
  /**
   * The streams a player gets for a request: `requested` filtered to the streams that exist, thinned to one per
   * multi-bitrate group (the best that fits linkBandwidth). undefined = all streams. Throws MssError('malformed')
   * when the request names none of the streams.
   */
  chooseStreams(info: ContentDescription, requested: ReadonlySet<number> | undefined, linkBandwidth?: number): ReadonlySet<number> | undefined;
  play(opts: PlayOptions, framer: PacketFramer, sink: PlayerSink, who: PlayerIdentity): Promise<PlayHandle>;
}

/** How a protocol server finds what it serves. */
export interface MediaResolver {
  /** whether the path belongs to a publishing point (cheap, synchronous: used to claim requests) */
  owns(rawPath: string): boolean;
  /** the target of a raw request path (`/<point>` or `/<point>/<file...>`, still percent-encoded) */
  resolve(rawPath: string): Promise<MediaTarget>;
}

/** Periodic housekeeping on the core's one clock (session idle sweeps run here, not on timers of their own). */
export interface Sweeper {
  /** runs fn about every half second while registered; returns the function that unregisters it */
  addSweep(fn: (now: number) => void): () => void;
}
