/**
 * WMSP framers for the media core: $H/$D/$C/$E (and $M before every header for v9+ players, who otherwise frame
 * data packets the same way and so share them), and the plain framer for HTTP clients that speak no WMSP: the ASF
 * stream as it is (header, then packets), which any ASF demuxer reads.
 */
import type { PacketFramer } from '../../contracts/media.js';
import { END_FINISHED, frameDataParts, frameEnd, frameHeader, frameMetadata, frameStreamChange } from './codec.js';

/** $E reason of a source that failed (vendor-style HRESULT; players only tell 0 from the rest) */
const END_SOURCE_FAILED = 0xc00d0bc2;

export const PLAIN_FRAMER: PacketFramer = {
  name: 'wmsp',
  packetKey: 'wmsp',
  header: (h) => frameHeader(h),
  // head and packet as two buffers: the core joins a batch's frames once (no copy of each packet into its frame)
  data: (p, loc, seq) => frameDataParts(p, loc, seq),
  streamChange: () => frameStreamChange(),
  end: (reason) => frameEnd(reason === 'finished' ? END_FINISHED : END_SOURCE_FAILED),
};

/** the ASF stream unframed: a plain GET (no Pragma) from an HTTP client such as `ffprobe http://...` */
export const ASF_STREAM_FRAMER: PacketFramer = {
  name: 'asf-stream',
  header: (h) => [h],
  data: (p) => p,
  // a plain ASF stream has no way to announce a new header: the client sees the end of the stream instead
  streamChange: () => null,
  end: () => null,
};

const metadataFramers = new Map<string, PacketFramer>();

/** The framer for a client: v9+ players get $M before every header (§2.2.3.6). */
export function framerFor(version: number, features: readonly string[], broadcast: boolean): PacketFramer {
  if (version < 9) return PLAIN_FRAMER;
  const key = `wmsp-m:${broadcast ? 'b' : 'o'}:${features.join(',')}`;
  let f = metadataFramers.get(key);
  if (!f) {
    f = {
      ...PLAIN_FRAMER,
      name: key,
      header: (h) => [frameMetadata({ playlistGenId: 0, broadcastId: broadcast ? 1 : 0, features: [...features] }), ...frameHeader(h)],
    };
    metadataFramers.set(key, f);
  }
  return f;
}

/** $H (and $M) frames per header Buffer and framer: a broadcast's header is framed once for every Describe */
const headerFrameCache = new WeakMap<Buffer, Map<string, Buffer[]>>();

export function headerFramesOf(framer: PacketFramer, headerBytes: Buffer): Buffer[] {
  let byFramer = headerFrameCache.get(headerBytes);
  if (!byFramer) {
    byFramer = new Map();
    headerFrameCache.set(headerBytes, byFramer);
  }
  let frames = byFramer.get(framer.name);
  if (!frames) {
    frames = framer.header(headerBytes);
    byFramer.set(framer.name, frames);
  }
  return frames;
}
