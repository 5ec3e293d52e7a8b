/**
 * A stand-in DRM packager for tests: `protect-cli <input> <output>` writes the input with DRM header objects
 * added (see protected.ts; nothing is encrypted). A name starting with "bad" fails like a packager without a
 * license for it: a message on stderr and exit code 3.
 */
import path from 'node:path';
import { makeProtectedFile } from './protected.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: protect-cli <input> <output>\n');
  process.exit(2);
}
if (path.basename(input).startsWith('bad')) {
  process.stdout.write(`packaging ${path.basename(input)}\n`);
  process.stderr.write(`no license key for ${path.basename(input)}\n`);
  process.exit(3);
}
await makeProtectedFile(input, output);
process.stdout.write(`packaged ${path.basename(input)}\n`);
