/**
 * Takes a connection away from Node's HTTP server once its last response is done, the way Node itself hands over an
 * upgraded connection: its listeners off the socket, its parser unhooked from the socket's handle and freed. For a
 * connection that then carries one stream for hours (an HTTP/1.0 WMSP Play), that is the parser, its bound
 * callbacks and the socket's wrapped listener methods no longer kept per player (about 1.5 KB each).
 *
 * Node's pieces are found by name (its listener functions, the parser on the socket, `_http_common.freeParser`);
 * when any is not where it has been since Node 18 nothing is changed and false is returned: the connection then
 * stays with Node's server, which works, at the old cost.
 */
import { createRequire } from 'node:module';
import { Socket } from 'node:net';

interface NodeParser {
  unconsume(): void;
  _consumed?: boolean;
}

type FreeParser = (parser: NodeParser, req: unknown, socket: Socket) => void;

/** the listeners Node's HTTP server puts on every connection's socket, by event */
const NODE_LISTENERS: ReadonlyArray<[string, string]> = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
];
/** listeners its parser adds while it reads the handle itself */
const CONSUME_LISTENERS: ReadonlyArray<[string, string]> = [
  ['pause', 'onSocketPause'],
  ['resume', 'onSocketResume'],
];
/** socket methods Node's server wraps per connection (own properties over net.Socket's) */
const WRAPPED_METHODS = ['on', 'addListener', 'prependListener', 'setEncoding'] as const;

let freeParser: FreeParser | null | undefined;

function nodeFreeParser(): FreeParser | null {
  if (freeParser !== undefined) return freeParser;
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown };
    freeParser = typeof common.freeParser === 'function' ? (common.freeParser as FreeParser) : null;
  } catch {
    freeParser = null;
  }
  return freeParser;
}

type Listener = (...args: unknown[]) => void;

function findListener(socket: Socket, event: string, name: string): Listener | undefined {
  return (socket.listeners(event) as Listener[]).find((l) => l.name === name);
}

/**
 * Detaches `socket` from Node's HTTP server (call it when no response is in progress on it). From then on
 * `onBytes` is called for anything the peer sends, the peer's end of the stream ends the socket, and a socket
 * error destroys it. Returns false, changing nothing, when Node's pieces are not found.
 */
export function detachFromHttpServer(socket: Socket, onBytes: (this: Socket, chunk: Buffer) => void): boolean {
  const parser = (socket as unknown as { parser?: NodeParser | null }).parser;
  const free = nodeFreeParser();
  if (!parser || typeof parser.unconsume !== 'function' || !free || socket.destroyed) return false;
  const found = NODE_LISTENERS.map(([event, name]) => [event, findListener(socket, event, name)] as const);
  if (found.some(([, l]) => !l)) return false;
  for (const [event, l] of found) socket.removeListener(event, l!);
  for (const [event, name] of CONSUME_LISTENERS) {
    const l = findListener(socket, event, name);
    if (l) socket.removeListener(event, l);
  }
  if (parser._consumed) parser.unconsume();
  parser._consumed = false;
  free(parser, null, socket);
  // net.Socket's own methods back in place of the wrappers (assigned, not deleted: a delete would turn the socket's
  // properties into a slow dictionary, larger than the closures it frees)
  const own = socket as unknown as Record<string, unknown>;
  const proto = Socket.prototype as unknown as Record<string, unknown>;
  for (const m of WRAPPED_METHODS) if (Object.prototype.hasOwnProperty.call(own, m)) own[m] = proto[m];
  socket.on('data', onBytes);
  socket.on('end', endSocket);
  socket.on('error', destroySocket);
  socket.resume();
  return true;
}

/** listeners shared by every detached socket (no closure kept per connection) */
function endSocket(this: Socket): void {
  this.end();
}

export function destroySocket(this: Socket): void {
  this.destroy();
}
