import { readFile } from 'node:fs/promises';
import { MssError } from '../core/errors.js';
import { FleetClient, type DeviceStatus } from '../fleet/client.js';
import { ago, parseValue, setPath, table } from '../fleet/format.js';
import { numberOption, parseArgs, type OptionSpec } from './args.js';
import { envHelp } from './help.js';

export const HELP = `usage: mss fleet <command> [options]
  list                                 devices: online/offline/lost and since when, version, board, A/B slot, last update
  show <id>                            info, state, config reported/desired and jobs of one device
  config <id> get                      the config the device reports (and the desired one)
  config <id> set <file.json | k=v ...>  send a desired config (a whole file, or changes to the reported one);
                                       waits for the device's report; exit 1 when rejected
  cmd <id> <name> [json args]          run a command and print the reply; exit 1 on an error reply
  job <id> <jobId> <file.json | k=v ...>  submit a job (e.g. type=log-upload url=... from=...); --delete removes it
  watch [<id>]                         live status, state, telemetry, events and logs (Ctrl-C to stop)
  rebirth                              ask every device to republish its retained topics

options:
  -b, --broker <url>  broker URL (default: $MSS_MQTT_URL)
  --username <name>   broker user name
  --password <secret> broker password (default: $MSS_MQTT_PASSWORD, which keeps it out of the process list)
  --mqtt-version 5|4  MQTT 5 (default) or 3.1.1
  --timeout <ms>      how long to wait for a device (default 15000)
  --json              machine-readable output
  --delete            with job: remove the job
  -h, --help          this text
${envHelp({ config: false, extra: { MSS_MQTT_URL: 'the broker, when --broker is not given', MSS_MQTT_PASSWORD: 'the broker password, when --password is not given' } })}`;

export const OPTIONS: Record<string, OptionSpec> = {
  broker: { value: true, alias: 'b' },
  username: { value: true },
  password: { value: true },
  'mqtt-version': { value: true },
  timeout: { value: true },
  json: { value: false },
  delete: { value: false },
  help: { value: false, alias: 'h' },
};

export async function run(args: string[]): Promise<number> {
  const { options, positionals } = parseArgs(args, OPTIONS);
  if (options.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return options.help ? 0 : 2;
  }
  const url = (options.broker as string | undefined) ?? process.env.MSS_MQTT_URL;
  if (!url) throw new MssError('invalid-argument', 'no broker: give --broker mqtt://host:1883 or set MSS_MQTT_URL');
  const version = numberOption(options['mqtt-version'], 'mqtt-version', 4, 5);
  if (version !== undefined && version !== 4 && version !== 5) throw new MssError('invalid-argument', '--mqtt-version must be 5 or 4');
  const timeoutMs = numberOption(options.timeout, 'timeout', 100, 3_600_000) ?? 15_000;
  const json = options.json === true;
  const out = (value: unknown, text: () => string) => process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text());

  const [command, ...rest] = positionals;
  const fleet = await FleetClient.connect({
    url,
    protocolVersion: (version ?? 5) as 4 | 5,
    username: options.username as string | undefined,
    password: (options.password as string | undefined) ?? process.env.MSS_MQTT_PASSWORD,
    connectTimeoutMs: timeoutMs,
  });
  try {
    switch (command) {
      case 'list': {
        const devices = await fleet.list();
        out(devices, () => (devices.length === 0 ? 'no devices\n' : table([['DEVICE', 'STATUS', 'SINCE', 'VERSION', 'BOARD', 'SLOT', 'LAST UPDATE'], ...devices.map((d) => [d.deviceId, d.state, ago(d.ts), d.version ?? '-', d.board ?? '-', d.slot ?? '-', lastUpdateText(d.lastUpdate)])])));
        return 0;
      }
      case 'show': {
        const id = need(rest[0], 'device id');
        const shown = await fleet.show(id);
        if (shown.status === null && shown.info === null) throw new MssError('not-found', `no device ${id} on ${url}`);
        out(shown, () => JSON.stringify(shown, null, 2) + '\n');
        return 0;
      }
      case 'config':
        return await configCommand(fleet, rest, timeoutMs, out);
      case 'cmd': {
        const id = need(rest[0], 'device id');
        const name = need(rest[1], 'command name');
        let cmdArgs: Record<string, unknown> = {};
        if (rest[2] !== undefined) {
          const parsed = parseValue(rest[2]);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MssError('invalid-argument', 'command arguments must be a JSON object, e.g. \'{"module":"media"}\'');
          cmdArgs = parsed as Record<string, unknown>;
        }
        const reply = await fleet.command(id, name, cmdArgs, { timeoutMs });
        out(reply, () => (reply.status === 'ok' ? JSON.stringify(reply.data, null, 2) + '\n' : `error ${reply.error?.code}: ${reply.error?.message}\n`));
        return reply.status === 'ok' ? 0 : 1;
      }
      case 'job': {
        const id = need(rest[0], 'device id');
        const jobId = need(rest[1], 'job id');
        if (options.delete) {
          await fleet.publishJob(id, jobId, null);
          out({ deleted: jobId }, () => `job ${jobId} removed\n`);
          return 0;
        }
        const doc = await documentFrom(rest.slice(2), {});
        const status = fleet.waitFor(`mss/v1/${id}/jobs/${jobId}/status`, (v) => v !== null, timeoutMs);
        await fleet.subscribe(`mss/v1/${id}/jobs/${jobId}/status`);
        await fleet.publishJob(id, jobId, doc);
        const first = await status;
        out(first, () => `job ${jobId}: ${JSON.stringify(first)}\n`);
        return (first as { status?: string }).status === 'rejected' ? 1 : 0;
      }
      case 'watch':
        return await watch(fleet, rest[0], json);
      case 'rebirth':
        await fleet.broadcast('rebirth');
        out({ sent: 'rebirth' }, () => 'rebirth sent\n');
        return 0;
      default:
        throw new MssError('invalid-argument', `unknown fleet command ${JSON.stringify(command)}\n\n${HELP}`);
    }
  } finally {
    await fleet.close();
  }
}

function lastUpdateText(u: DeviceStatus['lastUpdate']): string {
  if (!u) return '-';
  return `${u.status} ${ago(u.updatedAt)} (${u.job})`;
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new MssError('invalid-argument', `missing ${what}\n\n${HELP}`);
  return value;
}

/** A document from a JSON file, or k=v changes applied to `base`. */
async function documentFrom(items: string[], base: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (items.length === 0) throw new MssError('invalid-argument', 'give a JSON file or k=v settings');
  if (items.length === 1 && !items[0].includes('=')) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(items[0], 'utf8'));
    } catch (err) {
      throw new MssError('invalid-argument', `${items[0]}: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MssError('invalid-argument', `${items[0]}: must hold a JSON object`);
    return doc as Record<string, unknown>;
  }
  const doc = structuredClone(base);
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new MssError('invalid-argument', `${JSON.stringify(item)} is not key=value`);
    try {
      setPath(doc, item.slice(0, eq), parseValue(item.slice(eq + 1)));
    } catch (err) {
      throw new MssError('invalid-argument', (err as Error).message);
    }
  }
  return doc;
}

async function configCommand(fleet: FleetClient, rest: string[], timeoutMs: number, out: (v: unknown, text: () => string) => void): Promise<number> {
  const id = need(rest[0], 'device id');
  const action = need(rest[1], 'get or set');
  const shown = await fleet.show(id);
  const config = shown.config as { reported: { config?: Record<string, unknown> } | null; desired: unknown };
  if (action === 'get') {
    if (!config.reported && !config.desired) throw new MssError('not-found', `device ${id} has reported no config`);
    out(config, () => JSON.stringify(config, null, 2) + '\n');
    return 0;
  }
  if (action !== 'set') throw new MssError('invalid-argument', `config ${action}: expected get or set`);
  const items = rest.slice(2);
  const isFile = items.length === 1 && !items[0].includes('=');
  if (!isFile && !config.reported?.config) throw new MssError('not-found', `device ${id} has reported no config to change; give a whole file`);
  const doc = await documentFrom(items, isFile ? {} : (config.reported!.config as Record<string, unknown>));
  const report = await fleet.setDesiredConfig(id, doc, { timeoutMs });
  const errors = (report.errors as Array<{ path: string; message: string }>) ?? [];
  out(report, () => `config version ${report.version}: ${report.status}\n${errors.map((e) => `  ${e.path || '(root)'}: ${e.message}\n`).join('')}`);
  return report.status === 'rejected' ? 1 : 0;
}

async function watch(fleet: FleetClient, id: string | undefined, json: boolean): Promise<number> {
  const root = `mss/v1/${id ?? '+'}`;
  const filters = ['status', 'state/+', 'telemetry/+', 'events/+', 'logs/+', 'config/reported', 'jobs/+/status'].map((f) => `${root}/${f}`);
  fleet.onMessage((m) => {
    const text = m.payload.toString('utf8');
    if (json) process.stdout.write(JSON.stringify({ topic: m.topic, retained: m.packet.retain, payload: safeJson(text) }) + '\n');
    else process.stdout.write(`${new Date().toISOString()} ${m.topic}${m.packet.retain ? ' (retained)' : ''} ${text}\n`);
  });
  await fleet.subscribe(filters);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  return 0;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
