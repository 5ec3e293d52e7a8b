/**
 * `mss <command> --help` lists every option the command accepts (taken from the command's own option table, so
 * a new option cannot be left out of its help) and the environment variables it reads.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { COMMANDS } from '../../src/cli/main.js';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

function help(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, MSS_LOG_LEVEL: 'error' } }, (err, stdout) => (err ? reject(err) : resolve(String(stdout)))),
  );
}

const ENV_OF: Record<string, RegExp[]> = {
  serve: [/MSS_<PATH>/, /MSS_LOG_LEVEL/],
  encode: [/MSS_<PATH>/],
  play: [/MSS_PLAY_PASSWORD/],
  probe: [/MSS_BOARD/, /MSS_NATIVE/],
  config: [/MSS_<PATH>/],
  fleet: [/MSS_MQTT_URL/, /MSS_MQTT_PASSWORD/],
};

for (const name of Object.keys(COMMANDS)) {
  test(`mss ${name} --help names every option and the environment`, async (t) => {
    const mod = (await COMMANDS[name]!.load()) as { OPTIONS?: Record<string, { alias?: string }> };
    t.truthy(mod.OPTIONS, `${name} exports its option table`);
    const text = await help([name, '--help']);
    for (const [opt, spec] of Object.entries(mod.OPTIONS ?? {})) {
      t.regex(text, new RegExp(`--${opt}\\b`), `--${opt} is in the help of ${name}`);
      if (spec.alias) t.regex(text, new RegExp(`-${spec.alias}\\b`), `-${spec.alias} is in the help of ${name}`);
    }
    t.regex(text, /environment:/);
    for (const re of ENV_OF[name] ?? []) t.regex(text, re);
  });
}

test('mss --help lists the commands and says how to see options and the environment', async (t) => {
  const text = await help(['--help']);
  for (const name of Object.keys(COMMANDS)) t.regex(text, new RegExp(`^  ${name}\\b`, 'm'));
  t.regex(text, /MSS_/);
});
