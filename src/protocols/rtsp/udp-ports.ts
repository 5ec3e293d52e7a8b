/**
 * RTP/RTCP server port pairs for RTSP/UDP sessions, from a configured range: an even RTP port and the odd RTCP port
 * above it, each a bound dgram socket the session owns until it ends. Pairs in use are skipped; a port some other
 * program holds is skipped too (the bind fails and the next pair is tried).
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { MssError } from '../../core/errors.js';

export interface UdpPair {
  rtpPort: number;
  rtcpPort: number;
  rtp: DgramSocket;
  rtcp: DgramSocket;
  release(): void;
}

const MAX_ATTEMPTS = 64;

function bind(type: 'udp4' | 'udp6', host: string, port: number): Promise<DgramSocket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, reuseAddr: false });
    const onError = (err: Error) => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    s.bind(port, host, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

export class UdpPortPairs {
  private readonly inUse = new Set<number>();
  private cursor: number;
  private readonly first: number;
  private readonly pairs: number;
  private readonly type: 'udp4' | 'udp6';

  constructor(
    portMin: number,
    portMax: number,
    private readonly host: string,
  ) {
    this.first = portMin + (portMin % 2);
    this.pairs = Math.max(0, Math.floor((portMax - this.first + 1) / 2));
    this.cursor = 0;
    this.type = host.includes(':') ? 'udp6' : 'udp4';
  }

  get used(): number {
    return this.inUse.size;
  }

  get capacity(): number {
    return this.pairs;
  }

  async allocate(): Promise<UdpPair> {
    let attempts = 0;
    for (let tried = 0; tried < this.pairs && attempts < MAX_ATTEMPTS; tried++) {
      const base = this.first + 2 * ((this.cursor + tried) % this.pairs);
      if (this.inUse.has(base)) continue;
      attempts++;
      this.inUse.add(base);
      let rtp: DgramSocket | undefined;
      try {
        rtp = await bind(this.type, this.host, base);
        const rtcp = await bind(this.type, this.host, base + 1);
        this.cursor = (this.cursor + tried + 1) % this.pairs;
        let released = false;
        const sockets = [rtp, rtcp];
        for (const s of sockets) s.on('error', () => undefined); // ICMP unreachable and the like: the session's timeout decides
        return {
          rtpPort: base,
          rtcpPort: base + 1,
          rtp,
          rtcp,
          release: () => {
            if (released) return;
            released = true;
            for (const s of sockets) {
              try {
                s.close();
              } catch {
                // already closed
              }
            }
            this.inUse.delete(base);
          },
        };
      } catch {
        rtp?.close();
        this.inUse.delete(base);
      }
    }
    throw new MssError('limit-reached', `no free UDP port pair for RTP/RTCP in ${this.first}..${this.first + 2 * this.pairs - 1} (${this.inUse.size} in use)`, { limit: 'rtsp.udp ports' });
  }
}
