/**
 * A TCP proxy in front of a server's port that cuts the first connection (both sides) once `cutAfter` bytes came
 * back on it, for the player's resume tests over every protocol. `armed` decides from the client's first bytes which
 * connection may be cut (WMSP: only the Play request, not the Describe before it).
 */
import net from 'node:net';

export async function cuttingProxy(
  t: { teardown(fn: () => void): void },
  upstreamPort: number,
  cutAfter: number,
  armed: (clientBytes: Buffer) => boolean = () => true,
): Promise<{ port: number; cuts: () => number }> {
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let mayCut = false;
    let down = 0;
    client.on('data', (c: Buffer) => {
      if (armed(c)) mayCut = true;
      upstream.write(c);
    });
    upstream.on('data', (c: Buffer) => {
      down += c.length;
      if (mayCut && cuts === 0 && down > cutAfter) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(c);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, cuts: () => cuts };
}
