/**
 * RTSP framers for the media core: every ASF packet becomes RTP packets of the ASF payload format (interleaved
 * `$` frames on the RTSP connection, or datagrams for UDP). The ASF header travels in the SDP, and the end of a
 * stream or a new header in server requests on the control connection, so header/streamChange/end return no
 * bytes; they tell the session instead (a new header is announced with ANNOUNCE, the end with EndOfStream).
 *
 * Frame once, send many: a live group frames with its first member's framer, so every framer of the same form
 * (point, transport, channel, selection) packetizes through one shared AsfRtpPacketizer: whichever member's framer
 * the group uses, the sequence numbers and SSRC are those every member was told. Each session's framer keeps a
 * name of its own, so the core asks each one for header frames (that is how a session learns of a new header).
 */
import { randomInt } from 'node:crypto';
import type { PacketFramer } from '../../contracts/media.js';
import { AsfRtpPacketizer, type AsfRtpOptions } from './rtp-asf.js';

export interface FramerEvents {
  /** the header the player is about to get packets of (at the start, and after a stream change) */
  onHeader(headerBytes: Buffer): void;
  /** a new header follows (live: the encoder restarted, a playlist entry changed) */
  onStreamChange(): void;
  /** the source ended ('finished') or failed ('error'); the sink's end follows */
  onEnd(reason: 'finished' | 'error'): void;
}

export function rtspFramer(o: { name: string; packetKey: string; datagram: boolean; packetizer: AsfRtpPacketizer; events: FramerEvents }): PacketFramer {
  return {
    name: o.name,
    packetKey: o.packetKey,
    transport: o.datagram ? 'datagram' : 'stream',
    sequenced: true,
    header(headerBytes) {
      o.events.onHeader(headerBytes);
      return [];
    },
    data(packet, locationId) {
      const rtp = o.packetizer.packetize(packet, locationId);
      return rtp.length === 1 ? rtp[0]! : rtp;
    },
    streamChange() {
      o.events.onStreamChange();
      return null;
    },
    end(reason) {
      o.events.onEnd(reason);
      return null;
    },
  };
}

export const randomSsrc = (): number => randomInt(1, 0xffffffff);
export const randomSequence = (): number => randomInt(0, 0x10000);

const MAX_LIVE_FORMS = 4096;

/**
 * The packetizers of live groups, by form, and one SSRC per point and transport (announced in SETUP, before the
 * stream selection is final). Bounded: the oldest form is forgotten first (a group formed again starts a new one).
 */
export class LivePacketizers {
  private readonly forms = new Map<string, AsfRtpPacketizer>();
  private readonly ssrcs = new Map<string, number>();

  ssrc(point: string, transport: string): number {
    const key = `${point}|${transport}`;
    let s = this.ssrcs.get(key);
    if (s === undefined) {
      s = randomSsrc();
      this.ssrcs.set(key, s);
      if (this.ssrcs.size > MAX_LIVE_FORMS) this.ssrcs.delete(this.ssrcs.keys().next().value as string);
    }
    return s;
  }

  get(key: string, opts: Omit<AsfRtpOptions, 'initialSequence'>): AsfRtpPacketizer {
    let p = this.forms.get(key);
    if (!p) {
      p = new AsfRtpPacketizer({ ...opts, initialSequence: randomSequence() });
      this.forms.set(key, p);
      if (this.forms.size > MAX_LIVE_FORMS) this.forms.delete(this.forms.keys().next().value as string);
    }
    return p;
  }
}
