import { MssError } from '../core/errors.js';

export interface OptionSpec {
  /** takes a value (`--port 8080` or `--port=8080`) or is a flag */
  value: boolean;
  /** may be given several times (values collected in order) */
  repeat?: boolean;
  alias?: string;
}

export interface ParsedArgs {
  options: Record<string, string | boolean | string[]>;
  positionals: string[];
}

/** Strict argument parser: unknown options and missing values are errors, never guesses. */
export function parseArgs(args: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  const byAlias = new Map(Object.entries(spec).filter(([, s]) => s.alias).map(([name, s]) => [s.alias!, name]));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.length === 2 && arg.startsWith('-') && arg !== '-') {
      name = byAlias.get(arg.slice(1));
      if (!name) throw new MssError('invalid-argument', `unknown option ${arg}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new MssError('invalid-argument', `unknown option --${name}`);
    let value: string | boolean = true;
    if (s.value) {
      if (inline !== undefined) value = inline;
      else if (i + 1 < args.length) value = args[++i];
      else throw new MssError('invalid-argument', `option --${name} needs a value`);
    } else if (inline !== undefined) {
      throw new MssError('invalid-argument', `option --${name} takes no value`);
    }
    if (s.repeat) {
      const list = (options[name] as string[] | undefined) ?? [];
      list.push(String(value));
      options[name] = list;
    } else {
      options[name] = value;
    }
  }
  return { options, positionals };
}

/** `prefix: message`, unless the message already starts with that prefix (no "mss play: mss play …"). */
export function withPrefix(prefix: string, message: string): string {
  const m = message.trimEnd();
  return m === prefix || m.startsWith(`${prefix}:`) || m.startsWith(`${prefix} `) ? m : `${prefix}: ${m}`;
}

/** A number option within bounds, or an error naming the option. */
export function numberOption(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new MssError('invalid-argument', `--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}
