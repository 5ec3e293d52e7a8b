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
 *
 * Under the same rule the live fan-out goes one step further (rawWriteFd, manyWriter, afterRawWrite): a batch goes
 * to all the players of a group in one native call, a send(2) per descriptor, with no JS call, request object or
 * libuv write per player; what a socket did not take is queued here as any other write.
 */
import type { Socket } from 'node:net';
import type { ManyWriter } from '../contracts/media.js';
import { EAGAIN, directNative, directWritesOff, errnoError } from './syscall.js';

interface WriteReq {
  handle: unknown;
  oncomplete: (this: WriteReq, status: number) => void;
  /** what libuv may still read from until oncomplete: kept alive here */
  buffer: Buffer | readonly Buffer[] | null;
  owner: Socket | null;
}

/** per socket: direct writes libuv still holds, writes since the inactivity timer was last refreshed, its descriptor */
interface DirectState {
  inFlight: number;
  sinceRefresh: number;
  /** -2 until asked (reading it is a call into C++), then the handle's fd or -1 */
  fd: number;
}

const STATE = Symbol('mss.directWrite');
/** the inactivity timer (minutes for a stream) is refreshed every this many writes, not on each one */
const REFRESH_EVERY = 16;

function stateOf(socket: Socket): DirectState {
  const holder = socket as unknown as { [STATE]?: DirectState };
  return (holder[STATE] ??= { inFlight: 0, sinceRefresh: 0, fd: -2 });
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

let binding: StreamBinding | null | undefined = directWritesOff ? null : undefined;

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
  countWrite(socket, st);
  return true;
}

function countWrite(socket: Socket, st: DirectState): void {
  if (++st.sinceRefresh >= REFRESH_EVERY) {
    st.sinceRefresh = 0;
    refreshTimer(socket);
  }
}

/** the native one-Buffer-to-many-sockets send, or null when it cannot be used here */
export const manyWriter: () => ManyWriter | null = directNative((addon) => addon.writeMany);

/**
 * The socket's descriptor when bytes sent to it now cannot overtake any (its Writable and libuv hold nothing of
 * this socket's: the same rule as writeDirect), else -1.
 */
export function rawWriteFd(socket: Socket): number {
  if (socket.destroyed || socket.writableLength > 0 || socket.writableCorked > 0 || socket.connecting || !socket.writable) return -1;
  const st = stateOf(socket);
  if (st.inFlight > 0) return -1;
  if (st.fd === -2) {
    const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    st.fd = typeof fd === 'number' && fd >= 0 ? fd : -1;
  }
  return st.fd;
}

/** after a raw send of `data` to the socket took `result` bytes (or -errno): the rest queued in order, or the socket failed */
export function afterRawWrite(socket: Socket, data: Buffer, result: number): void {
  if (socket.destroyed) return;
  if (result === data.length) {
    countWrite(socket, stateOf(socket));
    return;
  }
  if (result >= 0 || result === EAGAIN) {
    const rest = result > 0 ? data.subarray(result) : data;
    if (!writeDirect(socket, rest)) socket.write(rest);
    return;
  }
  socket.destroy(errnoError(result, 'send'));
}

/** bytes written but not yet taken by the kernel: the Writable's and those queued in libuv by writeDirect */
export function pendingBytes(socket: Socket): number {
  const st = (socket as unknown as { [STATE]?: DirectState })[STATE];
  // asking libuv costs a call into C++: only when a direct write is still out there
  if (!st || st.inFlight === 0) return socket.writableLength;
  const queued = handleOf(socket)?.writeQueueSize ?? 0;
  return Math.max(socket.writableLength, queued);
}
