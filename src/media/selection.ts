/**
 * Stream selection, the same for every protocol: what a player asked for (WMSP stream-switch-entry, RTSP SETUP per
 * stream, MMSP StreamSwitch) filtered to the streams that exist, with one stream kept per multi-bitrate group (the
 * best that fits the player's link bandwidth, else the lowest; the best when the link is unknown). A player that
 * asks for nothing in particular (a relay, a plain GET) gets every stream.
 */
import type { ContentDescription } from '../contracts/media.js';
import { MssError } from '../core/errors.js';

/** undefined = every stream (the players share the unfiltered packets); no request = every stream, as sent */
export function chooseStreams(info: ContentDescription, requested: ReadonlySet<number> | undefined, linkBandwidth = 0): ReadonlySet<number> | undefined {
  if (!requested) return undefined;
  const known = info.streams.map((s) => s.number);
  const chosen = new Set<number>(known.filter((n) => requested.has(n)));
  if (chosen.size === 0) throw new MssError('malformed', `the request selects none of the streams ${known.join(', ')}`);
  for (const group of info.exclusiveGroups) {
    const inGroup = info.streams.filter((s) => group.includes(s.number) && chosen.has(s.number));
    if (inGroup.length < 2) continue;
    inGroup.sort((a, b) => b.bitrate - a.bitrate);
    const fits = linkBandwidth > 0 ? inGroup.find((s) => s.bitrate <= linkBandwidth) : undefined;
    const pick = fits ?? (linkBandwidth > 0 ? inGroup[inGroup.length - 1]! : inGroup[0]!);
    for (const s of inGroup) if (s !== pick) chosen.delete(s.number);
  }
  return known.every((n) => chosen.has(n)) ? undefined : chosen;
}
