/**
 * `npm start` serves the embedded defaults: "vod" on ./media and "live" looping media/sample.wmv. Same process
 * (`mss serve` without --config), on an ephemeral port instead of 8080.
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { startServe } from '../helpers/serve.js';

function ffprobe(url: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: String(stdout) + String(stderr) }),
    );
  });
}

test('embedded defaults: ffprobe opens mmsh://…/live and mmsh://…/vod/sample.wmv', async (t) => {
  const srv = await startServe({ embeddedDefaults: true });
  t.teardown(() => srv.stop());
  const live = await ffprobe(srv.mmsh('/live'));
  t.is(live.code, 0, live.out);
  t.deepEqual(live.out.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  const vod = await ffprobe(srv.mmsh('/vod/sample.wmv'));
  t.is(vod.code, 0, vod.out);
  t.deepEqual(vod.out.trim().split('\n').sort(), ['wmav2', 'wmv2']);
  const audio = await ffprobe(srv.mmsh('/vod/sample.wma'));
  t.is(audio.code, 0, audio.out);
  const stopped = await srv.stop();
  t.is(stopped, 0);
});
