/**
 * Loaded by ava (package.json "ava.require") in every test worker before the test file: the log lines of the code
 * under test (modules running in the test process) go to a bounded in-memory buffer instead of stderr, so they do
 * not flood the test report. A failing test shows the lines logged while it ran (test/helpers/test.ts), and so do
 * the `mss serve` children it started (registered by test/helpers/serve.ts). MSS_TEST_LOGS=1 writes every line to
 * stderr as it happens, as before.
 */
import { setLogSinks } from '../../src/core/log.js';

const MAX_LINES = 2000;
/** the buffer, and how many lines were ever written (so a cursor survives the buffer dropping old lines) */
const lines: string[] = [];
let written = 0;

export const logsToStderr = process.env.MSS_TEST_LOGS === '1';

if (!logsToStderr) {
  setLogSinks([
    (line) => {
      lines.push(line);
      written++;
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
    },
  ]);
}

/** where the buffer is now */
export function logCursor(): number {
  return written;
}

/** the lines written since `cursor` (at most the last `max`) */
export function logLinesSince(cursor: number, max = 80): string[] {
  const since = lines.slice(Math.max(0, lines.length - (written - cursor)));
  return since.slice(-max);
}

/** other log sources a failing test should show (child processes), with the cursor they were started at */
const sources: Array<{ name: string; startedAt: number; seq: number; tail(max: number): string[] }> = [];
let sourceSeq = 0;

export function registerLogSource(name: string, tail: (max: number) => string[]): void {
  sources.push({ name, startedAt: written, seq: ++sourceSeq, tail });
  if (sources.length > 50) sources.shift();
}

/** where the source list is now */
export function sourceCursor(): number {
  return sourceSeq;
}

export function sourcesSince(seq: number): Array<{ name: string; tail(max: number): string[] }> {
  return sources.filter((s) => s.seq > seq);
}
