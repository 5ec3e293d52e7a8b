import test from '../helpers/test.js';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isMssError } from '../../src/core/errors.js';
import { resolveMediaFile, safeSegments } from '../../src/media/paths.js';

test('safe segments decode once and refuse every traversal spelling', (t) => {
  t.deepEqual(safeSegments('sub%20dir/a%20b.wmv'), ['sub dir', 'a b.wmv']);
  for (const bad of ['../etc/passwd', '%2e%2e/x', '..%2fx', '%252e%252e/x', 'a/./b', 'a%5cb', 'a%00.wmv', 'x..y/..', '%2E%2E']) {
    const err = t.throws(() => safeSegments(bad), undefined, bad);
    t.true(isMssError(err) && err.code === 'forbidden', bad);
  }
  t.throws(() => safeSegments('%zz'), { message: /broken percent-encoding/ });
  t.throws(() => safeSegments('a/'.repeat(40)), { message: /segments/ });
});

test('resolveMediaFile finds files in subfolders and refuses symlinks out of the directory', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'mss-paths-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const outside = await mkdtemp(path.join(tmpdir(), 'mss-outside-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  await mkdir(path.join(root, 'sub'));
  await writeFile(path.join(root, 'sub', 'a.wmv'), 'x');
  await writeFile(path.join(outside, 'secret.wmv'), 'x');
  await symlink(path.join(outside, 'secret.wmv'), path.join(root, 'link.wmv'));
  t.is(await resolveMediaFile(root, ['sub', 'a.wmv']), path.join(await import('node:fs/promises').then((f) => f.realpath(root)), 'sub', 'a.wmv'));
  await t.throwsAsync(resolveMediaFile(root, ['link.wmv']), { message: /leads out/ });
  await t.throwsAsync(resolveMediaFile(root, ['nope.wmv']), { message: /no file/ });
  await t.throwsAsync(resolveMediaFile(root, ['sub', 'a.txt']), { message: /not an ASF media file/ });
  await t.throwsAsync(resolveMediaFile(root, ['sub']), { message: /not an ASF media file/ });
});
