/**
 * A player's choice of streams when it is given a bit-rate budget instead of stream numbers: the same for every
 * protocol client (WMSP, MMSP, RTSP), from the ASF header alone.
 */
import type { AsfHeader } from '../../asf/header.js';

/**
 * Bit rate per stream. Files without per-stream rates (ffmpeg writes none for video) get the rest of File
 * Properties' Maximum Bitrate shared out by picture area, which orders MBR variants the right way.
 */
export function estimatedStreamBitrates(header: AsfHeader): Map<number, number> {
  const out = new Map<number, number>();
  const unknown = header.streams.filter((s) => !(s.bitrate > 0));
  let known = 0;
  for (const s of header.streams) if (s.bitrate > 0) { out.set(s.number, s.bitrate); known += s.bitrate; }
  const rest = Math.max(0, header.fileProperties.maxBitrate - known);
  const weight = (s: AsfHeader['streams'][number]) => Math.max(1, (s.width ?? 0) * (s.height ?? 0));
  const total = unknown.reduce((a, s) => a + weight(s), 0);
  for (const s of unknown) out.set(s.number, total > 0 ? Math.round((rest * weight(s)) / total) : 0);
  return out;
}

/** Chooses the streams for a bit-rate budget: of each media type, the best stream that fits (else the smallest). */
export function selectStreamsForBitrate(header: AsfHeader, maxBitrate: number): number[] {
  const rates = estimatedStreamBitrates(header);
  const rate = (n: number) => rates.get(n) ?? 0;
  const byType = new Map<string, AsfHeader['streams']>();
  for (const s of header.streams) byType.set(s.type, [...(byType.get(s.type) ?? []), s]);
  const chosen: number[] = [];
  let budget = maxBitrate;
  // audio first: losing the sound is worse than a smaller picture
  const order = [...byType.keys()].sort((a, b) => (a === 'audio' ? -1 : b === 'audio' ? 1 : 0));
  for (const type of order) {
    const candidates = [...byType.get(type)!].sort((a, b) => rate(b.number) - rate(a.number));
    const pick = candidates.find((s) => rate(s.number) <= budget) ?? candidates[candidates.length - 1]!;
    chosen.push(pick.number);
    budget -= rate(pick.number);
  }
  return chosen.sort((a, b) => a - b);
}
