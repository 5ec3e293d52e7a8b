/**
 * The three $P packet-pair frames (MS-WMSP 2.2.3.7): the body of a WMSP Describe when packet-pair was agreed and of
 * an RTSP TcpPacketPair response (MS-RTSP 2.2.7.12). A framing header (`$`, `P`, little-endian PacketLength 504,
 * 504, 1048), a u32 Reason = min(504, bytes of the response head before the first $P), then high-entropy filler.
 */

/** Lengths (bytes after the PacketLength field) of the three packet-pair frames. */
export const PACKET_PAIR_LENGTHS = [504, 504, 1048] as const;

/** `random` is injected so this stays pure; pass crypto.randomBytes. */
export function framePacketPair(responseHeaderBytes: number, random: (n: number) => Buffer): Buffer[] {
  const reason = Math.max(0, Math.min(504, responseHeaderBytes));
  return PACKET_PAIR_LENGTHS.map((len) => {
    const out = Buffer.allocUnsafe(4 + len);
    out[0] = 0x24;
    out[1] = 0x50;
    out.writeUInt16LE(len, 2);
    out.writeUInt32LE(reason, 4);
    random(len - 4).copy(out, 8, 0, len - 4);
    return out;
  });
}
