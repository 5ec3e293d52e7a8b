import type { ModuleFactory } from '../app/build.js';
import { buildApp } from '../app/build.js';
import { MediaServerModule } from '../app/media-server.js';
import { configSchema, loadConfig, validateConfig, type MssConfig } from '../config/index.js';
import { MssError } from '../core/errors.js';
import { createLogger, setLogLevel } from '../core/log.js';
import { EncoderModule } from '../encoder/module.js';
import { PROFILES } from '../encoder/profiles.js';
import { parseArgs, type OptionSpec } from './args.js';
import { envHelp } from './help.js';
import { useHumanLogs } from './output.js';
import { unknownEnvMessage, unknownEnvVars } from '../config/env.js';

export const HELP = `usage: mss encode --source <source> (--push <url> | --serve <port>) [options]
  Captures and encodes a live stream with ffmpeg and delivers it as live ASF.

  --source <s>       testsrc | file:<path>[?copy] | v4l2:/dev/videoN[?size=WxH&fps=N] | alsa:hw:X,Y | v4l2:…+alsa:…
  --push <url>       push to a server with MS-WMHTTP, e.g. http://127.0.0.1:8080/live2 (user:password@ allowed)
  --template <name>  PushSetup Template-URL (the server creates the point from this one)
  --auto-destroy     PushSetup AutoDestroy (the server removes the point when the push ends)
  --serve <port>     serve the stream for pull (MS-WMSP) at http://<host>:<port>/<point> (0: any free port)
  --host <addr>      address to serve on (default from the config, 0.0.0.0)
  --point <name>     publishing point name when serving (default: live)
  --profile <name>   ${Object.keys(PROFILES).join(', ')} (default from the config: wmv2-500k)
  --ffmpeg <path>    ffmpeg program (default: ffmpeg on PATH)
  --board <id>       board profile (default: detected)
  --duration <s>     stop after this many seconds (default: until SIGINT/SIGTERM)
  -c, --config <file>  take defaults from this config file's encoder section
  --json             JSON log lines on stderr even on a terminal (the default when stderr is not one)
  -h, --help         this text
  (-s is --source, -p is --profile)
${envHelp({ config: true })}`;

export const OPTIONS: Record<string, OptionSpec> = {
  source: { value: true, alias: 's' },
  push: { value: true },
  template: { value: true },
  'auto-destroy': { value: false },
  serve: { value: true },
  host: { value: true },
  point: { value: true },
  profile: { value: true, alias: 'p' },
  ffmpeg: { value: true },
  board: { value: true },
  duration: { value: true },
  config: { value: true, alias: 'c' },
  json: { value: false },
  help: { value: false, alias: 'h' },
};

export async function run(args: string[]): Promise<number> {
  const { options } = parseArgs(args, OPTIONS);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // on a terminal one line per event; JSON lines otherwise
  const human = process.stderr.isTTY && options.json !== true ? useHumanLogs(process.stderr) : null;
  human?.started();
  for (const u of unknownEnvVars(process.env, configSchema)) createLogger('mss').warn('env.unknown', { variable: u.name, suggestion: u.suggestion, message: unknownEnvMessage(u) });
  const base = loadConfig({ file: options.config as string | undefined });
  setLogLevel(base.logLevel);
  const servePort = options.serve !== undefined ? Number(options.serve) : base.encoder.servePort || undefined;
  if (servePort !== undefined && (!Number.isInteger(servePort) || servePort < 0 || servePort > 65535)) throw new MssError('invalid-argument', `--serve must be a port number, got ${JSON.stringify(options.serve)}`);
  const push = (options.push as string | undefined) ?? base.encoder.push;
  if (!push && servePort === undefined) throw new MssError('invalid-argument', 'give --push <url> or --serve <port> (or both)');
  const duration = options.duration !== undefined ? Number(options.duration) : 0;
  if (!Number.isFinite(duration) || duration < 0) throw new MssError('invalid-argument', `--duration must be seconds, got ${JSON.stringify(options.duration)}`);
  const point = (options.point as string | undefined) ?? 'live';

  const doc: Record<string, unknown> = {
    ...structuredClone(base),
    encoder: {
      ...base.encoder,
      enabled: true,
      source: (options.source as string | undefined) ?? base.encoder.source,
      profile: (options.profile as string | undefined) ?? base.encoder.profile,
      ffmpegPath: (options.ffmpeg as string | undefined) ?? base.encoder.ffmpegPath,
      board: (options.board as string | undefined) ?? base.encoder.board,
      push,
      pushTemplate: (options.template as string | undefined) ?? base.encoder.pushTemplate,
      pushAutoDestroy: options['auto-destroy'] === true || base.encoder.pushAutoDestroy,
      point: servePort !== undefined ? point : '',
      servePort: servePort ?? 0,
    },
  };
  if (servePort !== undefined) {
    doc.http = { ...base.http, port: servePort, ...(options.host ? { host: options.host } : {}) };
    doc.server = { ...base.server, publishingPoints: [{ name: point, type: 'broadcast', source: { type: 'push' } }] };
  }
  const config: MssConfig = validateConfig(doc);
  const log = createLogger('mss');
  const modules: ModuleFactory[] =
    servePort !== undefined
      ? [(ctx) => ctx.modules.get('http')!, (ctx) => new MediaServerModule(ctx), (ctx) => EncoderModule.fromContext(ctx)]
      : [(ctx) => EncoderModule.fromContext(ctx)];
  const app = buildApp(config, { log, modules });

  let stopping: Promise<void> | null = null;
  const stop = (why: string) => {
    if (!stopping) {
      log.info('encode.stopping', { reason: why });
      stopping = app.runner.stop();
    }
    return stopping;
  };
  const done = new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop(sig).then(resolve));
    if (duration > 0) setTimeout(() => void stop('duration').then(resolve), duration * 1000);
  });
  await app.runner.start();
  const port = servePort !== undefined ? app.http.address()?.port : undefined;
  log.info('encode.started', { source: config.encoder.source, profile: config.encoder.profile, push: push || undefined, serve: port !== undefined ? `http://${config.http.host}:${port}/${point}` : undefined });
  await done;
  log.info('encode.stopped', {});
  return 0;
}
