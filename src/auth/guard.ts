/**
 * One gate in front of anything that takes credentials (the operator API now; the streaming protocols' preamble
 * next): it asks an Authenticator (Basic, Digest or bearer token) and makes guessing slow and bounded.
 *
 * - A request without credentials, or with a stale Digest nonce, gets its challenge at once: that is the normal
 *   handshake (a Digest client always asks once without credentials), not an attack.
 * - Wrong or malformed credentials are a failed attempt: the refusal is answered only after `refusalDelayMs`,
 *   and the attempt is counted for the peer's address.
 * - An address with `maxFailures` failed attempts within `windowMs` is refused at once (429, Retry-After) without
 *   its credentials being looked at, until the window has room again; a success clears its count.
 * - State is bounded: at most `maxTracked` addresses (the oldest forgotten first) and at most `maxDelayed` refusals
 *   waiting at once (beyond that, refusals are 429 at once, so a flood cannot pile up timers or skip the delay).
 * The refusal says nothing about which part was wrong: the user name and the password fail the same way.
 */
import type { Authenticator } from '../contracts/media.js';

export interface AuthGuardOptions {
  /** how long a failed attempt waits for its refusal (default 1000 ms) */
  refusalDelayMs?: number;
  /** failed attempts per address within the window before refusals come at once (default 10) */
  maxFailures?: number;
  /** the counting window (default 60 s) */
  windowMs?: number;
  /** addresses tracked at once (default 10000) */
  maxTracked?: number;
  /** refusals waiting out their delay at once (default 1000) */
  maxDelayed?: number;
  now?: () => number;
}

export interface AuthAttempt {
  /** the peer's address, as the socket reports it */
  remote: string;
  method: string;
  uri: string;
  authorization: string | undefined;
}

export type GuardVerdict =
  | { ok: true; user?: string }
  /** 401: answer with these WWW-Authenticate values; `reason` is for the log line only, never the body */
  | { ok: false; status: 401; challenge: string[]; reason: string; delayed: boolean }
  /** 429: too many failures from this address (or too many delayed refusals at once) */
  | { ok: false; status: 429; retryAfterS: number; reason: string; firstInWindow: boolean };

interface Failures {
  /** times of the failed attempts in the window, oldest first */
  times: number[];
  /** refusals at once given since the window filled (to log only the first) */
  refusedAtOnce: number;
}

export class AuthGuard {
  private readonly failures = new Map<string, Failures>();
  private delayed = 0;
  private readonly delayMs: number;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly maxDelayed: number;
  private readonly now: () => number;
  /** counters for health and telemetry */
  readonly counters = { accepted: 0, challenged: 0, failed: 0, rateLimited: 0 };

  constructor(
    /** the accounts to check (the API's); a streaming protocol passes each point's own to admit() */
    private readonly authenticator: Authenticator | null,
    opts: AuthGuardOptions = {},
  ) {
    this.delayMs = opts.refusalDelayMs ?? 1000;
    this.maxFailures = Math.max(1, opts.maxFailures ?? 10);
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxTracked = Math.max(1, opts.maxTracked ?? 10_000);
    this.maxDelayed = Math.max(1, opts.maxDelayed ?? 1000);
    this.now = opts.now ?? Date.now;
  }

  /** addresses currently holding failed attempts (for tests and health) */
  get trackedAddresses(): number {
    return this.failures.size;
  }

  /** checks an attempt against `authenticator` (default: the guard's own); failures count per address across all */
  async admit(attempt: AuthAttempt, authenticator: Authenticator | null = this.authenticator): Promise<GuardVerdict> {
    if (!authenticator) throw new Error('AuthGuard.admit: no authenticator to check against');
    const t = this.now();
    const entry = this.recent(attempt.remote, t);
    if (entry && entry.times.length >= this.maxFailures) {
      this.counters.rateLimited++;
      entry.refusedAtOnce++;
      const retryAfterS = Math.max(1, Math.ceil((entry.times[0]! + this.windowMs - t) / 1000));
      return { ok: false, status: 429, retryAfterS, reason: `${entry.times.length} failed attempts within ${Math.round(this.windowMs / 1000)} s`, firstInWindow: entry.refusedAtOnce === 1 };
    }
    const result = authenticator.check(attempt.method, attempt.uri, attempt.authorization);
    if (result.ok) {
      this.counters.accepted++;
      this.failures.delete(attempt.remote);
      return { ok: true, user: result.user };
    }
    const handshake = attempt.authorization === undefined || attempt.authorization.trim() === '' || result.challenge.some((c) => /stale=true/i.test(c));
    if (handshake) {
      this.counters.challenged++;
      return { ok: false, status: 401, challenge: result.challenge, reason: result.reason, delayed: false };
    }
    this.counters.failed++;
    this.recordFailure(attempt.remote, t);
    if (this.delayed >= this.maxDelayed) {
      this.counters.rateLimited++;
      return { ok: false, status: 429, retryAfterS: Math.max(1, Math.ceil(this.delayMs / 1000)), reason: `${this.delayed} refusals already waiting`, firstInWindow: false };
    }
    this.delayed++;
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    } finally {
      this.delayed--;
    }
    return { ok: false, status: 401, challenge: result.challenge, reason: result.reason, delayed: true };
  }

  /** the address's failures still inside the window (older ones dropped) */
  private recent(remote: string, t: number): Failures | undefined {
    const entry = this.failures.get(remote);
    if (!entry) return undefined;
    while (entry.times.length > 0 && entry.times[0]! <= t - this.windowMs) entry.times.shift();
    if (entry.times.length === 0) {
      this.failures.delete(remote);
      return undefined;
    }
    if (entry.times.length < this.maxFailures) entry.refusedAtOnce = 0;
    return entry;
  }

  private recordFailure(remote: string, t: number): void {
    let entry = this.failures.get(remote);
    if (!entry) {
      while (this.failures.size >= this.maxTracked) this.failures.delete(this.failures.keys().next().value as string);
      entry = { times: [], refusedAtOnce: 0 };
      this.failures.set(remote, entry);
    }
    entry.times.push(t);
    if (entry.times.length > this.maxFailures) entry.times.shift();
  }
}
