/**
 * The device-command door of the control API: every operation that is not HTTP-only is also `cmd/<id>` over
 * MQTT, running the same implementation. Arguments: the path parameters by name (`name`, `id`) and the body
 * under the operation's bodyArg (`point`, `limits`); anything else is refused by name.
 */
import { MssError } from '../core/errors.js';
import type { ModuleCommand } from '../core/module.js';
import type { ApiOperation } from './operations.js';

function paramNames(path: string): string[] {
  return [...path.matchAll(/\{([a-z]+)\}/gi)].map((m) => m[1]!);
}

export function apiCommands(operations: readonly ApiOperation[], host: () => string): ModuleCommand[] {
  return operations
    .filter((op) => !op.httpOnly)
    .map((op) => {
      const names = paramNames(op.path);
      const allowed = [...names, ...(op.bodyArg ? [op.bodyArg] : [])];
      return {
        name: op.id,
        description: `${op.summary} (${op.method} ${op.path}${allowed.length ? `; args: ${allowed.join(', ')}` : ''})`,
        async run(args: Record<string, unknown>) {
          const extra = Object.keys(args).filter((k) => !allowed.includes(k));
          if (extra.length) throw new MssError('invalid-argument', `unknown argument(s) ${extra.join(', ')}; expected ${allowed.length ? allowed.join(', ') : 'none'}`);
          const params: Record<string, string> = {};
          for (const n of names) {
            const v = args[n];
            if (typeof v === 'number' && Number.isInteger(v)) params[n] = String(v);
            else if (typeof v === 'string' && v.length > 0 && v.length <= 256) params[n] = v;
            else throw new MssError('invalid-argument', `args.${n} is required (a string${n === 'id' ? ' or a whole number' : ''})`);
          }
          const body = op.bodyArg ? args[op.bodyArg] : undefined;
          if (op.bodyArg && body === undefined) throw new MssError('invalid-argument', `args.${op.bodyArg} is required`);
          const result = await op.run({ params, query: new URLSearchParams(), body, at: { host: host() } });
          return result.data;
        },
      };
    });
}
