import { buildApp } from '../app/build.js';
import { ENCODER_SERVE_MODULE } from '../app/encoder-serve.js';
import { configSchema, loadConfig } from '../config/index.js';
import { unknownEnvMessage, unknownEnvVars } from '../config/env.js';
import { loadPersistedConfig } from '../device/config-sync.js';
import { createLogger, setLogLevel } from '../core/log.js';
import { packageVersion } from '../core/version.js';
import { parseArgs, type OptionSpec } from './args.js';
import { envHelp } from './help.js';
import { serveSummary, useHumanLogs, type HumanOutput } from './output.js';

export const OPTIONS: Record<string, OptionSpec> = {
  config: { value: true, alias: 'c' },
  json: { value: false },
  help: { value: false, alias: 'h' },
};

export const HELP = `usage: mss serve [--config <file.json>] [--json]
  Runs the appliance (HTTP listener, media server and the other configured modules) until SIGINT or SIGTERM.
  Without --config the embedded defaults serve ./media as "vod" and loop media/sample.wmv as "live" on port 8080.

  -c, --config <file>  the config file (default: the embedded defaults); a config received over MQTT and
                       persisted in the data dir wins over it, except for local-only settings
  --json               JSON log lines on stderr even on a terminal (they are the default when stderr is not one)
  -h, --help           this text

On a terminal: a summary (the URL of every point, ports, data dir), then one line per event.
${envHelp({ config: true, vars: ['MSS_NATIVE'], extra: { MSS_BOARD: 'the board profile to use instead of detecting one' } })}`;

export async function run(args: string[]): Promise<number> {
  const { options } = parseArgs(args, OPTIONS);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const human: HumanOutput | null = process.stderr.isTTY && options.json !== true ? useHumanLogs(process.stderr) : null;
  const log = createLogger('mss');
  for (const u of unknownEnvVars(process.env, configSchema)) log.warn('env.unknown', { variable: u.name, suggestion: u.suggestion, message: unknownEnvMessage(u) });
  let config = loadConfig({ file: options.config as string | undefined });
  // a config the operator sent over MQTT (validated and persisted by the device agent) wins over the file
  const persisted = loadPersistedConfig(config.dataDir, process.env, config);
  if (persisted) config = persisted.config;
  setLogLevel(config.logLevel);
  if (persisted) log.info('serve.persisted-config', { version: persisted.version, dataDir: config.dataDir });
  const app = buildApp(config, { log });

  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    if (stopping) return stopping;
    log.info('serve.stopping', { signal });
    stopping = app.runner.stop();
    return stopping;
  };
  const stopped = new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop(sig).then(resolve));
  });
  await app.runner.start();
  const port = app.http.address()?.port ?? config.http.port;
  log.info('serve.started', { modules: app.runner.modules.map((m) => m.name), port });
  if (human) {
    const pull = app.ctx.modules.get(ENCODER_SERVE_MODULE)?.health().detail?.port;
    process.stderr.write(
      serveSummary({
        version: packageVersion(),
        config,
        configSource: persisted ? `received over MQTT (version ${persisted.version}), in ${config.dataDir}` : ((options.config as string | undefined) ?? 'embedded defaults'),
        port,
        modules: app.runner.modules.map((m) => m.name),
        pullPort: typeof pull === 'number' ? pull : undefined,
      }),
    );
    human.started();
  }
  await stopped;
  log.info('serve.stopped', {});
  return 0;
}
