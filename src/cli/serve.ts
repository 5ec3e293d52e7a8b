import { buildApp } from '../app/build.js';
import { loadConfig } from '../config/index.js';
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
  const config = loadConfig({ file: options.config as string | undefined });
  setLogLevel(config.logLevel);
  const log = createLogger('mss');
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
  log.info('serve.started', { modules: app.runner.modules.map((m) => m.name), port: app.http.address()?.port });
  await stopped;
  log.info('serve.stopped', {});
  return 0;
}
