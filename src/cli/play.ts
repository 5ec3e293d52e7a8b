/**
 * `mss play <url>`: plays an mmsh://, http://, mms:// (protocol rollover) or .asx/.nsc URL into a seekable ASF
 * file (-o file.asf), a live ASF stream on stdout (-o -), or a local renderer (--render '<command>').
 */
import { MssError } from '../core/errors.js';
import { createProgress } from '../player/progress.js';
import { defaultRegistry, Player } from '../player/session.js';
import { NullSink, outputSink, PipeSink, RendererSink, type Sink } from '../player/sinks.js';
import { numberOption, parseArgs, type OptionSpec } from './args.js';
import { envHelp } from './help.js';

export const HELP = `usage: mss play <url> [options]
  <url>                 mmsh://host/point/file.wmv, http://..., mms://... (tries the protocols this build
                        speaks, in Windows Media Player's order), or an .asx / .nsc announcement URL or file
                        (an .nsc station: joins its multicast group, else plays its Unicast URL)
  -o, --output <file>   write a seekable ASF file (playlist entries after the first go to file.2.asf, ...);
                        a FIFO or a device (/dev/null) gets the live stream in place, a symlink's target is written
  -o -                  write a live ASF stream to stdout (pipe into ffplay -, mpv -, ffmpeg -i -)
  --render '<command>'  start a renderer (via /bin/sh) and feed the ASF stream to its stdin; packets are
                        dropped, not queued without bound, when it cannot keep up
  --render-queue <KiB>  bytes held for a slow renderer before packets are dropped (default 8192 KiB)
  --duration <s>        stop after this many seconds of media
  --start <s>           start this many seconds into on-demand content
  --stream <n>          receive this stream number (repeat for several; default: all)
  --bitrate <bps>       pick the streams of a multiple-bit-rate file that fit this rate
  --user <name>         user name for Basic/Digest authentication (or put user:password@ in the URL)
  --password <pw>       password (or the MSS_PLAY_PASSWORD environment variable)
  --reconnect <n>       reconnect attempts after a network loss (default 5; on-demand resumes where it stopped)
  --log-interval <s>    also send an interim log this often on long plays (default 600, 0 = only at the end)
  --no-log              send no player log
  --timeout <s>         connect/inactivity timeout per request (default 20)
  --multicast-interface <addr>  local IPv4 address of the interface to join multicast groups on
  --multicast-timeout <s>       roll over to the Unicast URL when no multicast packet or Beacon came within
                        this time (default 20; MS-MSB says 10 to 30)
  --no-multicast        play .nsc stations over their Unicast URL without joining the group
  --rollover <list>     the protocols an mms:// URL tries, in order (default rtsp,mmsu,mmst,wmsp, as Windows
                        Media Player 9 and later; mmsu,mmst,rtsp,wmsp is the order of players 6.4 to 8)
  -q, --quiet           no progress lines (start, end and errors only)
  -h, --help            this text
Progress goes to stderr: a status line on a terminal, JSON lines otherwise.
${envHelp({ config: false, vars: ['MSS_PLAY_PASSWORD'] })}`;

export const OPTIONS: Record<string, OptionSpec> = {
  output: { value: true, alias: 'o' },
  render: { value: true },
  'render-queue': { value: true },
  duration: { value: true },
  start: { value: true },
  stream: { value: true, repeat: true },
  bitrate: { value: true },
  user: { value: true },
  password: { value: true },
  reconnect: { value: true },
  'log-interval': { value: true },
  'no-log': { value: false },
  timeout: { value: true },
  'multicast-interface': { value: true },
  'multicast-timeout': { value: true },
  'no-multicast': { value: false },
  rollover: { value: true },
  quiet: { value: false, alias: 'q' },
  help: { value: false, alias: 'h' },
};

/** `--rollover rtsp,mmst` → the protocol client names, each known once */
function rolloverOrder(text: string): string[] {
  const names = text.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
  const known = defaultRegistry().names;
  const bad = names.filter((n) => !known.includes(n));
  if (names.length === 0 || bad.length > 0 || new Set(names).size !== names.length) {
    throw new MssError('invalid-argument', `--rollover takes a list of ${known.join(', ')} (each once), got ${JSON.stringify(text)}`);
  }
  return names;
}

export async function run(args: string[]): Promise<number> {
  const { options, positionals } = parseArgs(args, OPTIONS);
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new MssError('invalid-argument', `needs exactly one URL (got ${positionals.length}); see mss play --help`);
  if (options.output !== undefined && options.render !== undefined) throw new MssError('invalid-argument', '-o and --render cannot be used together');
  const durationS = numberOption(options.duration, 'duration', 0.001, 1e7);
  const startS = numberOption(options.start, 'start', 0, 1e7);
  const bitrate = numberOption(options.bitrate, 'bitrate', 1000, 1e10);
  const reconnect = numberOption(options.reconnect, 'reconnect', 0, 1000);
  const logInterval = numberOption(options['log-interval'], 'log-interval', 0, 1e6);
  const timeout = numberOption(options.timeout, 'timeout', 1, 3600);
  const multicastTimeout = numberOption(options['multicast-timeout'], 'multicast-timeout', 1, 3600);
  const multicastInterface = options['multicast-interface'] as string | undefined;
  const rollover = typeof options.rollover === 'string' ? rolloverOrder(options.rollover) : undefined;
  if (multicastInterface !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(multicastInterface)) {
    throw new MssError('invalid-argument', `--multicast-interface must be a local IPv4 address, got ${JSON.stringify(multicastInterface)}`);
  }
  const renderQueueKiB = numberOption(options['render-queue'], 'render-queue', 16, 1024 * 1024);
  const streams = ((options.stream as string[] | undefined) ?? []).map((s) => {
    const n = numberOption(s, 'stream', 1, 127)!;
    if (!Number.isInteger(n)) throw new MssError('invalid-argument', `--stream must be a stream number 1-127, got ${s}`);
    return n;
  });
  const password = (options.password as string | undefined) ?? process.env.MSS_PLAY_PASSWORD;
  if (password !== undefined && options.user === undefined) throw new MssError('invalid-argument', '--password needs --user');
  const credentials = options.user !== undefined ? { user: String(options.user), password: password ?? '' } : undefined;

  const progress = createProgress(process.stderr, options.quiet === true);
  let sink: Sink;
  if (options.output === '-') {
    if (process.stdout.isTTY) throw new MssError('invalid-argument', '-o - writes binary ASF: pipe it into a player (| ffplay -) or a file, not a terminal');
    sink = new PipeSink(process.stdout);
  }
  else if (typeof options.output === 'string') sink = outputSink(options.output);
  else if (typeof options.render === 'string') {
    let warned = 0;
    sink = new RendererSink(options.render, Math.round((renderQueueKiB ?? 8192) * 1024), (total) => {
      // say so, but not for every packet
      if (total === 1 || total >= warned * 2) {
        warned = total;
        progress.event('renderer-slow', { droppedPackets: total });
      }
    });
  } else {
    sink = new NullSink();
    progress.event('notice', { message: 'no -o or --render: receiving and discarding the stream' });
  }

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const player = new Player({
      input: positionals[0]!,
      registry: rollover ? defaultRegistry(rollover) : undefined,
      sink,
      progress,
      durationMs: durationS !== undefined ? durationS * 1000 : undefined,
      startMs: startS !== undefined ? startS * 1000 : undefined,
      streams: streams.length ? streams : undefined,
      maxBitrate: bitrate,
      credentials,
      maxReconnects: reconnect ?? 5,
      logIntervalMs: (logInterval ?? 600) * 1000,
      sendLogs: options['no-log'] !== true,
      timeoutMs: (timeout ?? 20) * 1000,
      signal: abort.signal,
      multicast: {
        interface: multicastInterface,
        openTimeoutMs: multicastTimeout !== undefined ? multicastTimeout * 1000 : undefined,
        disabled: options['no-multicast'] === true,
      },
    });
    const result = await player.run();
    progress.event('done', {
      stoppedBy: result.stoppedBy,
      entries: result.entries,
      packets: result.packets,
      bytes: result.bytes,
      lost: result.lost,
      reconnects: result.reconnects,
      mediaMs: result.mediaMs,
      startPositionMs: result.startPositionMs,
      files: result.sink.files,
      droppedPackets: result.sink.packetsDropped || undefined,
      logs: result.logs,
    });
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
