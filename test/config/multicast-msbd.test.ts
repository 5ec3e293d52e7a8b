import test from '../helpers/test.js';
import { validateConfig } from '../../src/config/index.js';

const point = (multicast?: Record<string, unknown>) => ({ name: 'live', type: 'broadcast', source: { type: 'push' }, ...(multicast ? { multicast } : {}) });

test('a broadcast point has no multicast output unless it names a group; the defaults are TTL 1, span 10, port 19009', (t) => {
  const c = validateConfig({ server: { publishingPoints: [point()] } });
  const p = c.server.publishingPoints[0]!;
  t.true(p.type === 'broadcast');
  if (p.type !== 'broadcast') return;
  t.deepEqual(p.multicast, { group: '', port: 19009, ttl: 1, interface: '', fecSpan: 10, beaconIntervalMs: 5000, loopback: true, unicastUrl: '' });
  t.deepEqual({ enabled: c.msbd.enabled, port: c.msbd.port, defaultPoint: c.msbd.defaultPoint, pingIntervalMs: c.msbd.pingIntervalMs }, { enabled: false, port: 7007, defaultPoint: '', pingIntervalMs: 120000 });
});

test('multicast settings are checked and every error names its path', (t) => {
  const e = t.throws(() =>
    validateConfig({ server: { publishingPoints: [point({ group: '10.0.0.1', ttl: 0, fecSpan: 16, beaconIntervalMs: 20000, interface: 'eth0', unicastUrl: 'ftp://x' })] }, msbd: { port: 70000, defaultPoint: '../x' } }),
  );
  const paths = (e!.message.match(/^\s+\S+:/gm) ?? []).map((l) => l.trim().slice(0, -1)).sort();
  t.deepEqual(paths, [
    'msbd.defaultPoint', 'msbd.port',
    'server.publishingPoints[0].multicast.beaconIntervalMs', 'server.publishingPoints[0].multicast.fecSpan', 'server.publishingPoints[0].multicast.group',
    'server.publishingPoints[0].multicast.interface', 'server.publishingPoints[0].multicast.ttl', 'server.publishingPoints[0].multicast.unicastUrl',
  ]);
  t.notThrows(() => validateConfig({ server: { publishingPoints: [point({ group: '239.192.0.1', interface: '192.168.1.10' })] } }));
});

test('a pull source may be msbd://', (t) => {
  t.notThrows(() => validateConfig({ server: { publishingPoints: [{ name: 'r', type: 'broadcast', source: { type: 'pull', url: 'msbd://up:7007/live' } }] } }));
  t.throws(() => validateConfig({ server: { publishingPoints: [{ name: 'r', type: 'broadcast', source: { type: 'pull', url: 'rtmp://up/live' } }] } }));
});
