import test from '../helpers/test.js';
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DeviceAgent } from '../../src/device/agent.js';
import { agentConfig, tempDir } from '../helpers/device.js';
import { startMosquitto } from '../helpers/mosquitto.js';

const exec = promisify(execFile);

/** A throwaway CA, a broker certificate for 127.0.0.1 and a client certificate, made with openssl. */
async function makeCerts(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => exec('openssl', args);
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mss test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  await writeFile(f('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    await ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f(`${who}.crt`), ...(who === 'server' ? ['-extfile', f('server.ext')] : []));
  }
  await chmod(dir, 0o755);
  for (const n of ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key']) await chmod(f(n), 0o644); // mosquitto drops to its own user
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

test('the agent connects over TLS with a client certificate (mqtts://, caFile, certFile, keyFile)', async (t) => {
  const tmp = await tempDir();
  const certs = await makeCerts(tmp.dir);
  const broker = await startMosquitto({ extra: [`cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, 'require_certificate true'] });
  t.teardown(async () => {
    await broker.stop();
    await tmp.remove();
  });
  const url = `mqtts://127.0.0.1:${broker.port}`;
  const config = agentConfig({ url, dataDir: path.join(tmp.dir, 'var'), mqtt: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } });
  const agent: DeviceAgent = new DeviceAgent({ config, modules: () => [agent] });
  await agent.start();
  t.teardown(() => agent.stop());
  const deadline = Date.now() + 15_000;
  while (!agent.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(agent.connected);

  // without the client certificate the broker refuses, and the agent keeps retrying without crashing
  const refused = agentConfig({ url, dataDir: path.join(tmp.dir, 'var2'), mqtt: { caFile: certs.ca } });
  const other: DeviceAgent = new DeviceAgent({ config: refused, modules: () => [other] });
  await other.start();
  t.teardown(() => other.stop());
  await new Promise((r) => setTimeout(r, 1500));
  t.false(other.connected);
  t.is(other.health().state, 'degraded');
});

test('the agent logs in with a user name and password; wrong credentials leave it retrying, not crashing', async (t) => {
  const tmp = await tempDir();
  const pwfile = path.join(tmp.dir, 'passwd');
  await writeFile(pwfile, '');
  await exec('mosquitto_passwd', ['-b', pwfile, 'box', 's3cret']);
  await chmod(tmp.dir, 0o755);
  await chmod(pwfile, 0o644);
  const broker = await startMosquitto({ extra: ['allow_anonymous false', `password_file ${pwfile}`] });
  t.teardown(async () => {
    await broker.stop();
    await tmp.remove();
  });
  const good = agentConfig({ url: broker.url, dataDir: path.join(tmp.dir, 'a'), mqtt: { username: 'box', password: 's3cret' } });
  const agent: DeviceAgent = new DeviceAgent({ config: good, modules: () => [agent] });
  await agent.start();
  t.teardown(() => agent.stop());
  const bad = agentConfig({ url: broker.url, dataDir: path.join(tmp.dir, 'b'), mqtt: { username: 'box', password: 'wrong' } });
  const other: DeviceAgent = new DeviceAgent({ config: bad, modules: () => [other] });
  await other.start();
  t.teardown(() => other.stop());
  const deadline = Date.now() + 15_000;
  while (!agent.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(agent.connected);
  await new Promise((r) => setTimeout(r, 1000));
  t.false(other.connected);
});
