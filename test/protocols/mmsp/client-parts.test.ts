/** The MMS client's socket-free parts: the header put back together from pieces, the StreamSwitch entries. */
import test from '../../helpers/test.js';
import { openAsfFile } from '../../../src/asf/index.js';
import { frameHeaderPackets, parseMmsDataPacket } from '../../../src/protocols/mmsp/codec.js';
import { HeaderAssembler, chooseStreams, streamSwitchEntries } from '../../../src/protocols/mmsp/client-parts.js';
import { FIXTURES, fixture } from '../../helpers/fixtures.js';

test('header pieces arriving out of order and twice (UDP) make the header once the last and every earlier one are in', (t) => {
  const header = Buffer.from(Array.from({ length: 9000 }, (_, i) => i & 0xff));
  const pieces = frameHeaderPackets(header, 2, 2000).map(parseMmsDataPacket);
  const a = new HeaderAssembler(header.length);
  const order = [4, 1, 1, 0, 3];
  for (const i of order) t.false(a.add(pieces[i]!), `piece ${i} alone does not finish it`);
  t.true(a.add(pieces[2]!));
  t.deepEqual(a.bytes(), header);
  t.throws(() => new HeaderAssembler(0).add({ ...pieces[0]!, locationId: 5000 }), { message: /more than 1024 pieces/ });
});

test('stream choice: named streams must exist; StreamSwitch lists every stream, off ones as source → none', async (t) => {
  const file = await openAsfFile(await fixture(FIXTURES.av20));
  t.teardown(() => file.close());
  const h = file.layout.header;
  const url = new URL('mmst://h/vod/a.wmv');
  t.deepEqual(chooseStreams(h, undefined, undefined, url), [1, 2]);
  t.deepEqual(chooseStreams(h, [2], undefined, url), [2]);
  t.throws(() => chooseStreams(h, [9], undefined, url), { message: /stream 9 not in \/vod\/a.wmv/ });
  t.deepEqual(streamSwitchEntries(h, [2]), [{ source: 1, destination: 0xffff, thinning: 0 }, { source: 0xffff, destination: 2, thinning: 0 }]);
});
