/**
 * The MS-MSBD framer of one broadcast point, shared by every MSBD session of the point (one fan-out group): the
 * header goes out as IND_STREAMINFO with a new wStreamId for every new header (MS-MSBD 2.2.6: a playlist entry
 * change is a new STREAMINFO), each ASF packet as IND_PACKET with the whole packet, padding included (2.2.10),
 * and the end as IND_EOS followed by the empty STREAMINFO (3.1.5.3).
 *
 * The fan-out calls header() once per new header per framer name and data() once per packet for the group,
 * so the stream ID and the packet counter here are the same for every session of the point.
 */
import { parseHeaderObject } from '../../asf/header.js';
import type { Frame, PacketFramer } from '../../contracts/media.js';
import { toMssError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { encodeEmptyStreamInfo, encodePacket, encodeSimple, encodeStreamInfo, MSBD_MAX_ASF_PACKET, streamInfoText, type StreamInfo } from './codec.js';

export class MsbdFramer implements PacketFramer {
  readonly name: string;
  readonly transport = 'stream' as const;
  private streamId = -1;
  private nextPacketId = 0;
  private info: StreamInfo | null = null;
  /** packets that could not go out (a header or packet over MSBD's 64 KB message) */
  skipped = 0;

  constructor(
    point: string,
    private readonly log: Logger,
  ) {
    this.name = `msbd:${point}`;
  }

  /** the STREAMINFO of the current stream (RES_STREAMINFO answers with it); null before the first header */
  get current(): StreamInfo | null {
    return this.info;
  }

  header(headerBytes: Buffer): Buffer[] {
    this.streamId = (this.streamId + 1) & 0x07ff;
    try {
      const h = parseHeaderObject(headerBytes);
      if (h.fileProperties.packetSize > MSBD_MAX_ASF_PACKET) throw new RangeError(`packet size ${h.fileProperties.packetSize} is over the ${MSBD_MAX_ASF_PACKET} bytes an IND_PACKET holds`);
      const info: StreamInfo = {
        streamId: this.streamId,
        packetSize: h.fileProperties.packetSize,
        totalPackets: 0,
        bitRate: h.fileProperties.maxBitrate,
        durationMs: 0xffffffff,
        title: streamInfoText(h.contentDescription?.title ?? ''),
        description: streamInfoText(h.contentDescription?.description ?? ''),
        link: Buffer.alloc(0),
        header: headerBytes,
      };
      const frame = encodeStreamInfo(info);
      this.info = info;
      return [frame];
    } catch (err) {
      // never throw into the fan-out: sessions get nothing until a header MSBD can carry
      this.info = null;
      this.log.warn('msbd.header-unusable', { framer: this.name, error: toMssError(err, 'unsupported') });
      return [];
    }
  }

  data(packet: Buffer): Frame {
    const info = this.info;
    if (!info) return null;
    try {
      const id = this.nextPacketId;
      this.nextPacketId = (this.nextPacketId + 1) >>> 0;
      return encodePacket(id, info.streamId, packet.length > info.packetSize ? packet.subarray(0, info.packetSize) : packet);
    } catch (err) {
      if (this.skipped++ === 0) this.log.warn('msbd.packet-skipped', { framer: this.name, error: toMssError(err, 'malformed') });
      return null;
    }
  }

  streamChange(): Frame {
    return null; // the new IND_STREAMINFO (header()) is the announcement
  }

  end(): Frame {
    return [encodeSimple('IND_EOS'), encodeEmptyStreamInfo()];
  }
}
