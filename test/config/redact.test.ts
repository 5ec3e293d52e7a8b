/**
 * Secrets never leave the device in the clear: settings flagged `secret` in the schema and the user-info of every
 * URL (encoder.push, mqtt.url, pull source.url) are redacted in `mss config --print`, in config/reported (and put
 * back when the operator sends a reported document back), in log lines (so in MQTT log forwarding too).
 */
import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { configSchema, redactConfig, validateConfig } from '../../src/config/index.js';
import { redactText, redactUrl, restoreRedacted } from '../../src/config/redact.js';
import { addLogSink, createLogger, type LogSink } from '../../src/core/log.js';

const execFileAsync = promisify(execFile);
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

const SECRETS = ['pushpw-1', 'urlpw-2', 'mqttpw-3', 'mqtturlpw-4', 'pullpw-5', 'userpw-6'];

function secretDoc(dataDir: string): Record<string, unknown> {
  return {
    dataDir,
    encoder: { push: 'http://enc:urlpw-2@server.example:8080/live2', pushUser: 'enc', pushPassword: 'pushpw-1' },
    mqtt: { url: 'mqtts://dev:mqtturlpw-4@broker.example:8883', username: 'dev', password: 'mqttpw-3' },
    server: {
      publishingPoints: [
        { name: 'relay', type: 'broadcast', source: { type: 'pull', url: 'http://origin:pullpw-5@origin.example/live' } },
        { name: 'vod', type: 'ondemand', path: dataDir, auth: { scheme: 'digest', users: [{ name: 'alice', password: 'userpw-6' }] } },
      ],
    },
  };
}

test('redactUrl keeps the user name, hides the password; a bare token user-info is hidden whole', (t) => {
  t.is(redactUrl('http://enc:pw@host:8080/x'), 'http://enc:***@host:8080/x');
  t.is(redactUrl('mqtt://token@host'), 'mqtt://***@host');
  t.is(redactUrl('http://host/x@y'), 'http://host/x@y', 'an @ in the path is not user-info');
  t.is(redactText('cannot reach http://a:b@h1/ nor mmsh://c:d@h2:80/p'), 'cannot reach http://a:***@h1/ nor mmsh://c:***@h2:80/p');
  t.is(redactText(redactText('http://a:b@h/')), 'http://a:***@h/', 'idempotent');
});

test('redactConfig: every secret setting and every URL password is gone, the rest is as it was', (t) => {
  const config = validateConfig(secretDoc('/tmp/x'));
  const shown = JSON.stringify(redactConfig(config));
  for (const s of SECRETS) t.false(shown.includes(s), `${s} is redacted`);
  const r = redactConfig(config);
  t.is(r.encoder.pushPassword, '***');
  t.is(r.encoder.push, 'http://enc:***@server.example:8080/live2');
  t.is(r.mqtt.url, 'mqtts://dev:***@broker.example:8883');
  t.is((r.server.publishingPoints[0] as { source: { url: string } }).source.url, 'http://origin:***@origin.example/live');
  t.is(r.encoder.pushUser, 'enc');
  t.is(config.encoder.pushPassword, 'pushpw-1', 'the running config is untouched');
});

test('a reported (redacted) document sent back keeps the running secrets; a new secret replaces the old', (t) => {
  const running = validateConfig(secretDoc('/tmp/x'));
  const back = restoreRedacted(configSchema, JSON.parse(JSON.stringify(redactConfig(running))), running) as typeof running;
  t.deepEqual(validateConfig(back), running);
  const changed = JSON.parse(JSON.stringify(redactConfig(running))) as Record<string, any>;
  changed.encoder.pushPassword = 'new-one';
  changed.encoder.push = 'http://enc:other@server.example:8080/live2';
  const restored = restoreRedacted(configSchema, changed, running) as typeof running;
  t.is(restored.encoder.pushPassword, 'new-one');
  t.is(restored.encoder.push, 'http://enc:other@server.example:8080/live2');
  t.is(restored.mqtt.password, 'mqttpw-3');
});

test('log lines (and the records sinks such as the MQTT forwarder get) carry no URL password', (t) => {
  const lines: string[] = [];
  const records: unknown[] = [];
  const sink: LogSink = (line, _level, _event, record) => {
    lines.push(line);
    records.push(record);
  };
  t.teardown(addLogSink(sink));
  const log = createLogger('test');
  log.warn('pull.reconnecting', { url: 'http://origin:pullpw-5@origin.example/live', nested: { push: 'http://enc:urlpw-2@s/x' }, error: new Error('connect to mqtt://dev:mqtturlpw-4@b failed') });
  t.is(lines.length, 1);
  for (const s of ['pullpw-5', 'urlpw-2', 'mqtturlpw-4']) {
    t.false(lines[0]!.includes(s), `${s} not in the line`);
    t.false(JSON.stringify(records[0]).includes(s), `${s} not in the record`);
  }
  t.true(lines[0]!.includes('http://origin:***@origin.example/live'));
});

test('mss config --print shows no secret', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mss-redact-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify(secretDoc(dir)));
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', MAIN, 'config', '--print', '--config', file], { env: { ...process.env, MSS_LOG_LEVEL: 'error' } });
  t.true(stdout.includes('"pushPassword": "***"'));
  for (const s of SECRETS) t.false(stdout.includes(s), `${s} is not printed`);
});

test('a validation message never quotes a secret setting', (t) => {
  const err = t.throws(() => validateConfig({ encoder: { pushPassword: 'x'.repeat(300) } }));
  t.false(err!.message.includes('xxxx'));
  const bad = t.throws(() => validateConfig({ mqtt: { url: 'ftp://u:urlpw-2@h' } }));
  t.false(bad!.message.includes('urlpw-2'), bad!.message);
});
