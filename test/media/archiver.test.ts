import test from '../helpers/test.js';
import { Archiver, type ArchiveWriter } from '../../src/media/archiver.js';
import type { Logger } from '../../src/core/log.js';

function recordingLog(events: Array<{ event: string; fields: Record<string, unknown> }>): Logger {
  const log: Logger = {
    debug() {},
    info: (event, fields = {}) => events.push({ event, fields }),
    warn: (event, fields = {}) => events.push({ event, fields }),
    error: (event, fields = {}) => events.push({ event, fields }),
    child: () => log,
    enabled: () => true,
  };
  return log;
}

/** storage that takes `ms` per write (a worn SD card) */
function slowWriter(ms: number, written: Buffer[]): (file: string) => Promise<ArchiveWriter> {
  return async (file) => ({
    path: file,
    write: (p) => new Promise((r) => setTimeout(() => (written.push(p), r()), ms)),
    finish: async () => ({ packets: written.length, durationMs: 0 }),
  });
}

test('storage slower than the stream stops the archive with an event; memory stays bounded and the rest is dropped', async (t) => {
  const events: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const written: Buffer[] = [];
  const a = new Archiver('/tmp/never.asf', recordingLog(events), 64 * 1024, slowWriter(20, written));
  a.startFile(Buffer.alloc(500));
  let maxPending = 0;
  for (let i = 0; i < 2000; i++) {
    a.write(Buffer.alloc(3200, i & 0xff));
    maxPending = Math.max(maxPending, a.pendingBytes);
  }
  t.true(maxPending <= 64 * 1024, `${maxPending} bytes queued`);
  t.false(a.active);
  const stopped = events.find((e) => e.event === 'archive.stopped');
  t.is(stopped?.fields.reason, 'storage too slow');
  await a.finish();
  t.true(written.length < 30, `${written.length} packets written before it stopped`);
  t.truthy(events.find((e) => e.event === 'archive.finished'), 'the file written so far is closed properly');
});

test('a storage that keeps up archives every packet', async (t) => {
  const written: Buffer[] = [];
  const a = new Archiver('/tmp/never.asf', recordingLog([]), 64 * 1024, slowWriter(0, written));
  a.startFile(Buffer.alloc(500));
  for (let i = 0; i < 200; i++) {
    a.write(Buffer.alloc(100));
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await a.finish();
  t.is(written.length, 200);
  t.true(a.active);
});
