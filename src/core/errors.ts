/**
 * Errors are values with codes. Every layer throws MssError; each protocol maps `code`
 * to its own status (HTTP status, $E reason, MQTT error reply).
 */
export type MssErrorCode =
  // parsing and validation
  | 'truncated'          // input ended before a structure was complete
  | 'malformed'          // bytes or text do not have the required shape
  | 'too-large'          // a size beyond the configured or absolute bound
  | 'unsupported'        // well-formed, but a feature this build does not handle
  | 'invalid-config'     // config document failed validation (detail.errors lists paths)
  | 'invalid-argument'   // a caller passed a bad value (CLI flag, command argument)
  // access and resources
  | 'not-found'
  | 'forbidden'
  | 'unauthorized'
  | 'conflict'           // e.g. a second pusher on a point that has one
  | 'limit-reached'      // players per point, bandwidth, connections
  | 'timeout'
  | 'unavailable'        // a dependency (ffmpeg, broker, device) cannot be reached
  | 'expired'
  | 'internal';

export class MssError extends Error {
  readonly code: MssErrorCode;
  readonly detail: Record<string, unknown>;

  constructor(code: MssErrorCode, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MssError';
    this.code = code;
    this.detail = detail;
  }

  toJSON(): { code: MssErrorCode; message: string; detail: Record<string, unknown> } {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isMssError(err: unknown): err is MssError {
  return err instanceof MssError;
}

const SYSTEM_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/**
 * A system error (fs, net) in words, without the path Node appends ("ENOENT: no such file or directory, open 'x'"),
 * for messages that name the file themselves.
 */
export function systemReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && SYSTEM_REASONS[code]) return SYSTEM_REASONS[code]!;
  return err instanceof Error ? err.message : String(err);
}

/** Wraps anything thrown into an MssError, keeping an MssError as it is. */
export function toMssError(err: unknown, fallback: MssErrorCode = 'internal'): MssError {
  if (err instanceof MssError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MssError(fallback, message);
}
