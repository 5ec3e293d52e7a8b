/**
 * npm 11 warns on `npm ci` about dependencies whose install scripts package.json's `allowScripts` does not cover
 * (and npm 12 will refuse to run them). Every package with an install script in the lockfile must be named there,
 * allowed or denied on purpose.
 */
import test from '../helpers/test.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };

test('every dependency with an install script is covered by allowScripts', (t) => {
  const withScripts = Object.entries(lock.packages)
    .filter(([p, v]) => p !== '' && v.hasInstallScript)
    .map(([p, v]) => ({ name: p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length), version: v.version }));
  t.true(withScripts.length > 0, 'the lockfile lists packages with install scripts (better-sqlite3 at least)');
  const allow = pkg.allowScripts ?? {};
  const uncovered = withScripts.filter((d) => !(d.name in allow) && !(`${d.name}@${d.version}` in allow));
  t.deepEqual(uncovered, []);
  for (const v of Object.values(allow)) t.is(typeof v, 'boolean');
});
