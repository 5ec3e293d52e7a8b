/**
 * The MSS_* environment: every setting of the schema as MSS_<PATH> (see applyEnvOverrides), plus the few variables
 * read elsewhere, listed here so `--help` can name them and a misspelt one is reported instead of silently ignored.
 */
import { envNameFor, scalarLeaves, type Schema } from './schema.js';

/** MSS_* variables that are not config settings, and what reads them */
export const OTHER_ENV_VARS: Readonly<Record<string, string>> = {
  MSS_PLAY_PASSWORD: 'mss play: the password for --user (kept out of the process list)',
  MSS_NATIVE: 'the native addon: off (never load it) or rebuild (scripts/install-native.mjs builds it again)',
  MSS_ARM_CACHE: 'scripts/arm-check.sh: where it caches the ARM root and builds',
  MSS_ARM_FRESH: 'scripts/arm-check.sh: 1 rebuilds the native modules even when cached',
  MSS_TEST_LOGS: 'tests: 1 writes the log lines of the code under test to stderr as they happen',
  MSS_DIRECT_WRITE: 'live fan-out: 0 writes through Node\'s socket streams and dgram sends instead of straight to the socket handles and the native batch send (TCP) and sendmmsg (UDP)',
  MSS_WINDOW_PROFILE: 'scripts/bench: where the window profiler writes the CPU profile of a measurement window',
  MSS_WINDOW_HEAP: 'scripts/bench: 1 adds allocation sampling to the window profile',
  MSS_FLOOR_SRC: 'scripts/bench: the C floor server source (default ../shared/bench/floor-wmsp.c)',
};

export function configEnvNames(schema: Schema): string[] {
  return scalarLeaves(schema).map((l) => envNameFor(l.path));
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** MSS_* variables set in `env` that nothing reads, each with the closest known name when one is close. */
export function unknownEnvVars(env: NodeJS.ProcessEnv, schema: Schema): Array<{ name: string; suggestion?: string }> {
  const known = new Set([...configEnvNames(schema), ...Object.keys(OTHER_ENV_VARS)]);
  return Object.keys(env)
    .filter((n) => n.startsWith('MSS_') && !known.has(n))
    .sort()
    .map((name) => {
      let best: string | undefined;
      let bestD = Infinity;
      for (const k of known) {
        const d = distance(name, k);
        if (d < bestD) [best, bestD] = [k, d];
      }
      return bestD <= Math.max(2, Math.floor(name.length / 6)) ? { name, suggestion: best } : { name };
    });
}

/** "MSS_HTTP_PROT is not a known variable (ignored); did you mean MSS_HTTP_PORT?" */
export function unknownEnvMessage(u: { name: string; suggestion?: string }): string {
  return `environment variable ${u.name} is not one mss reads (ignored)${u.suggestion ? `; did you mean ${u.suggestion}?` : ''}`;
}
