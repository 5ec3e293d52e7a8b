/**
 * What the RTSP request handlers (describe-setup.ts, play.ts, parameters.ts) share with the server: the request
 * being answered, and the server's state and helpers. Types only, plus the status mapping for RTSP.
 */
import type { AuthGuard } from '../../auth/guard.js';
import type { MediaResolver } from '../../contracts/media.js';
import type { MediaServerHooks } from '../../contracts/sessions.js';
import type { RtspConfig } from '../../config/sections/rtsp.js';
import type { MssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { SessionTable } from '../shared/session-table.js';
import { statusForError } from '../shared/status.js';
import type { RtspRequest } from './codec.js';
import type { RtspConnection } from './conn.js';
import type { LivePacketizers } from './framer.js';
import type { RtspSession, SessionDeps } from './session.js';
import type { UdpPortPairs } from './udp-ports.js';

/** the feature tokens this server supports (MS-RTSP 2.2.6.10) */
export const SERVER_FEATURES = ['com.microsoft.wm.eosmsg', 'com.microsoft.wm.sswitch', 'com.microsoft.wm.srvppair', 'com.microsoft.wm.packetpairssrc'];
export const PUBLIC_METHODS = 'DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, OPTIONS, ANNOUNCE, GET_PARAMETER, SET_PARAMETER';

export type HeaderValues = Record<string, string | number | string[] | undefined>;

export interface RtspExchange {
  conn: RtspConnection;
  req: RtspRequest;
  /** the request's CSeq, echoed in the answer */
  cseq: string;
  /** the session the Session header named (known and loaded) */
  session?: RtspSession;
}

export interface RtspServerState {
  readonly config: RtspConfig;
  readonly log: Logger;
  readonly resolver: MediaResolver;
  readonly hooks: MediaServerHooks;
  /** the appliance's guard against guessed credentials, shared with WMSP and the API */
  readonly authGuard: AuthGuard | undefined;
  readonly sessions: SessionTable<string, RtspSession>;
  readonly ports: UdpPortPairs;
  readonly live: LivePacketizers;
  readonly sessionDeps: SessionDeps;
  readonly counters: { requests: number; plays: number; refused: number; logs: number; sessionsCreated: number };
  /** seconds announced in `Session: id;timeout=N` (a few seconds under the real timeout) */
  readonly announcedTimeout: number;
  /** the bytes of a response (CSeq, Server, Date, Session and playlist id added) */
  response(x: RtspExchange, status: number, headers?: HeaderValues, body?: Buffer): Buffer;
  /** answers on the request's connection */
  reply(x: RtspExchange, status: number, headers?: HeaderValues, body?: Buffer): void;
  /** the W3C line of a request refused before any session (401, 403, 404...) */
  summarizeRefusal(x: RtspExchange, point: string, status: number): void;
  bind(session: RtspSession, conn: RtspConnection): void;
  unbind(session: RtspSession): void;
  /** sessions a connection holds (bounded: a connection cannot hoard sessions and their UDP ports) */
  sessionsOn(conn: RtspConnection): number;
}

export const MAX_SESSIONS_PER_CONNECTION = 16;

/** An error's RTSP status: the shared mapping, with HTTP-only statuses turned into RTSP ones. */
export function rtspStatusFor(e: MssError): number {
  const s = statusForError(e);
  if (s === 431) return 413;
  if (s === 429) return 503;
  if (s === 409) return 455;
  return s;
}
