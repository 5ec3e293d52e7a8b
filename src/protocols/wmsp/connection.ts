/**
 * Per-connection WMSP state for pipelined mode (HTTP/1.1, §3.2.5.2): the Pipeline test in progress and the session
 * whose chunked stream is running. Responses keep request order because each raw response waits until Node hands
 * its ServerResponse the socket (response.ts); the HTTP listener bounds how many may wait.
 */
import type { Socket } from 'node:net';
import type { PlayHandle } from '../../contracts/media.js';
import type { TableEntry } from '../shared/session-table.js';

export type SessionState = 'INIT' | 'STREAMING' | 'IDLE';

/** A WMSP session: what a client-id names across the connections of one play. */
export interface WmspSession extends TableEntry {
  id: number;
  state: SessionState;
  play: PlayHandle | null;
  dataSocket: Socket | null;
  /** streams the client selected (SelectStream before or during a Play) */
  selection?: ReadonlySet<number>;
}

/** A Pipeline test whose first response is open: the timer finishes it unless the second request comes in time. */
export interface PipelineTest {
  timer: NodeJS.Timeout | null;
  finish: () => void;
}

export class WmspConnection {
  pipelineTest: PipelineTest | undefined;
  /** the session streaming a chunked response on this connection */
  streaming: WmspSession | null = null;
}

const states = new WeakMap<Socket, WmspConnection>();

export function wmspConnection(socket: Socket): WmspConnection {
  let s = states.get(socket);
  if (!s) {
    s = new WmspConnection();
    states.set(socket, s);
  }
  return s;
}
