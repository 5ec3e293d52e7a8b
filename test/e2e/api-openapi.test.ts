/**
 * The OpenAPI document at /api/v1/openapi.json against the routes that exist: every documented operation is
 * served (never "no API operation", never 405), every other method on a documented path is 405, and the
 * publishing point schema is the config schema's.
 */
import test from '../helpers/test.js';
import path from 'node:path';
import { FIXTURES, fixture } from '../helpers/fixtures.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

let srv: RunningServe;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

test.before(async () => {
  srv = await startServe({ config: { server: { publishingPoints: [{ name: 'vod', type: 'ondemand', path: path.dirname(await fixture(FIXTURES.audio20)) }] } } });
});
test.after.always(() => srv?.stop());

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, unknown> } }>>;
  components: { schemas: Record<string, { oneOf?: Array<{ properties: { type: { enum: string[] } } }> }> };
}

const concrete = (p: string) => p.replace('{name}', 'no-such-point').replace('{id}', '999999').replace('{file}', 'x.wmv');

test('every documented operation is served, and nothing else on those paths', async (t) => {
  const res = await fetch(srv.http('/api/v1/openapi.json'));
  t.is(res.status, 200);
  const doc = (await res.json()) as Doc;
  t.is(doc.openapi, '3.1.0');
  const ops = Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ path: p, method: m.toUpperCase(), op })));
  t.true(ops.length >= 15, `${ops.length} operations`);
  for (const { path: p, method, op } of ops) {
    const json = op.requestBody?.content['application/json'] !== undefined;
    const upload = op.requestBody?.content['application/octet-stream'] !== undefined;
    // read-only calls and calls on a point or player that does not exist change nothing
    const r = await fetch(srv.http(concrete(p)), {
      method,
      headers: json ? { 'Content-Type': 'application/json' } : upload ? { 'Content-Type': 'application/octet-stream' } : {},
      body: json ? '{}' : upload ? 'x' : undefined,
    });
    const body = (await r.json()) as { error?: { code: string; message: string } };
    t.not(r.status, 405, `${method} ${p} is served`);
    if (body.error) t.false(body.error.message.startsWith('no API operation'), `${method} ${p}: ${body.error.message}`);
  }
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (m.toLowerCase() in methods) continue;
      const r = await fetch(srv.http(concrete(p)), { method: m });
      t.is(r.status, 405, `${m} ${p} is not an operation`);
    }
  }
  const unknown = await fetch(srv.http('/api/v1/points/vod/somewhere'));
  t.is(unknown.status, 404);
});

test('the publishing point schema comes from the config schema', async (t) => {
  const doc = (await (await fetch(srv.http('/api/v1/openapi.json'))).json()) as Doc;
  const variants = doc.components.schemas.PublishingPoint!.oneOf!.map((v) => v.properties.type.enum[0]).sort();
  t.deepEqual(variants, ['broadcast', 'ondemand']);
  t.is(doc.paths['/api/v1/points']!.post!.operationId, 'point-add');
});
