/**
 * What a player asks for when it has a bit-rate budget (`mss play --bitrate`): the same for every protocol's client.
 * Streams without a rate of their own (FFmpeg writes none for video) share the rest of the file's maximum bit rate
 * by picture area, which orders multiple-bit-rate variants the right way.
 */
import type { AsfHeader } from '../../asf/header.js';
import { MssError } from '../../core/errors.js';

/** Bit rate per stream (bits/s), estimated where the header gives none. */
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

/** The streams a player requests: the ones named (each must exist), else those that fit maxBitrate, else all. */
export function chooseRequestedStreams(header: AsfHeader, want: { streams?: readonly number[]; maxBitrate?: number }, where: string): number[] {
  if (want.streams && want.streams.length > 0) {
    const known = new Set(header.streams.map((s) => s.number));
    const missing = want.streams.filter((n) => !known.has(n));
    if (missing.length > 0) {
      throw new MssError('invalid-argument', `stream ${missing.join(', ')} not in ${where}; it has ${header.streams.map((s) => `${s.number} (${s.type} ${s.codec} ${s.bitrate} bps)`).join(', ')}`);
    }
    return [...want.streams];
  }
  if (want.maxBitrate !== undefined) return selectStreamsForBitrate(header, want.maxBitrate);
  return header.streams.map((s) => s.number);
}
