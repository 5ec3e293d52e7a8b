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
