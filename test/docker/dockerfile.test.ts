/**
 * Dockerfile.arm's structure (no Docker engine runs here): the stages and their platforms, pinned base images,
 * where TypeScript and the native modules are built, the runtime's user, groups, PID 1 and volume, and that every
 * file it copies exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from '../helpers/test.js';

interface Instruction { op: string; args: string }
interface Stage { from: string; name: string; platform: string; body: Instruction[] }

function parse(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [op, ...rest] = line.split(/\s+/);
    const argText = rest.join(' ');
    if (op === 'FROM') {
      const m = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argText)!;
      stages.push({ platform: m[1] ?? '', from: m[2]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? ''), name: m[3] ?? '', body: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const [k, v] = argText.split('=');
      args.set(k!, v ?? '');
    } else if (stages.length > 0) stages.at(-1)!.body.push({ op: op!, args: argText });
  }
  return { args, stages };
}

const root = path.resolve('.');
const { stages } = parse(readFileSync(path.join(root, 'Dockerfile.arm'), 'utf8'));
const stage = (name: string) => stages.find((s) => s.name === name)!;
const runs = (s: Stage) => s.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');

test('three stages: TypeScript on the build platform, native dependencies and runtime on the target', (t) => {
  t.deepEqual(stages.map((s) => s.name), ['build', 'deps', 'runtime']);
  t.is(stage('build').platform, '$BUILDPLATFORM');
  t.is(stage('deps').platform, '', 'deps run on the target platform');
  t.is(stage('runtime').platform, '');
  t.regex(runs(stage('build')), /tsc -p tsconfig\.build\.json/);
  t.notRegex(runs(stage('deps')) + runs(stage('runtime')), /\btsc\b/, 'TypeScript is compiled once');
  t.regex(runs(stage('deps')), /apt-get install .*python3 make g\+\+/);
  t.regex(runs(stage('deps')), /npm ci --omit=dev/);
  t.regex(runs(stage('deps')), /npm rebuild/, 'the dependencies\' native install scripts run on the target');
  t.regex(runs(stage('deps')), /node scripts\/install-native\.mjs/, 'so does the mss addon build');
});

test('base images are pinned to an exact version, never a floating tag', (t) => {
  for (const s of stages) t.regex(s.from, /^node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/, s.name);
});

test('the runtime: non-root user in video and dialout, tini as PID 1, /data volume, copies only from earlier stages', (t) => {
  const r = stage('runtime');
  t.regex(runs(r), /useradd .*--groups [a-z,]*video[a-z,]*/);
  t.regex(runs(r), /useradd .*--groups [a-z,]*dialout/);
  t.regex(runs(r), /apt-get install .*\btini\b.*|apt-get install .*ffmpeg tini/);
  t.is(r.body.filter((i) => i.op === 'USER').at(-1)?.args, 'mss');
  t.is(r.body.find((i) => i.op === 'ENTRYPOINT')?.args, '["/usr/bin/tini", "--", "/opt/mss/bin/mss.js"]');
  t.is(r.body.find((i) => i.op === 'VOLUME')?.args, '["/data"]');
  t.notRegex(runs(r), /g\+\+|python3/, 'no compilers in the runtime');
  const names = stages.map((s) => s.name);
  for (const c of r.body.filter((i) => i.op === 'COPY' && i.args.startsWith('--from='))) {
    const from = /^--from=(\S+)/.exec(c.args)![1]!;
    t.true(names.indexOf(from) >= 0 && names.indexOf(from) < names.indexOf('runtime'), c.args);
  }
});

test('every file the image copies from the repository exists', (t) => {
  for (const s of stages) {
    for (const c of s.body.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) t.true(existsSync(path.join(root, src)), `${s.name}: COPY ${src}`);
    }
  }
});
