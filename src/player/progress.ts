/**
 * Play progress on stderr: one self-rewriting status line on a terminal (bit rate, buffer ahead of real time,
 * packets received/lost, elapsed), otherwise quiet JSON lines (start, a progress line every few seconds,
 * notices, end) that a supervisor can parse.
 */
import type { Writable } from 'node:stream';

export interface ProgressSnapshot {
  elapsedMs: number;
  /** media time received so far */
  mediaMs: number;
  /** media received ahead of real time since the first packet (what a renderer would have buffered) */
  bufferMs: number;
  bitrate: number;
  bytes: number;
  packets: number;
  lost: number;
  reconnects: number;
  dropped: number;
}

export interface ProgressReporter {
  readonly intervalMs: number;
  event(name: string, fields?: Record<string, unknown>): void;
  progress(s: ProgressSnapshot): void;
  /** ends the status line */
  done(): void;
}

const fmtRate = (bps: number) => (bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${Math.round(bps / 1000)} kb/s`);
const fmtSec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function createProgress(out: Writable & { isTTY?: boolean; columns?: number }, quiet = false): ProgressReporter {
  if (out.isTTY && !quiet) {
    let lineShown = false;
    return {
      intervalMs: 500,
      event(name, fields = {}) {
        if (lineShown) out.write('\n');
        lineShown = false;
        const detail = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        out.write(`mss play: ${name}${detail ? ' ' + detail : ''}\n`);
      },
      progress(s) {
        const text = `${fmtSec(s.elapsedMs)}  media ${fmtSec(s.mediaMs)}  ${fmtRate(s.bitrate)}  buffer ${fmtSec(s.bufferMs)}  packets ${s.packets} lost ${s.lost}${s.reconnects ? `  reconnects ${s.reconnects}` : ''}${s.dropped ? `  dropped ${s.dropped}` : ''}`;
        const width = out.columns && out.columns > 20 ? out.columns - 1 : 99;
        out.write(`\r${text.slice(0, width).padEnd(Math.min(width, 99))}`);
        lineShown = true;
      },
      done() {
        if (lineShown) out.write('\n');
        lineShown = false;
      },
    };
  }
  const line = (obj: Record<string, unknown>) => out.write(JSON.stringify({ ts: new Date().toISOString(), ...obj }) + '\n');
  return {
    intervalMs: 5000,
    event(name, fields = {}) {
      line({ event: name, ...fields });
    },
    progress(s) {
      if (!quiet) line({ event: 'progress', ...s });
    },
    done() {},
  };
}
