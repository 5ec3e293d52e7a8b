/**
 * What every protocol server reports about its players to the rest of the appliance (the logs module stores it;
 * hooks, metrics and the device agent read it). Types only; the app wires protocol servers to the logs module
 * through MediaServerHooks, so neither imports the other.
 */

/** The protocols that stream to players (and the web logging URL for player logs posted over plain HTTP). */
export type StreamProtocol = 'wmsp' | 'rtsp' | 'mmsp' | 'msb' | 'msbd';

/** A log a player sent (WMSP Log POST, RTSP SET_PARAMETER LogPlay, MMSP LinkViewerToMacLogging, web log POST). */
export interface PlayerLogReport {
  protocol: StreamProtocol | 'http';
  /** socket address of the player (fills c-ip: players send 0.0.0.0 or -) */
  remoteAddress: string;
  /** request path the log was posted to */
  url: string;
  /** publishing point name, when the path names one */
  point?: string;
  userAgent: string;
  clientId?: number;
  /** Content-Type of the log (application/x-wms-LogStats, text/plain, absent) */
  contentType?: string;
  /** XML or text body (may be empty) */
  body: Buffer;
  /** legacy `Pragma: log-line=` value (or an MMSP log's W3C line), when sent */
  logLine?: string;
  receivedAt: number;
}

/** The server's own record of one streaming session, written even when a player sends no log. */
export interface SessionSummary {
  protocol: StreamProtocol;
  remoteAddress: string;
  url: string;
  point: string;
  userAgent: string;
  clientId: number;
  /** epoch ms */
  start: number;
  durationMs: number;
  bytesSent: number;
  packetsSent: number;
  /** the status the player was given: 200 played, 4xx/5xx refused or failed (as the protocol sent it) */
  status: number;
  /** how the media went (RTSP/UDP, MMSU and multicast are UDP; default TCP, or UDP for msb) */
  transport?: 'TCP' | 'UDP';
}

export interface MediaServerHooks {
  /** stores a player's log; awaited before the protocol acknowledges it (throws MssError to refuse it) */
  onPlayerLog?(report: PlayerLogReport): Promise<void>;
  /** called once per ended session */
  onSessionEnd?(summary: SessionSummary): void;
}
