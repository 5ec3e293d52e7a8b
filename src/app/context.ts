/**
 * What the modules of one running appliance share: the validated config, the root logger, the one HTTP route
 * registry, and late-bound hooks between modules (the logs module fills the media server's log hooks, so
 * neither imports the other).
 */
import type { MssConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { AppModule } from '../core/module.js';
import type { HttpRouteRegistry } from '../http/route.js';

/** A log a player sent (WMSP Log POST today; RTSP LogPlay and MSB web logs arrive the same way). */
export interface PlayerLogReport {
  protocol: 'wmsp' | 'rtsp' | 'mmsp' | 'http';
  /** socket address of the player (fills c-ip: players send 0.0.0.0 or -) */
  remoteAddress: string;
  /** request path the log was posted to */
  url: string;
  /** publishing point name, when the path names one */
  point?: string;
  userAgent: string;
  clientId?: number;
  /** Content-Type of the POST (application/x-wms-LogStats, text/plain, absent) */
  contentType?: string;
  /** XML or text body (may be empty) */
  body: Buffer;
  /** legacy `Pragma: log-line=` value, when sent */
  logLine?: string;
  receivedAt: number;
}

/** The server's own record of one streaming session, written even when a player sends no log. */
export interface SessionSummary {
  protocol: 'wmsp' | 'rtsp' | 'mmsp' | 'msb';
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
  /** HTTP-style status of the session: 200 played, 4xx/5xx refused or failed */
  status: number;
}

export interface MediaServerHooks {
  /** stores a player's log; awaited before the protocol acknowledges it */
  onPlayerLog?(report: PlayerLogReport): Promise<void>;
  /** called once per ended session */
  onSessionEnd?(summary: SessionSummary): void;
}

export interface AppContext {
  config: MssConfig;
  log: Logger;
  http: HttpRouteRegistry;
  hooks: MediaServerHooks;
  /** modules created so far, in list order (a later module may look up an earlier one) */
  modules: Map<string, AppModule>;
}
