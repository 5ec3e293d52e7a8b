/**
 * Writes a Buffer to a TCP socket's handle directly, as Node's own net.Socket does underneath, without the Writable
 * stream around it: for the live fan-out, where every player of a point gets the same batch Buffer five times a
 * second, the stream's bookkeeping (a request object, a callback and state per write) costs more user time than the
 * write itself. Measured at 2000 live players: see scripts/bench/wmsp-fanout.ts.
 *
 * Used only when it cannot reorder bytes: the socket's Writable holds nothing (no corked or queued writes), so a
 * write through it afterwards lands behind this one in libuv's FIFO write queue, and this one behind everything the
 * Writable already handed down. Falls back (returns false) when the handle or Node's stream binding is not there,
 * and always with MSS_DIRECT_WRITE=0 in the environment (to rule it out, or to measure what it gains).
 */
import type { Socket } from 'node:net';

interface WriteReq {
  handle: unknown;
  oncomplete: (this: WriteReq, status: number) => void;
  /** what libuv may still read from until oncomplete: kept alive here */
  buffer: Buffer | readonly Buffer[] | null;
  owner: Socket | null;
}

/** per socket: direct writes libuv still holds, and writes since the inactivity timer was last refreshed */
interface DirectState {
  inFlight: number;
  sinceRefresh: number;
}

const STATE = Symbol('mss.directWrite');
/** the inactivity timer (minutes for a stream) is refreshed every this many writes, not on each one */
const REFRESH_EVERY = 16;

function stateOf(socket: Socket): DirectState {
  const holder = socket as unknown as { [STATE]?: DirectState };
  return (holder[STATE] ??= { inFlight: 0, sinceRefresh: 0 });
}

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
  writev(req: WriteReq, chunks: readonly Buffer[], allBuffers: boolean): number;
  readonly writeQueueSize: number;
}

interface StreamBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

let binding: StreamBinding | null | undefined = process.env.MSS_DIRECT_WRITE === '0' ? null : undefined;

function streamBinding(): StreamBinding | null {
  if (binding !== undefined) return binding;
  try {
    const b = (process as unknown as { binding(name: string): StreamBinding }).binding('stream_wrap');
    binding = typeof b.WriteWrap === 'function' && b.streamBaseState && typeof b.kLastWriteWasAsync === 'number' ? b : null;
  } catch {
    binding = null;
  }
  return binding;
}

/** a request object that finished synchronously (the kernel took every byte) can serve the next write */
let spare: WriteReq | null = null;

function onComplete(this: WriteReq, status: number): void {
  const socket = this.owner;
  this.buffer = null;
  this.owner = null;
  if (!socket) return;
  stateOf(socket).inFlight--;
  if (status < 0) socket.destroy(new Error(`write failed (${status})`));
  else refreshTimer(socket);
}

/** keeps the socket's inactivity timer (idle or streaming timeout) counting from the last write, as Node does */
function refreshTimer(socket: Socket): void {
  (socket as unknown as { _unrefTimer?: () => void })._unrefTimer?.();
}

function handleOf(socket: Socket): StreamHandle | undefined {
  const h = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle;
  return h && typeof h.writeBuffer === 'function' && typeof h.writev === 'function' ? (h as StreamHandle) : undefined;
}

/** true when `buf` was written (or dropped because the socket is gone); false: use socket.write */
export function writeDirect(socket: Socket, buf: Buffer): boolean {
  return submit(socket, buf, (handle, req) => handle.writeBuffer(req, buf));
}

/**
 * Several buffers in one writev, none copied: an on-demand tick's frame heads and the packets themselves, straight
 * from the file's read buffer. true when written (or dropped: the socket is gone); false: use socket.write.
 */
export function writeDirectv(socket: Socket, bufs: readonly Buffer[]): boolean {
  return submit(socket, bufs, (handle, req) => handle.writev(req, bufs, true));
}

function submit(socket: Socket, data: Buffer | readonly Buffer[], write: (handle: StreamHandle, req: WriteReq) => number): boolean {
  if (socket.destroyed) return true;
  if (socket.writableLength > 0 || socket.writableCorked > 0 || socket.connecting || !socket.writable) return false;
  const handle = handleOf(socket);
  const b = handle && streamBinding();
  if (!handle || !b) return false;
  const req = spare ?? new b.WriteWrap();
  spare = null;
  req.handle = handle;
  req.oncomplete = onComplete;
  req.buffer = data;
  req.owner = socket;
  const err = write(handle, req);
  if (err !== 0) {
    req.buffer = null;
    req.owner = null;
    socket.destroy(new Error(`write failed (${err})`));
    return true;
  }
  const st = stateOf(socket);
  if (b.streamBaseState[b.kLastWriteWasAsync] !== 0) {
    // libuv holds the rest of the bytes and calls onComplete when they are out; the request stays with it
    st.inFlight++;
  } else {
    req.buffer = null;
    req.owner = null;
    spare = req;
  }
  if (++st.sinceRefresh >= REFRESH_EVERY) {
    st.sinceRefresh = 0;
    refreshTimer(socket);
  }
  return true;
}

/** bytes written but not yet taken by the kernel: the Writable's and those queued in libuv by writeDirect */
export function pendingBytes(socket: Socket): number {
  const st = (socket as unknown as { [STATE]?: DirectState })[STATE];
  // asking libuv costs a call into C++: only when a direct write is still out there
  if (!st || st.inFlight === 0) return socket.writableLength;
  const queued = handleOf(socket)?.writeQueueSize ?? 0;
  return Math.max(socket.writableLength, queued);
}
