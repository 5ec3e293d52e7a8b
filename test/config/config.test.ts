import test from '../helpers/test.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEnvOverrides, embeddedDefaults, loadConfig, readConfigFile, validateConfig } from '../../src/config/index.js';
import { envNameFor } from '../../src/config/schema.js';
import { MssError } from '../../src/core/errors.js';

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  const err = (() => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof MssError)) throw new Error('expected an MssError');
  return (err.detail.errors as Array<{ path: string; message: string }>) ?? [];
}

test('the embedded defaults validate: a vod point, a looping live point and a push point', (t) => {
  const config = validateConfig(embeddedDefaults());
  t.is(config.http.port, 8080);
  t.deepEqual(config.server.publishingPoints.map((p) => [p.name, p.type]), [['vod', 'ondemand'], ['live', 'broadcast'], ['live2', 'broadcast']]);
});

test('the shipped firmware config validates', (t) => {
  const config = validateConfig(readConfigFile(join(import.meta.dirname, '../../firmware/config/config.json')));
  // the image leaves the data directory and the ports to the board profile (test/firmware checks every board)
  t.is(config.dataDir, './var');
  t.is(loadConfig({ file: join(import.meta.dirname, '../../firmware/config/config.json'), env: { MSS_BOARD: 'rpi4' } }).dataDir, '/data/mss');
});

test('every error is collected and named by its path', (t) => {
  const issues = issuesOf(() =>
    validateConfig({
      http: { port: 70000, bogus: 1 },
      server: { publishingPoints: [{ name: 'x', type: 'ondemand' }, { name: '../bad', type: 'broadcast', source: { type: 'teleport' } }] },
      logLevel: 'loud',
    }),
  );
  const paths = issues.map((i) => i.path).sort();
  t.deepEqual(paths, [
    'http.bogus',
    'http.port',
    'logLevel',
    'server.publishingPoints[0].path',
    'server.publishingPoints[1].name',
    'server.publishingPoints[1].source.type',
  ]);
  t.regex(issues.find((i) => i.path === 'http.port')!.message, /<= 65535/);
});

test('nothing is coerced: a string port is an error', (t) => {
  const issues = issuesOf(() => validateConfig({ http: { port: '8080' } }));
  t.is(issues[0].path, 'http.port');
  t.regex(issues[0].message, /must be a number/);
});

test('environment overrides map MSS_<PATH> in upper snake case and parse strictly', (t) => {
  t.is(envNameFor(['http', 'maxHeaderBytes']), 'MSS_HTTP_MAX_HEADER_BYTES');
  const { doc, issues } = applyEnvOverrides({}, { MSS_HTTP_PORT: '9090', MSS_MQTT_URL: 'mqtt://host:1883', MSS_ENCODER_ENABLED: 'true' });
  t.deepEqual(issues, []);
  const config = validateConfig(doc);
  t.is(config.http.port, 9090);
  t.is(config.mqtt.url, 'mqtt://host:1883');
  t.true(config.encoder.enabled);
  const bad = applyEnvOverrides({}, { MSS_HTTP_PORT: '80x', MSS_ENCODER_ENABLED: 'yes' });
  t.deepEqual(bad.issues.map((i) => i.path).sort(), ['encoder.enabled', 'http.port']);
});

test('a config file: relative paths resolve against the file, bad JSON is a clear error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mss-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ dataDir: 'state', server: { publishingPoints: [{ name: 'v', type: 'ondemand', path: 'media' }] } }));
  const config = loadConfig({ file, env: {} });
  t.is(config.dataDir, join(dir, 'state'));
  t.is((config.server.publishingPoints[0] as { path: string }).path, join(dir, 'media'));
  writeFileSync(file, '{"http": ');
  const err = t.throws(() => loadConfig({ file, env: {} }), { instanceOf: MssError });
  t.is(err!.code, 'malformed');
  t.regex(err!.message, /not valid JSON/);
  writeFileSync(file, '[]');
  t.throws(() => loadConfig({ file, env: {} }), { message: /must be a JSON object/ });
});

test('access lists are validated by the schema: a bad entry fails with its path', (t) => {
  const issues = issuesOf(() =>
    validateConfig({
      server: {
        publishingPoints: [
          { name: 'a', type: 'ondemand', path: '/m', access: { allow: ['10.0.0.0/33', '192.168.1.0/24'], deny: ['not-an-ip'] } },
          { name: 'b', type: 'broadcast', source: { type: 'push' }, access: { allow: ['10.0.0.1/8'] } },
        ],
      },
    }),
  );
  t.deepEqual(issues.map((i) => i.path).sort(), ['server.publishingPoints[0].access.allow[0]', 'server.publishingPoints[0].access.deny[0]', 'server.publishingPoints[1].access.allow[0]']);
  t.regex(issues.find((i) => i.path.endsWith('allow[0]') && i.path.includes('[0].'))!.message, /prefix length "33"/);
  t.regex(issues.find((i) => i.path.includes('[1].'))!.message, /host bits/);
});

test('a realm that would break the quoted WWW-Authenticate challenge is refused, for points as for the API', (t) => {
  const issues = issuesOf(() =>
    validateConfig({
      api: { auth: { scheme: 'basic', realm: 'a"b' } },
      server: { publishingPoints: [{ name: 'a', type: 'ondemand', path: '/m', auth: { scheme: 'digest', realm: 'x\\"y', users: [{ name: 'u', password: 'p' }] } }] },
    }),
  );
  t.deepEqual(issues.map((i) => i.path).sort(), ['api.auth.realm', 'server.publishingPoints[0].auth.realm']);
});

test('publishing point names are unique', (t) => {
  const issues = issuesOf(() => validateConfig({ server: { publishingPoints: [{ name: 'a', type: 'ondemand', path: '/m' }, { name: 'a', type: 'broadcast', source: { type: 'push' } }] } }));
  t.deepEqual(issues.map((i) => i.path), ['server.publishingPoints[1].name']);
  t.regex(issues[0]!.message, /already used by server.publishingPoints\[0\]/);
});

test('mss config --check names the path of a bad access entry, once', async (t) => {
  const { execFile } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'mss-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ server: { publishingPoints: [{ name: 'v', type: 'ondemand', path: 'media', access: { allow: ['10.0.0.0/33'] } }] } }));
  const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/main.ts'), 'config', '--check', file], (err, _o, stderr) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr: String(stderr) })),
  );
  t.is(r.code, 1);
  t.regex(r.stderr, /server\.publishingPoints\[0\]\.access\.allow\[0\]: "10\.0\.0\.0\/33" prefix length/);
});
