#!/usr/bin/env -S node --max-semi-space-size=2 --optimize-for-size
// The flags are for a set-top box's memory: a 2 MB young generation and V8's size-over-speed mode hold 2000 live
// players in ~116 MB peak RSS instead of ~145 MB, at a CPU cost still below VLC's per delivered GB
// (scripts/bench/wmsp-fanout.ts, which launches the server with these same flags read from this line).
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
