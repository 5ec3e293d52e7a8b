import test from '../../helpers/test.js';
import { MssError } from '../../../src/core/errors.js';
import {
  FIELDS_44,
  FIELDS_52,
  buildWebServerLog,
  buildXmlLog,
  formatW3cLine,
  parsePlayerLog,
  parseW3cLine,
  parseWebServerLog,
  parseXmlLog,
  type WmlogRecord,
} from '../../../src/protocols/wmlog/codec.js';

/** a legacy log as a WMP 9-era player would write it (our own values, shaped like MS-WMLOG 3.1) */
const LEGACY_44 = [
  '0.0.0.0', '2024-03-01', '10:20:30', '-', 'http://192.0.2.7/live', '0', '42', '1', '200',
  '{3300AD50-2C39-46c0-AE0A-0123456789AB}', '9.0.0.3008', 'en-US', 'NSPlayer/9.0.0.3008_WMFSDK/9.0', '-',
  'wmplayer.exe', '9.0.0.3008', 'Windows_XP', '5.1.0.2600', 'Pentium', '120', '4500000', '300000', 'http', 'TCP',
  'Windows_Media_Audio_9', 'Windows_Media_Video_9', '-', '-', '1575000', '-', '1100', '0', '0', '0', '0', '0', '0',
  '1', '2', '100', '-', '-', '-', '-',
];

const STREAMING_47 = [...LEGACY_44.slice(0, 24), '-', '-', ...LEGACY_44.slice(26), 'mmsh://192.0.2.7/live', '-', '-'];

function recordOf(tokens: string[], names: readonly string[]): WmlogRecord {
  return Object.fromEntries(names.map((n, i) => [n, tokens[i]])) as WmlogRecord;
}

test('parses a 44-field legacy line into named fields', (t) => {
  const { form, record } = parseW3cLine(LEGACY_44.join(' '));
  t.is(form, 44);
  t.is(record['cs-uri-stem'], 'http://192.0.2.7/live');
  t.is(record['x-duration'], '42');
  t.is(record['c-bytes'], '1575000');
  t.is(record['s-cpu-util'], '-');
  t.is(record['cs-url'], undefined);
});

test('tolerates wrapped lines (any whitespace separates fields)', (t) => {
  const wrapped = LEGACY_44.slice(0, 10).join(' ') + '\r\n  ' + LEGACY_44.slice(10).join('\t');
  t.is(parseW3cLine(wrapped).record['c-playerid'], LEGACY_44[9]);
});

test('47 and 52 forms put cs-url at their own positions', (t) => {
  const l47 = parseW3cLine(STREAMING_47.join(' '));
  t.is(l47.form, 47);
  t.is(l47.record['cs-url'], 'mmsh://192.0.2.7/live');
  const tail52 = ['-', '-', '-', 'http://x/y', 'clip1', '-', 'ADVERTISEMENT', '0'];
  const l52 = parseW3cLine([...LEGACY_44, ...tail52].join(' '));
  t.is(l52.form, 52);
  t.is(l52.record['cs-url'], 'http://x/y');
  t.is(l52.record['cs-media-role'], 'ADVERTISEMENT');
  t.is(l52.record['s-proxied'], '0');
});

test('rejects a wrong field count, a non-numeric counter and a bad date with precise messages', (t) => {
  const e1 = t.throws(() => parseW3cLine(LEGACY_44.slice(0, 40).join(' ')), { instanceOf: MssError });
  t.is(e1.code, 'malformed');
  t.regex(e1.message, /40 fields, expected 44, 47 or 52/);
  const bad = [...LEGACY_44];
  bad[28] = 'lots';
  const e2 = t.throws(() => parseW3cLine(bad.join(' ')), { instanceOf: MssError });
  t.regex(e2.message, /field 29 \(c-bytes\) must be a whole number/);
  const badDate = [...LEGACY_44];
  badDate[1] = '01/03/2024';
  t.regex(t.throws(() => parseW3cLine(badDate.join(' ')))!.message, /field 2 \(date\)/);
});

test('formatW3cLine makes tokens: spaces become _, empty becomes -, controls dropped', (t) => {
  const line = formatW3cLine({ 'c-ip': '10.0.0.1', 'cs-User-Agent': 'mss play/0.1 (linux)', audiocodec: '', 'c-os': 'Li\u0007nux' }, 44);
  const tokens = line.split(' ');
  t.is(tokens.length, 44);
  t.is(tokens[0], '10.0.0.1');
  t.is(tokens[12], 'mss_play/0.1_(linux)');
  t.is(tokens[24], '-');
  t.is(tokens[16], 'Linux');
  t.deepEqual(parseW3cLine(line).record['cs-User-Agent'], 'mss_play/0.1_(linux)');
});

test('XML log: per-field tags win over the Summary, typos in closing tags are tolerated', (t) => {
  const record = recordOf(STREAMING_47, [...FIELDS_44, 'cs-url', 'cs-media-name', 'cs-media-role']);
  let xml = buildXmlLog(record, { form: 47, contentDescription: [['title', 'Morning news & weather']] });
  xml = xml.replace('<c-bytes>1575000</c-bytes>', '<c-bytes>1575001</c-bytes>');
  xml = xml.replace('</c-playerid>', '<c-playerid>');
  xml = xml.replace('</XML>', '<AcmeTag><box>stb-42</box><fw>1.2</fw></AcmeTag>\r\n</XML>');
  const parsed = parseXmlLog(xml);
  t.is(parsed.summaryForm, 47);
  t.is(parsed.record['c-bytes'], '1575001');
  t.is(parsed.record['c-playerid'], STREAMING_47[9]);
  t.deepEqual(parsed.contentDescription, [['title', 'Morning news & weather']]);
  t.deepEqual(parsed.vendor, [{ tag: 'AcmeTag', values: [['box', 'stb-42'], ['fw', '1.2']] }]);
});

test('XML log round trip keeps every field', (t) => {
  const tail52 = ['-', '-', '-', 'http://x/y', 'clip1', '-', 'ADVERTISEMENT', '0'];
  const record = recordOf([...LEGACY_44, ...tail52], FIELDS_52);
  const parsed = parseXmlLog(buildXmlLog(record, { form: 52 }));
  t.deepEqual(parsed.record, record);
});

test('connect-time XML (empty Summary) parses and classifies', (t) => {
  const xml = buildXmlLog({ 'c-ip': '0.0.0.0', 'c-os': 'Linux', date: '2024-03-01', time: '10:00:00', transport: 'TCP' }, { form: 'connect-time' });
  const log = parsePlayerLog({ contentType: 'application/x-wms-Logconnectstats', body: Buffer.from(xml), maxBytes: 65536 });
  t.is(log.kind, 'connect-time');
  t.is(log.record['c-os'], 'Linux');
});

test('XML log rejects non-XML, unclosed blocks, bare ampersands and control characters', (t) => {
  t.regex(t.throws(() => parseXmlLog('<html></html>'))!.message, /must start with <XML>/);
  t.regex(t.throws(() => parseXmlLog('<XML><Vendor><a>1</a></XML>'))!.message, /<Vendor> at character \d+ is not closed/);
  t.regex(t.throws(() => parseXmlLog('<XML><c-os>A & B</c-os></XML>'))!.message, /bare "&"/);
  t.regex(t.throws(() => parseXmlLog('<XML><c-os>A\u0001B</c-os></XML>'))!.message, /control characters/);
  t.regex(t.throws(() => parseXmlLog('<XML><foo>1</foo></XML>'))!.message, /neither a <Summary> line nor any log field/);
});

test('web-server body: MX_STATS_LogLine prefix with its separator', (t) => {
  const record = recordOf(LEGACY_44, FIELDS_44);
  const body = buildWebServerLog(record, 44);
  t.true(body.startsWith('MX_STATS_LogLine: \t0.0.0.0 '));
  t.deepEqual(parseWebServerLog(body).record, record);
  // the spec's example shows one stray character between the prefix and the first field
  t.is(parseWebServerLog('MX_STATS_LogLine: .' + LEGACY_44.join(' ')).record['c-ip'], '0.0.0.0');
});

test('parsePlayerLog picks the encoding from Pragma, content type and body', (t) => {
  const line = LEGACY_44.join(' ');
  t.is(parsePlayerLog({ body: Buffer.alloc(0), logLine: line, maxBytes: 65536 }).encoding, 'w3c');
  const xmlLog = parsePlayerLog({ contentType: 'application/x-wms-LogStats;charset=UTF-8', body: Buffer.from(buildXmlLog(recordOf(STREAMING_47, [...FIELDS_44, 'cs-url', 'cs-media-name', 'cs-media-role']), { form: 47 })), maxBytes: 65536 });
  t.is(xmlLog.encoding, 'xml');
  t.is(xmlLog.kind, 'streaming');
  const web = parsePlayerLog({ contentType: 'text/plain;charset=UTF-8', body: Buffer.from('MX_STATS_LogLine: \t' + line), maxBytes: 65536 });
  t.is(web.encoding, 'web');
  t.is(web.kind, 'legacy');
});

test('parsePlayerLog: oversized, empty, invalid UTF-8 and foreign content types are errors', (t) => {
  t.is(t.throws(() => parsePlayerLog({ body: Buffer.alloc(2000, 0x41), maxBytes: 1024 }), { instanceOf: MssError })!.code, 'too-large');
  t.is(t.throws(() => parsePlayerLog({ body: Buffer.alloc(0), maxBytes: 1024 }), { instanceOf: MssError })!.code, 'malformed');
  t.regex(t.throws(() => parsePlayerLog({ body: Buffer.from([0xc3, 0x28]), maxBytes: 1024 }))!.message, /not valid UTF-8/);
  t.regex(t.throws(() => parsePlayerLog({ contentType: 'image/png', body: Buffer.from('x'), maxBytes: 1024 }))!.message, /not a log format/);
});

test('a SendEvent remote-log body: the XML log inside the event CDL is read', (t) => {
  const tail52 = ['-', '-', '-', 'http://x/y', 'clip1', '-', '-', '0'];
  const xml = buildXmlLog(recordOf([...LEGACY_44, ...tail52], FIELDS_52), { form: 52 });
  const body = `1\r\n1,30,0\r\n@WMS_COMMAND_CONTEXT_URL=http://x/y\r\n@.REMOTE_LOG=${xml}\r\n`;
  const log = parsePlayerLog({ contentType: 'application/x-wms-sendevent', body: Buffer.from(body), maxBytes: 65536 });
  t.is(log.kind, 'rendering');
  t.is(log.record['cs-media-name'], 'clip1');
  t.regex(t.throws(() => parsePlayerLog({ contentType: 'application/x-wms-sendevent', body: Buffer.from('1\r\n1,28,0\r\n'), maxBytes: 65536 }))!.message, /no <XML>/);
});
