/** The commands every device answers, whatever modules it runs. */
import { spawn } from 'node:child_process';
import { MssError } from '../core/errors.js';
import { currentLogLevel, setTemporaryLogLevel, type LogLevel, type Logger } from '../core/log.js';
import type { AppModule, ModuleCommand } from '../core/module.js';
import { arg } from './commands.js';
import type { LogQuerySource } from './log-store.js';

export interface CoreCommandContext {
  modules(): readonly AppModule[];
  /** the agent's own summary (device id, connection, outbox, jobs) */
  agentStatus(): Record<string, unknown>;
  rebootCommand(): string;
  /** tells the operator the device is going down on purpose (status "rebooting") */
  announceReboot(): Promise<void>;
  /** log sources by name: mss (the process's own lines), player and server (when a logs module runs) */
  logs(): Record<string, LogQuerySource>;
  log: Logger;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const MAX_LOG_ROWS = 1000;
const MAX_LEVEL_DURATION_S = 24 * 3600;

export function coreCommands(ctx: CoreCommandContext): ModuleCommand[] {
  const findModule = (name: string): AppModule => {
    const m = ctx.modules().find((x) => x.name === name);
    if (!m) throw new MssError('not-found', `no module ${JSON.stringify(name)}; modules: ${ctx.modules().map((x) => x.name).join(', ')}`);
    return m;
  };
  return [
    {
      name: 'status',
      description: 'health of every module and the agent',
      async run(args) {
        arg.only(args, []);
        const modules: Record<string, unknown> = {};
        for (const m of ctx.modules()) {
          try {
            modules[m.name] = m.health();
          } catch (err) {
            modules[m.name] = { ok: false, state: 'failed', detail: { error: (err as Error).message } };
          }
        }
        return { agent: ctx.agentStatus(), modules, logLevel: currentLogLevel(), uptimeSec: Math.round(process.uptime()) };
      },
    },
    {
      name: 'restart-module',
      description: 'stop and start one module: {module}',
      async run(args) {
        arg.only(args, ['module']);
        const name = arg.string(args, 'module', { required: true, max: 64 })!;
        if (name === 'device') throw new MssError('invalid-argument', 'the device agent cannot restart itself over MQTT; use reboot');
        const m = findModule(name);
        ctx.log.info('module-restart', { module: name });
        await m.stop();
        await m.start();
        return { module: name, health: m.health() };
      },
    },
    {
      name: 'reboot',
      description: 'reboot the device through the configured mqtt.rebootCommand',
      async run(args) {
        arg.only(args, []);
        const command = ctx.rebootCommand();
        if (!command) throw new MssError('forbidden', 'reboot is disabled: mqtt.rebootCommand is empty');
        await ctx.announceReboot();
        // Reply first; the command runs a moment later so the reply can leave the box.
        setTimeout(() => {
          ctx.log.warn('reboot', { command });
          const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: 'ignore' });
          child.on('error', (err) => ctx.log.error('reboot-failed', { err }));
          child.unref();
        }, 500).unref();
        return { rebooting: true };
      },
    },
    {
      name: 'log-query',
      description: 'log lines (source mss) or player/server log entries (source player, server): {source, from, to, level, limit}',
      async run(args) {
        arg.only(args, ['from', 'to', 'level', 'source', 'limit']);
        const level = arg.string(args, 'level', { pattern: /^(debug|info|warn|error)$/ });
        const sources = ctx.logs();
        const sourceName = arg.string(args, 'source', { max: 32 }) ?? 'mss';
        const source = sources[sourceName];
        if (!source) throw new MssError('invalid-argument', `args.source must be one of ${Object.keys(sources).join(', ')}`);
        const rows = await source.queryLogs({
          from: arg.time(args, 'from'),
          to: arg.time(args, 'to'),
          level,
          limit: arg.number(args, 'limit', { min: 1, max: MAX_LOG_ROWS }) ?? 100,
        });
        return { source: sourceName, count: rows.length, entries: rows };
      },
    },
    {
      name: 'set-log-level',
      description: 'change the log level for a while: {level, durationSec} (default 600 s, at most 24 h)',
      async run(args) {
        arg.only(args, ['level', 'durationSec']);
        const level = arg.string(args, 'level', { required: true, pattern: /^(debug|info|warn|error)$/ }) as LogLevel;
        if (!LEVELS.includes(level)) throw new MssError('invalid-argument', `args.level must be one of ${LEVELS.join(', ')}`);
        const durationSec = arg.number(args, 'durationSec', { min: 1, max: MAX_LEVEL_DURATION_S }) ?? 600;
        const until = Date.now() + durationSec * 1000;
        setTemporaryLogLevel(level, until);
        return { level, until: new Date(until).toISOString() };
      },
    },
  ];
}
