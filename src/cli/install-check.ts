/**
 * Tells an incomplete installation (a package or the compiled output missing, a native module built for another
 * Node.js) from a bug, so the user gets one line saying what to run instead of a stack trace.
 */
import { packageRoot } from '../config/paths.js';

const NATIVE_MISMATCH = /Could not locate the bindings file|NODE_MODULE_VERSION|compiled against a different Node\.js version|invalid ELF header|wrong ELF class/;

/** What could not be loaded, when `err` comes from an incomplete install; undefined otherwise. */
export function missingPiece(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') {
    const m = /Cannot find (?:package|module) '([^']+)'/.exec(message);
    return m ? m[1] : 'a module';
  }
  if (NATIVE_MISMATCH.test(message)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(message);
    return m ? `${m[1]} (a native module built for another Node.js)` : 'a native module';
  }
  return undefined;
}

/** The one line for an incomplete install, or undefined when `err` is something else. */
export function incompleteInstallMessage(err: unknown): string | undefined {
  const piece = missingPiece(err);
  if (piece === undefined) return undefined;
  let root = '.';
  try {
    root = packageRoot();
  } catch {
    // no package.json found: say "." rather than fail while reporting a failure
  }
  return `mss: the installation is incomplete (cannot load ${piece}): run \`npm install\` in ${root}`;
}
