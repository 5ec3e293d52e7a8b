/**
 * Not a test of its own: test/helpers/test-logs.test.ts runs this file with MSS_LOGGING_FIXTURE=1 to see what the
 * report shows of the log lines that code under test writes. In the normal suite it only passes.
 */
import test from './test.js';
import { createLogger } from '../../src/core/log.js';

const log = createLogger('fixture');

if (process.env.MSS_LOGGING_FIXTURE === '1') {
  test.serial('a passing test that logs', (t) => {
    for (let i = 0; i < 20; i++) log.warn('fixture.passing-line', { i });
    t.pass();
  });
  test.serial('a failing test that logs', (t) => {
    log.warn('fixture.failing-line', { why: 'the failure needs it' });
    t.fail('deliberately');
  });
} else {
  test('logging fixture (runs only when asked)', (t) => t.pass());
}
