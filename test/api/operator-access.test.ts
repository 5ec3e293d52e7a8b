import test from 'ava';
import type { AppContext } from '../../src/app/context.js';
import { checkOperator } from '../../src/api/operator-access.js';
import { validateConfig } from '../../src/config/index.js';

const ctxWith = (api: Record<string, unknown>) => ({ config: validateConfig({ api }) }) as unknown as AppContext;
const req = (authorization?: string) => ({ method: 'GET', url: '/api/v1/points', headers: authorization ? { authorization } : {} });

test('other hosts than loopback are refused (403) unless api.allowRemote, whatever their credentials', (t) => {
  const closed = ctxWith({});
  t.is(checkOperator(closed, req(), '127.0.0.1'), null);
  t.is(checkOperator(closed, req(), '::1'), null);
  t.is(checkOperator(closed, req(), '10.1.2.3')?.error.code, 'forbidden');
  t.is(checkOperator(closed, req(`Basic ${Buffer.from('a:b').toString('base64')}`), '192.168.1.5')?.error.code, 'forbidden');
  const open = ctxWith({ allowRemote: true, auth: { scheme: 'basic', users: [{ name: 'ops', password: 'pw' }] } });
  t.is(checkOperator(open, req(), '10.1.2.3')?.error.code, 'unauthorized');
  t.is(checkOperator(open, req(`Basic ${Buffer.from('ops:pw').toString('base64')}`), '10.1.2.3'), null);
});

test('a change of the api section takes effect at the next request', (t) => {
  const ctx = ctxWith({});
  t.is(checkOperator(ctx, req(), '127.0.0.1'), null);
  ctx.config = validateConfig({ api: { auth: { scheme: 'bearer', tokens: ['abcdefghijklmnop'] } } });
  t.is(checkOperator(ctx, req(), '127.0.0.1')?.error.code, 'unauthorized');
  t.is(checkOperator(ctx, req('Bearer abcdefghijklmnop'), '127.0.0.1'), null);
});
