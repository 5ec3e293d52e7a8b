/**
 * What the WMSP load clients put on and read off the wire: ffmpeg 5.1's exact mmsh requests (a Describe
 * connection, then a Play connection; see /work/shared/traces/ and libavformat/mmsh.c), the response head in
 * front of the $-frames, and a counter that scans $-frames without copying them.
 */

export const DESCRIBE = (host: string, port: number, path: string) =>
  `GET ${path} HTTP/1.1\r\nRange: bytes=0-\r\nIcy-MetaData: 1\r\nAccept: */*\r\nUser-Agent: NSPlayer/4.1.0.3856\r\nHost: ${host}:${port}\r\n` +
  'Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0\r\n' +
  'Pragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\nConnection: Close\r\n\r\n';

/**
 * ffmpeg's Play request, including its last Pragma line that runs into "Connection: Close" without a CRLF. A seek
 * is ffmpeg opening the URL again (Describe, then this Play) with the media time in ms as stream-time.
 */
export const PLAY = (host: string, port: number, path: string, streams: number[], streamTimeMs = 0) =>
  `GET ${path} HTTP/1.1\r\nRange: bytes=0-\r\nConnection: close\r\nIcy-MetaData: 1\r\nAccept: */*\r\nUser-Agent: NSPlayer/4.1.0.3856\r\nHost: ${host}:${port}\r\n` +
  'Pragma: no-cache,rate=1.000000,request-context=2\r\nPragma: xPlayStrm=1\r\nPragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\n' +
  `Pragma: stream-switch-count=${streams.length}\r\nPragma: stream-switch-entry=${streams.map((s) => `ffff:${s}:0 `).join('')}\r\n` +
  `Pragma: no-cache,rate=1.000000,stream-time=${Math.max(0, Math.floor(streamTimeMs))}Connection: Close\r\n\r\n`;

const MAX_RESPONSE_HEAD = 16 * 1024;
const FRAME_D = 0x44;
const FRAME_H = 0x48;
const FRAME_E = 0x45;
const FRAME_C = 0x43;

/** one read buffer for every socket of a load process (`onread`): reads are handled synchronously, one at a time */
export const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024);

/**
 * The response head in front of a Play or Describe body, collected across reads. feed() answers the offset of the
 * body's first byte in this read, -1 while the head is incomplete, or why the response is not a stream we can read.
 */
export class ResponseHead {
  private text = '';

  feed(buf: Buffer, n: number): number | string {
    // a few hundred bytes: latin1 is exact for it
    this.text += buf.toString('latin1', 0, n);
    const end = this.text.indexOf('\r\n\r\n');
    if (end < 0) return this.text.length > MAX_RESPONSE_HEAD ? 'response head too large' : -1;
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.text);
    if (!status || status[1] !== '200') return `HTTP ${status ? status[1] : 'garbage'}`;
    if (/\r\ntransfer-encoding:\s*chunked/i.test(this.text.slice(0, end))) return 'chunked response (load client reads HTTP/1.0 bodies only)';
    const bodyStart = n - (this.text.length - (end + 4));
    this.text = '';
    return bodyStart;
  }
}

/** Scans a $-frame stream, counting frames; keeps only the 4-byte frame header and 4-byte LocationId across reads. */
export class FrameCounter {
  bytes = 0;
  dataFrames = 0;
  headerFrames = 0;
  endFrames = 0;
  changeFrames = 0;
  /** $H frames received completely */
  headersCompleted = 0;
  gaps = 0;
  error: string | undefined;
  private need = 0; // body bytes left in the current frame
  private head = Buffer.alloc(8);
  private headLen = 0; // bytes of frame header (4) + LocationId (4 for $D) collected
  private type = 0;
  private lastLocation = -1;

  /** returns false on a framing error */
  scan(buf: Buffer, start: number, end: number): boolean {
    this.bytes += end - start;
    let i = start;
    while (i < end) {
      if (this.need > 0 && this.headLen >= 8) {
        const take = Math.min(this.need, end - i);
        this.need -= take;
        i += take;
        if (this.need === 0) this.frameDone();
        continue;
      }
      if (this.headLen < 4) {
        this.head[this.headLen++] = buf[i++]!;
        if (this.headLen === 4) {
          if ((this.head[0]! & 0x7f) !== 0x24) {
            this.error = `bad frame mark 0x${this.head[0]!.toString(16)}`;
            return false;
          }
          this.type = this.head[1]!;
          this.need = this.head.readUInt16LE(2);
          if (this.type === FRAME_D) this.dataFrames++;
          else if (this.type === FRAME_H) this.headerFrames++;
          else if (this.type === FRAME_E) this.endFrames++;
          else if (this.type === FRAME_C) this.changeFrames++;
          if (this.type !== FRAME_D || this.need < 4) this.headLen = 8; // nothing more to look at in this frame
          if (this.need === 0) this.frameDone();
        }
        continue;
      }
      // collecting the $D LocationId
      this.head[this.headLen++] = buf[i++]!;
      this.need--;
      if (this.headLen === 8) {
        const loc = this.head.readUInt32LE(4);
        if (this.lastLocation >= 0 && loc !== ((this.lastLocation + 1) >>> 0) && loc > this.lastLocation) this.gaps += loc - this.lastLocation - 1;
        this.lastLocation = loc;
        if (this.need === 0) this.frameDone();
      }
    }
    return true;
  }

  private frameDone(): void {
    if (this.type === FRAME_H) this.headersCompleted++;
    this.headLen = 0;
  }
}
