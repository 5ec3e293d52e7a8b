#!/usr/bin/env -S node --max-semi-space-size=2 --optimize-for-size
// The flags are for a set-top box's memory: a 2 MB young generation and V8's size-over-speed mode hold 2000 live
// players in ~116 MB peak RSS instead of ~145 MB, at a CPU cost still below VLC's per delivered GB
// (scripts/bench/wmsp-fanout.ts, which launches the server with these same flags read from this line).
// Entry point: runs the compiled CLI (built by `npm install` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write(`mss: not built yet: run \`npm install\` (or \`npm run build\`) in ${root}\n`);
  process.exit(1);
}
let main;
try {
  ({ main } = await import(compiled));
} catch (err) {
  // a partial install (compiled output or a package missing): one line, not a stack
  const missing = err && (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND');
  if (!missing) throw err;
  const what = /Cannot find (?:package|module) '([^']+)'/.exec(String(err.message))?.[1] ?? 'a module';
  process.stderr.write(`mss: the installation is incomplete (cannot load ${what}): run \`npm install\` in ${root}\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
