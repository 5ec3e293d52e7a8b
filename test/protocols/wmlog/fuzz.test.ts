/**
 * Seeded fuzzing of the WMLOG codec: mutated W3C lines, XML documents and web-server bodies must each give a
 * PlayerLog or an MssError, never another exception, and a parsed log must rebuild into a parseable document.
 */
import test from '../../helpers/test.js';
import { isMssError } from '../../../src/core/errors.js';
import { FIELDS_52, buildXmlLog, coveringForm, buildWebServerLog, formatW3cLine, parsePlayerLog, type WmlogRecord } from '../../../src/protocols/wmlog/codec.js';
import { seededRandom as mulberry32 } from '../../helpers/prng.js';

const SEED = 0x5eed_1065;
const ITERATIONS = 120_000;

const BASE: WmlogRecord = {
  'c-ip': '0.0.0.0', date: '2024-03-01', time: '10:20:30', 'cs-uri-stem': 'mmsh://192.0.2.7/vod/a.wmv', 'c-starttime': '0',
  'x-duration': '20', 'c-rate': '1', 'c-status': '200', 'c-playerid': '{3300AD50-2C39-46c0-AE0A-0123456789AB}',
  'c-playerversion': '0.1.0.0', 'cs-User-Agent': 'mss-play/0.1', protocol: 'http', transport: 'TCP', 'c-bytes': '123456',
  'c-pkts-received': '300', 'c-quality': '100', 'cs-url': 'mmsh://192.0.2.7/vod/a.wmv',
};

const PIECES = ['<', '>', '</', '&', '&amp;', '&#x41;', '&#99999999;', ' ', '\t', '\r\n', '-', '0', '9999999999999999999999', '<XML>', '</XML>',
  '<Summary>', '</Summary>', '<c-bytes>', '</c-bytes>', '<Vendor>', '</Vendor>', '<ContentDescription>', '\u0000', '\u00e9', '\uFFFD', 'MX_STATS_LogLine:'];

function mutate(text: string, rnd: () => number): string {
  let s = text;
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 5)) {
      case 0: // delete a span
        s = s.slice(0, at) + s.slice(at + Math.floor(rnd() * 40));
        break;
      case 1: // insert a piece
        s = s.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + s.slice(at);
        break;
      case 2: // flip a character
        s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + s.slice(at + 1);
        break;
      case 3: // duplicate a span
        s = s.slice(0, at) + s.slice(at, at + Math.floor(rnd() * 200)) + s.slice(at);
        break;
      default: // truncate
        s = s.slice(0, at);
    }
  }
  return s;
}

test(`WMLOG codec survives ${ITERATIONS} seeded mutations (seed ${SEED.toString(16)})`, (t) => {
  const rnd = mulberry32(SEED);
  const seeds = [
    { contentType: 'application/x-wms-LogStats', text: buildXmlLog(BASE, { form: 47, contentDescription: [['title', 'x']] }) },
    { contentType: 'application/x-wms-LogStats', text: buildXmlLog(BASE, { form: 52 }).replace('</XML>', '<V><a>1</a></V></XML>') },
    { contentType: 'text/plain', text: buildWebServerLog(BASE, 44) },
    { contentType: '', text: formatW3cLine(BASE, 52) },
  ];
  const outcomes = { ok: 0, rejected: 0 };
  const codes = new Map<string, number>();
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = seeds[i % seeds.length]!;
    const useLogLine = i % 17 === 0;
    const text = mutate(seed.text, rnd);
    const body = rnd() < 0.05 ? Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256))) : Buffer.from(text);
    try {
      const log = useLogLine
        ? parsePlayerLog({ body: Buffer.alloc(0), logLine: text, maxBytes: 65536 })
        : parsePlayerLog({ contentType: seed.contentType, body, maxBytes: 65536 });
      outcomes.ok++;
      // whatever parsed must rebuild into a document that parses to the same fields
      for (const f of FIELDS_52) {
        const v = log.record[f];
        if (v !== undefined && (v === '' || /\s/.test(v))) t.fail(`iteration ${i}: field ${f} holds a non-token ${JSON.stringify(v)}`);
      }
      if (log.form) {
        const again = parsePlayerLog({ contentType: 'application/x-wms-LogStats', body: Buffer.from(buildXmlLog(log.record, { form: coveringForm(log.record, log.form) })), maxBytes: 1 << 20 });
        for (const f of FIELDS_52) if (log.record[f] !== undefined && log.record[f] !== '-' && again.record[f] !== log.record[f]) t.fail(`iteration ${i}: ${f} changed on rebuild`);
      }
    } catch (err) {
      if (!isMssError(err)) {
        t.fail(`iteration ${i}: non-MssError ${(err as Error).stack} for input ${JSON.stringify(text.slice(0, 200))}`);
        return;
      }
      outcomes.rejected++;
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
    }
  }
  t.log(`accepted ${outcomes.ok}, rejected ${outcomes.rejected}`, Object.fromEntries(codes));
  t.true(outcomes.ok > 1000, 'mutations should not all be rejected');
  t.true(outcomes.rejected > 1000, 'mutations should not all be accepted');
});
