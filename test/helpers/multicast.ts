/**
 * Multicast on one machine: a group and port of this test process's own (so parallel runs never hear each
 * other), sent and joined on the loopback interface (IP_MULTICAST_IF / IP_ADD_MEMBERSHIP on 127.0.0.1), which
 * needs no route and changes nothing on the host. probeLoopbackMulticast() says why it does not work where the
 * kernel refuses (tests skip with that reason).
 */
import dgram from 'node:dgram';

export const LOOPBACK = '127.0.0.1';

/** a group in 239.255.0.0/16 (site-local scope) and a port, from the pid and a counter */
let counter = 0;
export function testGroup(): { group: string; port: number } {
  const n = (process.pid * 7 + counter++ * 131) % 65024;
  return { group: `239.255.${(n >> 8) & 255}.${(n & 255) || 1}`, port: 20000 + ((process.pid + counter * 17) % 30000) };
}

/** null when a datagram sent to a group on the loopback interface comes back to a member, else the reason */
export async function probeLoopbackMulticast(timeoutMs = 2000): Promise<string | null> {
  const { group, port } = testGroup();
  const rx = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const tx = dgram.createSocket({ type: 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      rx.once('error', reject);
      rx.bind(port, group, () => resolve());
    });
    rx.addMembership(group, LOOPBACK);
    await new Promise<void>((resolve, reject) => {
      tx.once('error', reject);
      tx.bind(0, LOOPBACK, () => resolve());
    });
    tx.setMulticastInterface(LOOPBACK);
    tx.setMulticastLoopback(true);
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      rx.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    tx.send(Buffer.from('probe'), port, group);
    return (await got) ? null : `no multicast datagram came back on ${LOOPBACK} within ${timeoutMs} ms`;
  } catch (err) {
    return `the kernel refused loopback multicast: ${(err as Error).message}`;
  } finally {
    rx.close();
    tx.close();
  }
}
