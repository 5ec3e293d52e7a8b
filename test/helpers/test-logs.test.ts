/**
 * The test report is not flooded by the JSON log lines of the code under test: they are kept in memory and shown
 * only with a test that fails (the lines logged while it ran); MSS_TEST_LOGS=1 writes them to stderr as before.
 */
import test from './test.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const AVA = join(root, 'node_modules/ava/entrypoints/cli.mjs');

function runFixture(env: Record<string, string>, file = 'test/helpers/logging-fixture.test.ts'): Promise<string> {
  return new Promise((resolve) =>
    execFile(process.execPath, [AVA, file], { cwd: root, env: { ...process.env, MSS_LOGGING_FIXTURE: '1', ...env }, timeout: 120_000 }, (_err, stdout, stderr) => resolve(String(stdout) + String(stderr))),
  );
}

test('a passing test prints none of its log lines; a failing one shows the lines it logged', async (t) => {
  const report = await runFixture({});
  t.regex(report, /✘ \[fail\]: a failing test that logs/);
  t.false(report.split('\n').some((l) => l.startsWith('{')), 'no JSON line on its own in the report');
  t.false(report.includes('fixture.passing-line'), 'the passing test stayed quiet');
  t.regex(report, /log lines of the code under test while this test ran[\s\S]*fixture\.failing-line[\s\S]*the failure needs it/);
});

test('MSS_TEST_LOGS=1 writes the lines as they happen', async (t) => {
  const report = await runFixture({ MSS_TEST_LOGS: '1' });
  t.true(report.includes('"event":"fixture.passing-line"'));
});

test('a test file that imports ava directly is quiet too (ava.require installs the buffer in every worker)', async (t) => {
  const report = await runFixture({}, 'test/helpers/logging-fixture-plain.test.ts');
  t.regex(report, /1 test passed/);
  t.false(report.includes('fixture.plain-line'), report);
});
