import test from '../helpers/test.js';
import { numberOption, parseArgs } from '../../src/cli/args.js';

const spec = { port: { value: true, alias: 'p' }, json: { value: false }, header: { value: true, repeat: true } };

test('options, aliases, inline values, repeats and positionals', (t) => {
  const { options, positionals } = parseArgs(['file.wmv', '-p', '80', '--json', '--header=a', '--header', 'b', '--', '--raw'], spec);
  t.deepEqual(options, { port: '80', json: true, header: ['a', 'b'] });
  t.deepEqual(positionals, ['file.wmv', '--raw']);
});

test('unknown options and missing values are errors, not guesses', (t) => {
  t.throws(() => parseArgs(['--prot', '1'], spec), { message: /unknown option --prot/ });
  t.throws(() => parseArgs(['--port'], spec), { message: /needs a value/ });
  t.throws(() => parseArgs(['--json=1'], spec), { message: /takes no value/ });
  t.throws(() => numberOption('12x', 'port', 0, 65535), { message: /--port must be a number/ });
  t.is(numberOption('8080', 'port', 0, 65535), 8080);
});
