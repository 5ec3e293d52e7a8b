/**
 * Distribution over several hops (three `mss serve` processes): an edge box proxies a regional box that proxies the
 * origin. Live: each hop pulls one stream from the one before it, whatever the number of players at the edge.
 * On-demand: each hop caches the file; once both have it, the edge plays it with the two boxes behind it stopped.
 */
import test from '../helpers/test.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAsfFile } from '../../src/asf/index.js';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';
import { cacheListing, fetchAll, pointStatus, probe, run, waitUntil } from '../proxy/helpers.js';

test('origin → regional → edge: one stream per hop for live, a cached copy per hop for on-demand', async (t) => {
  const av20 = await fixture(FIXTURES.av20);
  const origin = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'vod', type: 'ondemand', path: path.dirname(av20) },
          { name: 'live', type: 'broadcast', source: { type: 'file', path: av20, loop: true }, start: 'boot' },
        ],
      },
    },
  });
  t.teardown(origin.stop);
  const regional = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'tv', type: 'broadcast', source: { type: 'pull', url: origin.mmsh('/live') }, start: 'boot' },
          { name: 'films', type: 'ondemand', origin: origin.mmsh('/vod') },
        ],
      },
      proxy: { cache: { fillSpeed: 20 } },
    },
  });
  t.teardown(regional.stop);
  const edge = await startServe({
    config: {
      server: {
        publishingPoints: [
          { name: 'tv', type: 'broadcast', source: { type: 'pull', url: regional.mmsh('/tv') }, start: 'demand' },
          { name: 'films', type: 'ondemand', origin: regional.mmsh('/films') },
        ],
      },
      proxy: { cache: { fillSpeed: 20 } },
    },
  });
  t.teardown(edge.stop);

  const players = await Promise.all(
    Array.from({ length: 6 }, () => run('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_name,nb_read_frames', '-count_frames', '-read_intervals', '%+4', edge.mmsh('/tv')])),
  );
  for (const p of players) {
    t.is(p.code, 0, p.stderr);
    t.true((JSON.parse(p.stdout).streams as Array<{ nb_read_frames: string }>).every((s) => Number(s.nb_read_frames) > 10));
  }
  t.is((await pointStatus(origin.url, 'live')).sessions, 1, 'the origin serves the regional box only');
  t.is((await pointStatus(regional.url, 'tv')).sessions, 1, 'the regional box serves the edge only');
  t.is((await pointStatus(edge.url, 'tv')).sessions, 6);

  const first = await probe(edge.mmsh(`/films/${FIXTURES.av20}`));
  t.is(first.code, 0, first.stderr);
  for (const box of [regional, edge]) await waitUntil('a complete copy', async () => (await cacheListing(box.url)).entries.find((e) => e.state === 'complete' && !e.filling), 60_000);
  await origin.stop();
  await regional.stop();
  const later = await fetchAll(edge.mmsh(`/films/${FIXTURES.av20}`));
  const file = parseAsfFile(await readFile(av20));
  t.is(later.end, 'end');
  t.is(later.packets.length, file.packetCount);
  t.true(later.packets.every((p, i) => p.equals(file.packet(i))), 'the edge plays the origin packets with both boxes behind it stopped');
  const sample = await probe(edge.mmsh(`/films/${FIXTURES.av20}`));
  t.is(sample.code, 0, sample.stderr);
});
