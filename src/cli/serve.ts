import { buildApp } from '../app/build.js';
import { loadConfig } from '../config/index.js';
import { loadPersistedConfig } from '../app/config-service.js';
import { createLogger, setLogLevel } from '../core/log.js';
import { parseArgs } from './args.js';

const HELP = `usage: mss serve [--config <file.json>]
  Runs the appliance (HTTP listener, media server and the other configured modules) until SIGINT or SIGTERM.
  Without --config the embedded defaults serve ./media as "vod" and loop media/sample.wmv as "live" on port 8080.
`;

export async function run(args: string[]): Promise<number> {
  const { options } = parseArgs(args, { config: { value: true, alias: 'c' }, help: { value: false, alias: 'h' } });
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let config = loadConfig({ file: options.config as string | undefined });
  // a config the operator sent over MQTT (validated and persisted by the device agent) wins over the file
  const persisted = loadPersistedConfig(config.dataDir);
  if (persisted) config = persisted.config;
  setLogLevel(config.logLevel);
  const log = createLogger('mss');
  if (persisted) log.info('serve.persisted-config', { version: persisted.version, dataDir: config.dataDir });
  const app = buildApp(config, { log, configVersion: persisted?.version });

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
  log.info('serve.started', { modules: app.runner.modules.map((m) => m.name), port: app.http.address()?.port });
  await stopped;
  log.info('serve.stopped', {});
  return 0;
}
