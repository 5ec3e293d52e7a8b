/**
 * The status page in a real browser: Debian's chromium, headless, driven by playwright-core with a new empty
 * profile. The page renders, shows the broadcast point this test added (through the API) with its URLs, shows a
 * player while one plays, refreshes on its own, and a screenshot is saved under test/artifacts/ for review.
 */
import test from '../helpers/test.js';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe } from '../helpers/serve.js';
import { ffmpegPlay, rawRequest } from '../protocols/wmsp/raw-client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = '/usr/bin/chromium';
/** the page's window, typed loosely (this project compiles without the DOM library); predicates are serialised, so each names it itself */
interface PageElement { textContent: string | null; dataset: Record<string, string | undefined> }
type PageWindow = { document: { querySelector(s: string): PageElement | null; getElementById(id: string): PageElement | null } };
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the status page renders the point the test started, a player and a live sparkline', async (t) => {
  if (!existsSync(CHROMIUM)) return t.fail(`${CHROMIUM} is missing: scripts/install-system-deps.sh installs Debian's chromium`);
  const media = await fixture(FIXTURES.av20);
  const srv = await startServe({ config: { server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: path.dirname(media) }] }, web: { refreshMs: 500 } } });
  t.teardown(srv.stop);
  const added = await fetch(srv.http('/api/v1/points'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'teststream', type: 'broadcast', source: { type: 'file', path: media, loop: true }, start: 'boot' }),
  });
  t.is(added.status, 201);
  // a real-time player, so the players table has someone while the page is looked at
  const playing = rawRequest(srv.port, `/vod/${FIXTURES.av20}`, { pragmas: ffmpegPlay([1, 2]), httpVersion: '1.1', timeoutMs: 15_000 });

  const profile = await mkdtemp(path.join(tmpdir(), 'mss-chromium-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
  t.teardown(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

  const res = await page.goto(srv.http('/'));
  t.is(res?.status(), 200);
  t.is(await page.title(), 'mss status');
  const row = page.locator('tr[data-point="teststream"]');
  await row.waitFor({ timeout: 20_000 });
  // predicates run in the page (functions, not strings: the page's CSP forbids eval)
  await page.waitForFunction(() => (globalThis as unknown as PageWindow).document.querySelector('tr[data-point="teststream"]')?.textContent?.includes('broadcasting'), undefined, { timeout: 20_000 });
  const rowText = (await row.textContent()) ?? '';
  t.regex(rowText, /broadcast/);
  t.regex(rowText, /mmsh:\/\/127\.0\.0\.1:\d+\/teststream/);
  t.regex(rowText, /\/teststream\.asx/);
  await page.waitForFunction(() => Number((globalThis as unknown as PageWindow).document.getElementById('player-count')?.textContent) >= 1, undefined, { timeout: 20_000 });
  t.regex((await page.locator('#players').textContent()) ?? '', /wmsp/);
  // refreshed live: the update counter moves and the sparkline gathers samples
  await page.waitForFunction(() => Number((globalThis as unknown as PageWindow).document.getElementById('spark-line')?.dataset.samples) >= 3, undefined, { timeout: 20_000 });
  t.true(Number(await page.locator('#updated').getAttribute('data-count')) >= 4);
  t.deepEqual(errors, []);

  const dir = path.join(root, 'test/artifacts');
  await mkdir(dir, { recursive: true });
  const shot = path.join(dir, 'status-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.true(existsSync(shot));
  await playing;
});
