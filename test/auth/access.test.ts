import test from '../helpers/test.js';
import { MssError } from '../../src/core/errors.js';
import { createAccessList, parseAddress, validateAccessEntries } from '../../src/auth/access.js';

test('empty lists allow everyone', (t) => {
  const acl = createAccessList({ allow: [], deny: [] });
  t.true(acl.allows('1.2.3.4'));
  t.true(acl.allows('::1'));
});

test('allow list admits only matching IPv4 and IPv6 blocks', (t) => {
  const acl = createAccessList({ allow: ['192.168.1.0/24', '10.0.0.7', '2001:db8::/32', '::1'], deny: [] });
  t.true(acl.allows('192.168.1.200'));
  t.false(acl.allows('192.168.2.1'));
  t.true(acl.allows('10.0.0.7'));
  t.false(acl.allows('10.0.0.8'));
  t.true(acl.allows('2001:db8:1234::5'));
  t.true(acl.allows('2001:0DB8:0000:0000:0000:0000:0000:0001'));
  t.false(acl.allows('2001:db9::1'));
  t.true(acl.allows('::1'));
  t.false(acl.allows('::2'));
});

test('IPv4-mapped IPv6 addresses match IPv4 entries and the other way round', (t) => {
  const acl = createAccessList({ allow: ['127.0.0.0/8', '::ffff:172.16.0.0/108'], deny: [] });
  t.true(acl.allows('::ffff:127.0.0.1'));
  t.true(acl.allows('::FFFF:7f00:1'));
  t.true(acl.allows('127.1.2.3'));
  t.true(acl.allows('172.16.5.5'));
  t.false(acl.allows('172.32.0.1'));
  t.false(acl.allows('::127.0.0.1'), 'IPv4-compatible (not mapped) is a different address');
});

test('deny wins over allow', (t) => {
  const acl = createAccessList({ allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16', '::ffff:10.2.3.4'] });
  t.true(acl.allows('10.9.9.9'));
  t.false(acl.allows('10.1.2.3'));
  t.false(acl.allows('10.2.3.4'));
  t.false(acl.allows('::ffff:10.1.0.1'));
  const denyOnly = createAccessList({ allow: [], deny: ['0.0.0.0/0'] });
  t.false(denyOnly.allows('8.8.8.8'));
  t.true(denyOnly.allows('::1'), '0.0.0.0/0 covers IPv4 only');
  t.false(createAccessList({ allow: [], deny: ['::/0'] }).allows('1.2.3.4'), '::/0 covers everything');
});

test('zones, brackets and garbage addresses', (t) => {
  const acl = createAccessList({ allow: ['fe80::/10'], deny: [] });
  t.true(acl.allows('fe80::1%eth0'));
  t.true(acl.allows('[fe80::1]'));
  t.false(acl.allows('not an address'));
  t.false(acl.allows(''));
  t.false(acl.allows('1.2.3.4.5'));
  t.false(acl.allows('x'.repeat(10000)));
  t.is(parseAddress('1.2.3'), undefined);
  t.deepEqual(parseAddress('::ffff:1.2.3.4'), parseAddress('1.2.3.4'));
  t.deepEqual(parseAddress('1:2:3:4:5:6:7:8'), [0x00010002, 0x00030004, 0x00050006, 0x00070008]);
  t.deepEqual(parseAddress('1::8'), [0x00010000, 0, 0, 8]);
  t.deepEqual(parseAddress('::'), [0, 0, 0, 0]);
});

test('invalid entries are refused at creation, naming the entry', (t) => {
  const err = t.throws(() => createAccessList({ allow: ['10.0.0.0/8', '300.1.1.1'], deny: ['10.0.0.1/8'] }));
  t.true(err instanceof MssError);
  t.is((err as MssError).code, 'invalid-config');
  t.regex(err!.message, /allow\[1\]: "300.1.1.1" is not an IPv4 or IPv6 address/);
  t.regex(err!.message, /deny\[0\]: "10.0.0.1\/8" has host bits set/);
});

test('validateAccessEntries names each bad entry by its path', (t) => {
  const issues = validateAccessEntries(['1.2.3.4', '1.2.3.4/33', 'fe80::1%eth0', '', 'host.example', '::/129', '10.0.0.0/x', 5], 'server.publishingPoints[0].access.allow');
  t.deepEqual(
    issues.map((i) => i.path),
    [1, 2, 3, 4, 5, 6, 7].map((i) => `server.publishingPoints[0].access.allow[${i}]`),
  );
  t.regex(issues[0]!.message, /prefix length "33" must be a whole number 0..32/);
  t.regex(issues[1]!.message, /zone/);
  t.regex(issues[2]!.message, /empty/);
  t.regex(issues[6]!.message, /must be a string/);
  t.deepEqual(validateAccessEntries(['0.0.0.0/0', '::/0', '::ffff:0:0/96', '2001:db8::/32'], 'x'), []);
});
