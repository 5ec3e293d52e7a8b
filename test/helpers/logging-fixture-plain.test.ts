/**
 * Not a test of its own: test/helpers/test-logs.test.ts runs it with MSS_LOGGING_FIXTURE=1. A file that imports ava
 * directly (not test/helpers/test.ts) is quiet too: ava's `require` installs the buffer in every worker.
 */
import test from 'ava';
import { createLogger } from '../../src/core/log.js';

test('logging fixture, ava imported directly', (t) => {
  if (process.env.MSS_LOGGING_FIXTURE === '1') createLogger('fixture').warn('fixture.plain-line', {});
  t.pass();
});
