/**
 * Per-connection WMSP state for pipelined mode (HTTP/1.1, §3.2.5.2): the Pipeline test in progress, the session
 * whose chunked stream is running, and the responses that must wait behind that stream (HTTP answers in request
 * order). The wait list is bounded: a client that keeps piling requests behind a stream is cut off.
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

/** responses one pipelined connection may have waiting behind its stream */
export const MAX_WAITING_RESPONSES = 32;

/** A Pipeline test whose first response is open: the timer finishes it unless the second request comes in time. */
export interface PipelineTest {
  timer: NodeJS.Timeout | null;
  finish: () => void;
}

export class WmspConnection {
  pipelineTest: PipelineTest | undefined;
  /** the session streaming a chunked response on this connection */
  streaming: WmspSession | null = null;
  private waiting: Array<() => void> = [];

  /** whether a response for `session` must wait for the stream on this connection to end */
  mustWait(session: WmspSession | null | undefined): boolean {
    return this.streaming !== null && this.streaming.state === 'STREAMING' && session === this.streaming;
  }

  /** queues a response behind the stream; false when too many are waiting (the caller closes the connection) */
  after(send: () => void): boolean {
    if (this.waiting.length >= MAX_WAITING_RESPONSES) return false;
    this.waiting.push(send);
    return true;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** the stream ended: the waiting responses go out, in order */
  streamEnded(): void {
    this.streaming = null;
    const w = this.waiting;
    this.waiting = [];
    for (const send of w) send();
  }
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
