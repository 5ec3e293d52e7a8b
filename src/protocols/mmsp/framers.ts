/**
 * MMS framers for the media core. Each play of a session has its own PacketFramer (its control messages carry the
 * connection's TcpMessageHeader sequence number and its playIncarnation), while the Data packets are framed by a
 * DataFramer shared by every play with the same packetKey, so a live packet is framed once per group and the same
 * Buffer goes to every TCP socket (and every UDP player) of the group.
 *
 * TCP: header pieces and media go on the control connection; a playlist or encoder header change sends
 * ReportEndOfStream(hr 1), ReportStreamChange and the new header with playIncarnation 0xFF, and the media that
 * follows carries 0xFF too (MS-MMSP 3.2.4.2). UDP: only Data packets travel in datagrams; the control messages go
 * on TCP through the session, and the player fetches the new header with ReadBlock.
 */
import { parseHeaderObject } from '../../asf/header.js';
import type { Frame, PacketFramer } from '../../contracts/media.js';
import { HRESULT, INCARNATION_SPECIAL, buildMmsDataPacket, frameHeaderPackets } from './codec.js';
import type { MacMessage } from './messages.js';

/** playIncarnation and (for UDP) the sequence numbers of a group's Data packets */
export class DataFramer {
  private seq = 0;

  constructor(
    readonly key: string,
    public incarnation: number,
    /** UDP: AFFlags counts what this framer sent (consecutive per group, which resend requests rely on) */
    private readonly ownSequence: boolean,
  ) {}

  frame(packet: Buffer, locationId: number, sequence: number): Buffer {
    const af = this.ownSequence ? this.seq++ & 0xff : sequence;
    return buildMmsDataPacket(packet, locationId, this.incarnation, af);
  }
}

/** DataFramers by packetKey, bounded (a framer still used by a running group stays referenced by it) */
export class DataFramerCache {
  private readonly map = new Map<string, DataFramer>();

  constructor(private readonly max = 4096) {}

  get(key: string, incarnation: number, ownSequence: boolean): DataFramer {
    let f = this.map.get(key);
    if (!f) {
      f = new DataFramer(key, incarnation, ownSequence);
      this.map.set(key, f);
      if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
    }
    return f;
  }
}

/** the header pieces of a stream change (playIncarnation 0xFF), once per header Buffer */
const changeHeaderCache = new WeakMap<Buffer, Buffer[]>();

function changeHeaderPackets(headerBytes: Buffer, packetSize: number): Buffer[] {
  let p = changeHeaderCache.get(headerBytes);
  if (!p) {
    p = frameHeaderPackets(headerBytes, INCARNATION_SPECIAL, packetSize);
    changeHeaderCache.set(headerBytes, p);
  }
  return p;
}

export interface PlayFramerHooks {
  /** encodes a control message with the connection's next TcpMessageHeader sequence number */
  control(m: MacMessage): Buffer;
  /** UDP: a new header is on; the session tells the player over TCP and waits for its ReadBlock */
  udpStreamChange(): void;
}

export interface PlayFramerOptions {
  /** unique per play (header frames are cached by framer name) */
  name: string;
  transport: 'tcp' | 'udp';
  data: DataFramer;
  /** the StartPlaying's playIncarnation (echoed in ReportEndOfStream) */
  playIncarnation: number;
  hooks: PlayFramerHooks;
}

export function playFramer(o: PlayFramerOptions): PacketFramer {
  const udp = o.transport === 'udp';
  return {
    name: o.name,
    packetKey: o.data.key,
    transport: udp ? 'datagram' : 'stream',
    sequenced: udp,
    header(headerBytes: Buffer): Buffer[] {
      if (udp) return [];
      const h = parseHeaderObject(headerBytes, 0);
      const packetSize = h.fileProperties.packetSize;
      const bitRate = h.totalBitrate || h.fileProperties.maxBitrate;
      return [o.hooks.control({ type: 'ReportStreamChange', hr: 0, packetSize, headerSize: headerBytes.length, bitRate }), ...changeHeaderPackets(headerBytes, packetSize)];
    },
    data(packet: Buffer, locationId: number, sequence: number): Frame {
      const b = o.data.frame(packet, locationId, sequence);
      return udp ? [b] : b;
    },
    streamChange(): Frame {
      if (udp) {
        o.hooks.udpStreamChange();
        return null;
      }
      o.data.incarnation = INCARNATION_SPECIAL;
      return o.hooks.control({ type: 'ReportEndOfStream', hr: HRESULT.entryEnded, playIncarnation: o.playIncarnation });
    },
    end(reason): Frame {
      if (udp) return null; // the session sends ReportEndOfStream on TCP once the datagrams are out
      return o.hooks.control({ type: 'ReportEndOfStream', hr: reason === 'finished' ? HRESULT.ok : HRESULT.internal, playIncarnation: o.playIncarnation });
    },
  };
}
