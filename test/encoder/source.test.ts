import test from '../helpers/test.js';
import { MssError } from '../../src/core/errors.js';
import { buildFfmpegArgs } from '../../src/encoder/ffmpeg-command.js';
import { chooseEncoders, getProfile, PROFILES, profileBitrate } from '../../src/encoder/profiles.js';
import { parseSource } from '../../src/encoder/source.js';
import { boardById, BOARD_PROFILES, detectBoard, usableHardwareH264 } from '../../board/detect.js';

test('sources parse into typed values', (t) => {
  t.deepEqual(parseSource('testsrc'), { kind: 'testsrc', width: 320, height: 240, fps: 25 });
  t.deepEqual(parseSource('testsrc?size=640x360&fps=30'), { kind: 'testsrc', width: 640, height: 360, fps: 30 });
  t.deepEqual(parseSource('file:/media/a.wmv'), { kind: 'file', path: '/media/a.wmv', passthrough: false, loop: true });
  t.deepEqual(parseSource('file:/media/a.wmv?copy&loop=0'), { kind: 'file', path: '/media/a.wmv', passthrough: true, loop: false });
  t.deepEqual(parseSource('v4l2:/dev/video2?size=1280x720&fps=30&format=mjpeg+alsa:hw:1,0?rate=48000'), {
    kind: 'v4l2',
    device: '/dev/video2',
    video: { width: 1280, height: 720, fps: 30, format: 'mjpeg' },
    audio: { device: 'hw:1,0', sampleRate: 48000, channels: undefined },
  });
  t.deepEqual(parseSource('alsa:hw:0,0'), { kind: 'alsa', device: 'hw:0,0', sampleRate: undefined, channels: undefined });
});

test('bad sources are refused with a message naming the problem', (t) => {
  for (const [spec, re] of [
    ['rtsp://x', /unknown source/],
    ['v4l2:/etc/passwd', /not a \/dev path/],
    ['v4l2:/dev/../etc', /not a \/dev path/],
    ['testsrc?size=641x480', /even numbers/],
    ['testsrc?fps=0', /fps must be/],
    ['alsa:hw:1,0;rm', /ALSA device/],
    ['v4l2:/dev/video0+v4l2:/dev/video1', /must be alsa/],
    ['', /1\.\.1024/],
  ] as const) {
    const err = t.throws(() => parseSource(spec));
    t.is((err as MssError).code, 'invalid-argument');
    t.regex(err!.message, re);
  }
});

test('profiles choose the board hardware encoder, then libx264, and refuse what is missing', (t) => {
  const h264 = getProfile('h264-1m');
  t.is(chooseEncoders(h264, new Set(['libx264', 'aac']), 'h264_v4l2m2m').video.h264, 'h264_v4l2m2m');
  t.is(chooseEncoders(h264, new Set(['libx264', 'aac'])).video.h264, 'libx264');
  t.throws(() => chooseEncoders(h264, new Set(['aac'])), { message: /no H.264 encoder/ });
  t.throws(() => chooseEncoders(getProfile('wmv2-500k'), new Set(['wmav2'])), { message: /no wmv2/ });
  t.throws(() => getProfile('nope'), { message: /known: / });
  t.is(profileBitrate(getProfile('wmv2-300k')), 364_000);
  t.is(PROFILES['mbr-wmv2']!.video.length, 3);
});

test('rpi4 uses h264_v4l2m2m only when ffmpeg and the device node have it', (t) => {
  const rpi = boardById('rpi4')!;
  t.is(usableHardwareH264(rpi, new Set(['libx264'])), undefined);
  t.is(usableHardwareH264({ ...rpi, h264HardwareDevice: undefined }, new Set(['h264_v4l2m2m'])), 'h264_v4l2m2m');
  t.is(usableHardwareH264({ ...rpi, h264HardwareDevice: '/dev/definitely-missing' }, new Set(['h264_v4l2m2m'])), undefined);
  t.is(detectBoard({ MSS_BOARD: 'generic-armv7' }).id, 'generic-armv7');
  t.is(detectBoard({}, 'arm').id, 'generic-armv7');
  t.true(BOARD_PROFILES.every((b) => b.maxEncodeBitrate > 0 && b.serialPorts.length > 0));
});

test('ffmpeg arguments: multi-bitrate renditions, live devices, asf_stream to stdout', (t) => {
  const mbr = getProfile('mbr-h264');
  const args = buildFfmpegArgs({ source: parseSource('testsrc'), profile: mbr, encoders: chooseEncoders(mbr, new Set(['libx264', 'aac'])) });
  const fc = args[args.indexOf('-filter_complex') + 1]!;
  t.regex(fc, /split=3/);
  t.deepEqual(args.filter((a, i) => args[i - 1] === '-map'), ['[v0]', '[v1]', '[v2]', '1:a:0']);
  t.is(args[args.indexOf('-b:v:1') + 1], '800000');
  t.regex(args.join(' '), /testsrc=size=320x240/, 'no font: the frame-counter pattern');
  t.deepEqual(args.slice(-7), ['-flush_packets', '1', '-f', 'asf_stream', '-packet_size', '3200', 'pipe:1']);
  const cam = buildFfmpegArgs({ source: parseSource('v4l2:/dev/video0?size=640x480&fps=25+alsa:hw:1,0'), profile: getProfile('wmv2-500k'), encoders: chooseEncoders(getProfile('wmv2-500k'), new Set(['wmv2', 'wmav2'])) });
  t.regex(cam.join(' '), /-f v4l2 .*-framerate 25 -video_size 640x480 -i \/dev\/video0 -f alsa .*-i hw:1,0/);
  t.false(cam.includes('-re'));
  const copy = buildFfmpegArgs({ source: parseSource('file:/x.wmv?copy'), profile: getProfile('wmv2-300k'), encoders: chooseEncoders(getProfile('wmv2-300k'), new Set(['wmv2', 'wmav2'])) });
  t.regex(copy.join(' '), /-stream_loop -1 -i \/x\.wmv -map 0 -c copy/);
});
