import { configSchema, loadConfig, readConfigFile, redactConfig, validateConfig } from '../config/index.js';
import { documentSchema } from '../config/schema.js';
import { isMssError } from '../core/errors.js';
import { parseArgs, withPrefix, type OptionSpec } from './args.js';
import { envHelp } from './help.js';

export const OPTIONS: Record<string, OptionSpec> = {
  print: { value: false },
  check: { value: true },
  config: { value: true, alias: 'c' },
  doc: { value: false },
  help: { value: false, alias: 'h' },
};

export const HELP = `usage: mss config --print [-c, --config <file.json>]   the effective config (file or embedded defaults, then
                                                      MSS_* environment), secrets hidden
       mss config --check <file.json>                 validate a config file; every error is listed by path
       mss config --doc                               every setting, its default and meaning (Markdown table)
       mss config -h, --help                          this text
${envHelp({ config: true })}`;

export async function run(args: string[]): Promise<number> {
  const { options } = parseArgs(args, OPTIONS);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (typeof options.check === 'string') {
    try {
      validateConfig(readConfigFile(options.check));
    } catch (err) {
      if (!isMssError(err)) throw err;
      process.stderr.write(withPrefix(options.check, err.message) + '\n');
      return 1;
    }
    process.stdout.write(`${options.check}: valid\n`);
    return 0;
  }
  if (options.doc) {
    process.stdout.write(['| setting | type and default | meaning |', '|---|---|---|', ...documentSchema(configSchema)].join('\n') + '\n');
    return 0;
  }
  if (options.print) {
    const config = loadConfig({ file: options.config as string | undefined });
    process.stdout.write(JSON.stringify(redactConfig(config), null, 2) + '\n');
    return 0;
  }
  process.stderr.write(HELP);
  return 2;
}
