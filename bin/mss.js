#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: a 2 MB young generation keeps a 2000-player server under ~130 MB RSS on a
// set-top box (V8 otherwise commits up to 32 MB for it) at no measured CPU cost (scripts/bench/wmsp-fanout.ts).
// Entry point: runs the compiled CLI (built by `npm install` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write('mss: not built yet; run `npm install` (or `npm run build`) first\n');
  process.exit(1);
}
const { main } = await import(compiled);
process.exitCode = await main(process.argv.slice(2));
