/**
 * The side of a load process that talks to its orchestrator: JSON lines on stdout, the `go` line on stdin that
 * starts every load process's window at once, and a coarse clock (one timer for thousands of players instead of
 * a Date.now() per read).
 */

export const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

/** resolves at the orchestrator's `go` line on stdin (or when stdin closes: run alone, start at once) */
export function goSignal(): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('go')) done();
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', done);
  });
}

/** after the ramp: says how many joined, lets them settle, says "ready" and waits for `go` */
export async function readyForWindow(joined: number, rampMs: number, settleSeconds: number): Promise<void> {
  emit({ event: 'joined', joined, rampMs });
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  emit({ event: 'ready' });
  await goSignal();
}

/** Date.now() at most 20 ms old; call stop() before the process should exit */
export const clock = {
  now: Date.now(),
  timer: setInterval(() => {
    clock.now = Date.now();
  }, 20),
  stop(): void {
    clearInterval(clock.timer);
  },
};

/** the end of a load process: its result line (or an error line), then exit */
export function finish(result: Promise<object>): void {
  result
    .then((r) => {
      emit(r);
      clock.stop();
      setTimeout(() => process.exit(0), 200);
    })
    .catch((err) => {
      emit({ event: 'error', message: String((err as Error).stack ?? err) });
      process.exit(1);
    });
}
