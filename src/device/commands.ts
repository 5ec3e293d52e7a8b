/**
 * The command table: a core set plus every module's `commands()`, so later modules (proxy, updates) add
 * commands without touching the agent. Running a command never throws: every outcome is a uniform reply.
 */
import { MssError, toMssError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AppModule, ModuleCommand } from '../core/module.js';
import { isValidName, type CommandRequest } from './topics.js';

export interface CommandReply {
  id: string | null;
  status: 'ok' | 'error';
  data: unknown;
  error: { code: string; message: string; detail?: Record<string, unknown> } | null;
}

export interface TableEntry extends ModuleCommand {
  /** who offers it: "agent" or a module name */
  owner: string;
}

/** Longest a command may run before the reply says `timeout` (the action itself is not cancelled). */
const COMMAND_TIMEOUT_MS = 60_000;

export class CommandTable {
  private readonly entries = new Map<string, TableEntry>();

  constructor(private readonly log: Logger) {}

  add(owner: string, command: ModuleCommand): void {
    if (!isValidName(command.name)) {
      this.log.warn('command-refused', { owner, command: command.name, reason: 'name must match [a-z0-9][a-z0-9._-]*' });
      return;
    }
    const existing = this.entries.get(command.name);
    if (existing) {
      this.log.warn('command-refused', { owner, command: command.name, reason: `already offered by ${existing.owner}` });
      return;
    }
    this.entries.set(command.name, { ...command, owner });
  }

  /** Adds the commands of every module that offers some (a failing `commands()` is logged, not fatal). */
  addModules(modules: readonly AppModule[]): void {
    for (const m of modules) {
      if (!m.commands) continue;
      try {
        for (const c of m.commands()) this.add(m.name, c);
      } catch (err) {
        this.log.warn('module-commands-failed', { module: m.name, err });
      }
    }
  }

  get(name: string): TableEntry | undefined {
    return this.entries.get(name);
  }

  list(): Array<{ name: string; owner: string; description: string }> {
    return [...this.entries.values()].map((e) => ({ name: e.name, owner: e.owner, description: e.description })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Runs a decoded request. Unknown, expired, failing and slow commands all come back as error replies. */
  async run(name: string, req: CommandRequest, now = Date.now()): Promise<CommandReply> {
    if (req.expiresAt !== undefined && now > req.expiresAt) {
      return errorReply(req.id, new MssError('expired', `command ${name} expired at ${new Date(req.expiresAt).toISOString()}`));
    }
    const entry = this.entries.get(name);
    if (!entry) return errorReply(req.id, new MssError('not-found', `unknown command ${JSON.stringify(name)}; known: ${[...this.entries.keys()].sort().join(', ')}`));
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MssError('timeout', `command ${name} did not finish within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
      });
      const data = await Promise.race([Promise.resolve().then(() => entry.run(req.args)), timeout]);
      return { id: req.id, status: 'ok', data: data ?? null, error: null };
    } catch (err) {
      const e = toMssError(err);
      if (e.code === 'internal') this.log.warn('command-failed', { command: name, err: e });
      return errorReply(req.id, e);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function errorReply(id: string | null, err: unknown): CommandReply {
  const e = toMssError(err);
  const error: CommandReply['error'] = { code: e.code, message: e.message };
  if (Object.keys(e.detail).length > 0) error.detail = e.detail;
  return { id, status: 'error', data: null, error };
}

/** Argument helpers for command implementations: precise `invalid-argument` errors, nothing coerced. */
export const arg = {
  string(args: Record<string, unknown>, key: string, opts: { required?: boolean; pattern?: RegExp; max?: number } = {}): string | undefined {
    const v = args[key];
    if (v === undefined || v === null) {
      if (opts.required) throw new MssError('invalid-argument', `args.${key} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw new MssError('invalid-argument', `args.${key} must be a string`);
    if (v.length > (opts.max ?? 1024)) throw new MssError('invalid-argument', `args.${key} is longer than ${opts.max ?? 1024} characters`);
    if (opts.pattern && !opts.pattern.test(v)) throw new MssError('invalid-argument', `args.${key} must match ${opts.pattern}`);
    return v;
  },
  number(args: Record<string, unknown>, key: string, opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const v = args[key];
    if (v === undefined || v === null) {
      if (opts.required) throw new MssError('invalid-argument', `args.${key} is required`);
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new MssError('invalid-argument', `args.${key} must be a number`);
    if (opts.min !== undefined && v < opts.min) throw new MssError('invalid-argument', `args.${key} must be >= ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) throw new MssError('invalid-argument', `args.${key} must be <= ${opts.max}`);
    return v;
  },
  time(args: Record<string, unknown>, key: string): number | undefined {
    const v = args[key];
    if (v === undefined || v === null) return undefined;
    const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) throw new MssError('invalid-argument', `args.${key} must be epoch milliseconds or an ISO 8601 time`);
    return ms;
  },
  /** rejects keys the command does not know, so typos are errors and not silently ignored */
  only(args: Record<string, unknown>, keys: readonly string[]): void {
    const unknown = Object.keys(args).filter((k) => !keys.includes(k));
    if (unknown.length > 0) throw new MssError('invalid-argument', `unknown argument(s) ${unknown.join(', ')}; expected ${keys.length ? keys.join(', ') : 'none'}`);
  },
};
