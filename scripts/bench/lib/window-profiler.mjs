// Preloaded into a benchmarked server (node --import): SIGUSR2 starts a V8 CPU profile (and, with
// MSS_WINDOW_HEAP=1, allocation sampling), the next SIGUSR2 stops it and writes it to $MSS_WINDOW_PROFILE (a
// .cpuprofile; the allocations beside it as .heapprofile), so a benchmark profiles exactly its measurement window
// instead of the whole life of the process (start-up and the players' ramp included).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.MSS_WINDOW_PROFILE;
const heap = process.env.MSS_WINDOW_HEAP === '1';
if (out) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      if (heap) session.post('HeapProfiler.enable', () => session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(out, JSON.stringify(result.profile));
    });
    if (heap) {
      session.post('HeapProfiler.stopSampling', (err, result) => {
        if (!err) writeFileSync(out.replace(/\.cpuprofile$/, '') + '.heapprofile', JSON.stringify(result.profile));
      });
    }
  });
}
