/** Loopback UDP sockets for tests. */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

/** a bound receiver and a sender connected to it; both closed at teardown (a test may close either first) */
export async function connectedUdpPair(t: { teardown(fn: () => void): void }): Promise<{ rx: Socket; tx: Socket }> {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  t.teardown(() => {
    for (const s of [rx, tx]) {
      try {
        s.close();
      } catch {
        // closed by the test
      }
    }
  });
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  tx.connect(rx.address().port, '127.0.0.1');
  await once(tx, 'connect');
  // a refused datagram's ICMP error may come back on the socket's receive side, as in the RTSP server
  tx.on('error', () => undefined);
  return { rx, tx };
}
