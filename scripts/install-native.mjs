#!/usr/bin/env node
// npm install hook: use a prebuild (prebuilds/<platform>-<arch>/) or an earlier build when one loads, else build the
// addon from source with node-gyp (npm ships it). Node's headers come from the installed Node when it has them
// (Debian/NodeSource install /usr/include/node), so no download is needed. A failed build is not fatal: mss then
// runs with the pure-JS fallback and says "not available" where the addon would be used.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The addon file that loads and has the interface version src/native/index.ts expects, or ''. Checked in a child
 * process: a process cannot load a rebuilt addon again once it has loaded the earlier one from the same path. */
function loads() {
  const check = `const f = require('node-gyp-build').resolve(${JSON.stringify(root)}); if (require(f).abiVersion === 3) process.stdout.write(f);`;
  const r = spawnSync(process.execPath, ['-e', check], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return r.status === 0 ? r.stdout : '';
}

if (process.env.MSS_NATIVE === 'off') process.exit(0);
const found = process.env.MSS_NATIVE === 'rebuild' ? '' : loads();
if (found) {
  if (process.env.npm_config_loglevel !== 'silent') console.log(`mss: native addon ${found.slice(root.length + 1)}`);
  process.exit(0);
}

const args = ['rebuild'];
const headers = join(dirname(dirname(process.execPath)), 'include', 'node', 'node_api.h');
if (!process.env.npm_config_nodedir && existsSync(headers)) args.push(`--nodedir=${dirname(dirname(dirname(headers)))}`);
// npm puts its node-gyp on PATH for scripts; outside npm fall back to the copy npm bundles
const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const cmd = existsSync(bundled) ? [process.execPath, [bundled, ...args]] : ['node-gyp', args];
const r = spawnSync(cmd[0], cmd[1], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (r.status === 0 && loads()) process.exit(0);
const why = (r.error?.message ?? r.stderr ?? '').split('\n').filter((l) => /error/i.test(l)).slice(0, 5).join('\n');
console.warn(`mss: the native addon was not built (V4L2 probing and sd_notify use the fallback):\n${why}`);
process.exit(0);
