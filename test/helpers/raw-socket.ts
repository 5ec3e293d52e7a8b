/** A raw loopback TCP connection for tests: what arrived as text, whether it closed, and a bounded wait. */
import net from 'node:net';

export interface RawSocket {
  sock: net.Socket;
  readonly text: string;
  readonly closed: boolean;
  /** waits until cond() holds (polling), at most ms; returns whether it holds */
  until(cond: () => boolean, ms?: number): Promise<boolean>;
}

export function rawSocket(port: number): RawSocket {
  const sock = net.connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  sock.on('data', (d) => (text += d.toString('latin1')));
  sock.on('close', () => (closed = true));
  sock.on('error', () => undefined);
  return {
    sock,
    get text() {
      return text;
    },
    get closed() {
      return closed;
    },
    async until(cond: () => boolean, ms = 10_000): Promise<boolean> {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return cond();
    },
  };
}
