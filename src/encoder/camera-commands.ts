/**
 * VISCA camera control as device-agent commands (camera-power, camera-zoom, camera-focus, camera-pan-tilt,
 * camera-preset, camera-inquiry). Arguments are validated here (MssError 'invalid-argument'); camera failures come
 * back as the command's error, never as a crash.
 */
import { MssError } from '../core/errors.js';
import type { ModuleCommand } from '../core/module.js';
import type { PanTiltDirection } from './visca/codec.js';
import type { ViscaCamera } from './visca/session.js';

function need(getCamera: () => ViscaCamera | null): ViscaCamera {
  const cam = getCamera();
  if (!cam) throw new MssError('unavailable', 'no camera: set encoder.camera.port (and check the serial line)');
  return cam;
}

function oneOf<T extends string>(args: Record<string, unknown>, key: string, values: readonly T[]): T {
  const v = args[key];
  if (typeof v !== 'string' || !values.includes(v as T)) throw new MssError('invalid-argument', `${key} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function int(args: Record<string, unknown>, key: string, min: number, max: number, optional = false): number | undefined {
  const v = args[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new MssError('invalid-argument', `${key} must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

const DIRECTIONS: readonly PanTiltDirection[] = ['up', 'down', 'left', 'right', 'up-left', 'up-right', 'down-left', 'down-right', 'stop'];

export function cameraCommands(getCamera: () => ViscaCamera | null): ModuleCommand[] {
  return [
    {
      name: 'camera-power',
      description: 'camera power: {on: true|false}',
      run: async (args) => {
        if (typeof args.on !== 'boolean') throw new MssError('invalid-argument', `on must be true or false, got ${JSON.stringify(args.on)}`);
        await need(getCamera).command({ kind: 'power', on: args.on });
        return { power: args.on ? 'on' : 'off' };
      },
    },
    {
      name: 'camera-zoom',
      description: 'zoom: {action: tele|wide|stop, speed?: 0..7} or {position: 0..65535}',
      run: async (args) => {
        const cam = need(getCamera);
        if (args.position !== undefined) {
          const position = int(args, 'position', 0, 0xffff)!;
          await cam.command({ kind: 'zoom-direct', position });
          return { position };
        }
        const action = oneOf(args, 'action', ['tele', 'wide', 'stop'] as const);
        await cam.command({ kind: 'zoom', action, speed: int(args, 'speed', 0, 7, true) });
        return { action };
      },
    },
    {
      name: 'camera-focus',
      description: 'focus: {mode: auto|manual} or {action: far|near|stop}',
      run: async (args) => {
        const cam = need(getCamera);
        if (args.mode !== undefined) {
          const mode = oneOf(args, 'mode', ['auto', 'manual'] as const);
          await cam.command({ kind: 'focus-mode', mode });
          return { mode };
        }
        const action = oneOf(args, 'action', ['far', 'near', 'stop'] as const);
        await cam.command({ kind: 'focus', action });
        return { action };
      },
    },
    {
      name: 'camera-pan-tilt',
      description: 'pan/tilt: {direction: up|down|left|right|up-left|…|stop, panSpeed?: 1..24, tiltSpeed?: 1..20} or {home: true}',
      run: async (args) => {
        const cam = need(getCamera);
        if (args.home === true) {
          await cam.command({ kind: 'home' });
          return { home: true };
        }
        const direction = oneOf(args, 'direction', DIRECTIONS);
        await cam.command({ kind: 'pan-tilt', direction, panSpeed: int(args, 'panSpeed', 1, 0x18, true), tiltSpeed: int(args, 'tiltSpeed', 1, 0x14, true) });
        return { direction };
      },
    },
    {
      name: 'camera-preset',
      description: 'presets: {action: recall|set|reset, preset: 0..127}',
      run: async (args) => {
        const action = oneOf(args, 'action', ['recall', 'set', 'reset'] as const);
        const preset = int(args, 'preset', 0, 127)!;
        await need(getCamera).command({ kind: 'preset', action, preset });
        return { action, preset };
      },
    },
    {
      name: 'camera-inquiry',
      description: 'ask the camera: {what: power|zoom-position|focus-mode}',
      run: async (args) => {
        const cam = need(getCamera);
        const what = oneOf(args, 'what', ['power', 'zoom-position', 'focus-mode'] as const);
        if (what === 'power') return { power: await cam.inquirePower() };
        if (what === 'zoom-position') return { zoomPosition: await cam.inquireZoomPosition() };
        return { focusMode: await cam.inquireFocusMode() };
      },
    },
  ];
}
