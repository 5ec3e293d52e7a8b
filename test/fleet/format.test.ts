import test from '../helpers/test.js';
import { topicMatches } from '../../src/fleet/client.js';
import { ago, parseValue, setPath, table } from '../../src/fleet/format.js';

test('topic filters match like a broker does', (t) => {
  t.true(topicMatches('mss/v1/+/status', 'mss/v1/a/status'));
  t.false(topicMatches('mss/v1/+/status', 'mss/v1/a/b/status'));
  t.true(topicMatches('mss/v1/a/#', 'mss/v1/a/state/media'));
  t.false(topicMatches('mss/v1/a/state', 'mss/v1/a/state/media'));
});

test('k=v settings: paths into objects and arrays, JSON values when they parse', (t) => {
  const doc: Record<string, unknown> = { server: { publishingPoints: [{ name: 'x' }] } };
  setPath(doc, 'server.publishingPoints[0].maxPlayers', parseValue('3'));
  setPath(doc, 'mqtt.keepaliveSec', parseValue('60'));
  setPath(doc, 'logLevel', parseValue('warn'));
  t.deepEqual(doc, { server: { publishingPoints: [{ name: 'x', maxPlayers: 3 }] }, mqtt: { keepaliveSec: 60 }, logLevel: 'warn' });
  t.throws(() => setPath(doc, 'server.publishingPoints[5].name', 'y'));
});

test('text output: aligned table and relative times', (t) => {
  t.is(table([['A', 'BB'], ['ccc', 'd']]), 'A    BB\nccc  d\n');
  t.is(ago(new Date(1_000_000 - 90_000).toISOString(), 1_000_000), '2m ago');
  t.is(ago(undefined), '-');
});
