/**
 * ava's `test`, plus: when a test fails, the log lines of the code under test written while it ran (kept out of the
 * report otherwise, see test-logs.ts) and the last lines of the `mss serve` processes it started are attached to
 * its result with t.log. Tests in one file run concurrently, so lines of tests running at the same time may show too.
 */
import test from 'ava';
import { logCursor, logLinesSince, logsToStderr, sourceCursor, sourcesSince } from './test-logs.js';

interface Cursors {
  logs: number;
  sources: number;
}

const started = new Map<string, Cursors>();
const titleOf = (hookTitle: string) => hookTitle.replace(/^(beforeEach|afterEach(\.always)?) hook for /, '');

test.beforeEach((t) => {
  started.set(titleOf(t.title), { logs: logCursor(), sources: sourceCursor() });
});

test.afterEach.always((t) => {
  const title = titleOf(t.title);
  const at = started.get(title);
  started.delete(title);
  if (t.passed || !at) return;
  const own = logsToStderr ? [] : logLinesSince(at.logs);
  if (own.length > 0) t.log(`log lines of the code under test while this test ran (last ${own.length}):\n${own.join('\n')}`);
  for (const s of sourcesSince(at.sources)) {
    const tail = s.tail(40);
    if (tail.length > 0) t.log(`${s.name} (last ${tail.length} lines):\n${tail.join('\n')}`);
  }
});

export default test;
