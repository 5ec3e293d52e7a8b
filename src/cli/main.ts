import { isMssError } from '../core/errors.js';
import { withPrefix } from './args.js';
import { incompleteInstallMessage } from './install-check.js';

/** `mss <command>`: each command lives in its own file and is loaded only when used. */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  serve: { summary: 'run the appliance (media server, encoder, logs, device agent)', load: () => import('./serve.js') },
  encode: { summary: 'capture and encode a live stream, push it or serve it for pull', load: () => import('./encode.js') },
  play: { summary: 'play a stream: save it, pipe it, or feed a renderer', load: () => import('./play.js') },
  probe: { summary: 'describe an ASF file: streams, duration, packets, index', load: () => import('./probe.js') },
  config: { summary: 'print the effective config or check a config file', load: () => import('./config.js') },
  fleet: { summary: 'operate a fleet of devices over MQTT', load: () => import('./fleet.js') },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return (
    `usage: mss <command> [options]\n\ncommands:\n${rows.join('\n')}\n\n` +
    `mss <command> --help shows a command's options and the environment variables it reads\n` +
    `(every config setting as MSS_<PATH>, e.g. MSS_HTTP_PORT=9090; mss config --doc lists them).\n`
  );
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const { packageVersion } = await import('../core/version.js');
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`mss: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    // serve and encode report them through their log output (human or JSON); the others on one line each
    if (name !== 'serve' && name !== 'encode') {
      const { unknownEnvVars, unknownEnvMessage } = await import('../config/env.js');
      const { configSchema } = await import('../config/index.js');
      for (const u of unknownEnvVars(process.env, configSchema)) process.stderr.write(`mss: ${unknownEnvMessage(u)}\n`);
    }
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    if (isMssError(err)) {
      process.stderr.write(withPrefix(`mss ${name}`, err.message) + '\n');
      return err.code === 'invalid-argument' || err.code === 'invalid-config' ? 2 : 1;
    }
    const incomplete = incompleteInstallMessage(err);
    process.stderr.write(incomplete ? incomplete + '\n' : `mss ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

// Run directly (`tsx src/cli/main.ts ...`) as well as through bin/mss.js.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
