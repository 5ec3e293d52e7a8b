/**
 * VISCA (Sony PTZ camera control over RS-232/RS-422) pure codec: builds command and inquiry packets, splits the
 * reply byte stream into messages and decodes ACK / completion / error / inquiry replies. No I/O.
 *
 * Packet shape: header byte, 1..14 message bytes, terminator 0xFF (at most 16 bytes).
 * Controller → camera header: 0x80 | cameraAddress (1..7). Camera → controller: 0x80 | (cameraAddress << 4).
 * Replies: ACK `z0 4y FF`, completion `z0 5y FF` (inquiries: `z0 50 <data…> FF`), error `z0 6y ee FF`.
 */
import { MssError } from '../../core/errors.js';

export const VISCA_MAX_PACKET = 16;
const TERMINATOR = 0xff;

export type PanTiltDirection = 'up' | 'down' | 'left' | 'right' | 'up-left' | 'up-right' | 'down-left' | 'down-right' | 'stop';

export type ViscaCommand =
  | { kind: 'power'; on: boolean }
  | { kind: 'zoom'; action: 'tele' | 'wide' | 'stop'; speed?: number }
  | { kind: 'zoom-direct'; position: number }
  | { kind: 'focus-mode'; mode: 'auto' | 'manual' }
  | { kind: 'focus'; action: 'far' | 'near' | 'stop' }
  | { kind: 'pan-tilt'; direction: PanTiltDirection; panSpeed?: number; tiltSpeed?: number }
  | { kind: 'home' }
  | { kind: 'preset'; action: 'recall' | 'set' | 'reset'; preset: number }
  | { kind: 'if-clear' };

export type ViscaInquiry = 'power' | 'zoom-position' | 'focus-mode';

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MssError('invalid-argument', `VISCA ${name} must be a whole number ${min}..${max}, got ${value}`);
  }
  return value;
}

function packet(address: number, body: number[]): Buffer {
  checkInt('camera address', address, 1, 7);
  return Buffer.from([0x80 | address, ...body, TERMINATOR]);
}

/** Four nibbles `0p 0q 0r 0s` of a 16-bit value, as VISCA writes positions. */
function nibbles16(v: number): number[] {
  return [(v >> 12) & 0xf, (v >> 8) & 0xf, (v >> 4) & 0xf, v & 0xf];
}

const PAN_TILT_CODES: Record<PanTiltDirection, [number, number]> = {
  up: [0x03, 0x01],
  down: [0x03, 0x02],
  left: [0x01, 0x03],
  right: [0x02, 0x03],
  'up-left': [0x01, 0x01],
  'up-right': [0x02, 0x01],
  'down-left': [0x01, 0x02],
  'down-right': [0x02, 0x02],
  stop: [0x03, 0x03],
};

export function buildCommand(address: number, cmd: ViscaCommand): Buffer {
  switch (cmd.kind) {
    case 'power':
      return packet(address, [0x01, 0x04, 0x00, cmd.on ? 0x02 : 0x03]);
    case 'zoom': {
      if (cmd.action === 'stop') return packet(address, [0x01, 0x04, 0x07, 0x00]);
      const base = cmd.action === 'tele' ? 0x20 : 0x30;
      // speed 0..7 selects the variable-speed form; absent: the standard-speed form (0x02 / 0x03)
      const code = cmd.speed === undefined ? (cmd.action === 'tele' ? 0x02 : 0x03) : base | checkInt('zoom speed', cmd.speed, 0, 7);
      return packet(address, [0x01, 0x04, 0x07, code]);
    }
    case 'zoom-direct':
      return packet(address, [0x01, 0x04, 0x47, ...nibbles16(checkInt('zoom position', cmd.position, 0, 0xffff))]);
    case 'focus-mode':
      return packet(address, [0x01, 0x04, 0x38, cmd.mode === 'auto' ? 0x02 : 0x03]);
    case 'focus':
      return packet(address, [0x01, 0x04, 0x08, cmd.action === 'stop' ? 0x00 : cmd.action === 'far' ? 0x02 : 0x03]);
    case 'pan-tilt': {
      const codes = PAN_TILT_CODES[cmd.direction];
      if (!codes) throw new MssError('invalid-argument', `VISCA pan/tilt direction ${JSON.stringify(cmd.direction)} is not one of ${Object.keys(PAN_TILT_CODES).join(', ')}`);
      const pan = checkInt('pan speed', cmd.panSpeed ?? 0x08, 1, 0x18);
      const tilt = checkInt('tilt speed', cmd.tiltSpeed ?? 0x08, 1, 0x14);
      return packet(address, [0x01, 0x06, 0x01, pan, tilt, codes[0], codes[1]]);
    }
    case 'home':
      return packet(address, [0x01, 0x06, 0x04]);
    case 'preset': {
      const p = checkInt('preset', cmd.preset, 0, 127);
      const action = cmd.action === 'reset' ? 0x00 : cmd.action === 'set' ? 0x01 : 0x02;
      return packet(address, [0x01, 0x04, 0x3f, action, p]);
    }
    case 'if-clear':
      return packet(address, [0x01, 0x00, 0x01]);
    default:
      throw new MssError('invalid-argument', `unknown VISCA command ${JSON.stringify((cmd as { kind?: unknown }).kind)}`);
  }
}

export function buildInquiry(address: number, inquiry: ViscaInquiry): Buffer {
  switch (inquiry) {
    case 'power':
      return packet(address, [0x09, 0x04, 0x00]);
    case 'zoom-position':
      return packet(address, [0x09, 0x04, 0x47]);
    case 'focus-mode':
      return packet(address, [0x09, 0x04, 0x38]);
    default:
      throw new MssError('invalid-argument', `unknown VISCA inquiry ${JSON.stringify(inquiry)}`);
  }
}

export type ViscaReply =
  | { type: 'ack'; from: number; socket: number }
  | { type: 'completion'; from: number; socket: number; data: Buffer }
  | { type: 'error'; from: number; socket: number; code: number; message: string }
  /** broadcast replies (address set `88 30 0w FF`, IF_Clear echo) that carry no request/response pairing */
  | { type: 'broadcast'; data: Buffer };

const ERROR_TEXT: Record<number, string> = {
  0x01: 'message length error',
  0x02: 'syntax error',
  0x03: 'command buffer full',
  0x04: 'command cancelled',
  0x05: 'no socket (to cancel)',
  0x41: 'command not executable',
};

/** Decodes one complete reply message (header … 0xFF). */
export function parseReply(msg: Buffer): ViscaReply {
  if (msg.length < 3) throw new MssError('malformed', `VISCA reply of ${msg.length} bytes is shorter than 3`, { object: 'ViscaReply', bytes: msg.toString('hex') });
  if (msg.length > VISCA_MAX_PACKET) throw new MssError('malformed', `VISCA reply of ${msg.length} bytes exceeds ${VISCA_MAX_PACKET}`, { object: 'ViscaReply' });
  if (msg[msg.length - 1] !== TERMINATOR) throw new MssError('malformed', `VISCA reply does not end with 0xFF`, { object: 'ViscaReply', bytes: msg.toString('hex') });
  const head = msg[0]!;
  if ((head & 0x80) === 0) throw new MssError('malformed', `VISCA reply header byte 0x${head.toString(16).padStart(2, '0')} lacks the 0x80 bit`, { object: 'ViscaReply', offset: 0, bytes: msg.toString('hex') });
  if (head === 0x88) return { type: 'broadcast', data: Buffer.from(msg.subarray(1, msg.length - 1)) };
  if ((head & 0x0f) !== 0) throw new MssError('malformed', `VISCA reply header 0x${head.toString(16)} is not addressed to the controller (low nibble must be 0)`, { object: 'ViscaReply', offset: 0 });
  const from = (head >> 4) & 0x07;
  const kind = msg[1]! & 0xf0;
  const socket = msg[1]! & 0x0f;
  if (kind === 0x40) {
    if (msg.length !== 3) throw new MssError('malformed', `VISCA ACK must be 3 bytes, got ${msg.length}`, { object: 'ViscaReply', bytes: msg.toString('hex') });
    return { type: 'ack', from, socket };
  }
  if (kind === 0x50) return { type: 'completion', from, socket, data: Buffer.from(msg.subarray(2, msg.length - 1)) };
  if (kind === 0x60) {
    if (msg.length !== 4) throw new MssError('malformed', `VISCA error reply must be 4 bytes, got ${msg.length}`, { object: 'ViscaReply', bytes: msg.toString('hex') });
    const code = msg[2]!;
    return { type: 'error', from, socket, code, message: ERROR_TEXT[code] ?? `error 0x${code.toString(16).padStart(2, '0')}` };
  }
  throw new MssError('malformed', `VISCA reply type byte 0x${msg[1]!.toString(16).padStart(2, '0')} is not an ACK (4y), completion (5y) or error (6y)`, { object: 'ViscaReply', offset: 1, bytes: msg.toString('hex') });
}

/**
 * Splits the serial byte stream into messages at 0xFF. Bounded: a message longer than 16 bytes, or one that does
 * not start with a header byte, is a protocol error (the splitter then drops what it holds and resynchronises).
 */
export class ViscaReplySplitter {
  private held: number[] = [];

  push(chunk: Buffer): Array<{ reply: ViscaReply } | { error: MssError }> {
    const out: Array<{ reply: ViscaReply } | { error: MssError }> = [];
    // consecutive stray bytes are reported once, as one error
    let garbage: number[] = [];
    const flushGarbage = () => {
      if (garbage.length === 0) return;
      out.push({ error: new MssError('malformed', `VISCA: ${garbage.length} stray byte(s) ${Buffer.from(garbage.slice(0, 16)).toString('hex')} where a reply was expected`, { object: 'ViscaReply' }) });
      garbage = [];
    };
    for (const b of chunk) {
      if (this.held.length === 0) {
        if ((b & 0x80) === 0 || b === TERMINATOR) garbage.push(b);
        else this.held.push(b);
        continue;
      }
      if (this.held.length === 1 && this.held[0] !== 0x88 && ![0x4, 0x5, 0x6].includes(b >> 4)) {
        // not an ACK/completion/error: the held byte was noise; a header-like byte may start the real reply
        garbage.push(this.held[0]!);
        this.held = [];
        if ((b & 0x80) !== 0 && b !== TERMINATOR) this.held.push(b);
        else garbage.push(b);
        continue;
      }
      this.held.push(b);
      if (b === TERMINATOR) {
        flushGarbage();
        const msg = Buffer.from(this.held);
        this.held = [];
        try {
          out.push({ reply: parseReply(msg) });
        } catch (err) {
          out.push({ error: err as MssError });
        }
      } else if (this.held.length >= VISCA_MAX_PACKET) {
        garbage.push(...this.held);
        this.held = [];
      }
    }
    flushGarbage();
    return out;
  }

  reset(): void {
    this.held = [];
  }
}

export function decodePowerInquiry(data: Buffer): 'on' | 'off' | 'fault' {
  if (data.length !== 1) throw new MssError('malformed', `VISCA power inquiry reply must carry 1 byte, got ${data.length}`, { object: 'ViscaReply' });
  if (data[0] === 0x02) return 'on';
  if (data[0] === 0x03) return 'off';
  if (data[0] === 0x04) return 'fault';
  throw new MssError('malformed', `VISCA power inquiry value 0x${data[0]!.toString(16)} is not 02, 03 or 04`, { object: 'ViscaReply' });
}

export function decodeZoomPosition(data: Buffer): number {
  if (data.length !== 4) throw new MssError('malformed', `VISCA zoom position reply must carry 4 bytes, got ${data.length}`, { object: 'ViscaReply' });
  let v = 0;
  for (const b of data) {
    if (b > 0x0f) throw new MssError('malformed', `VISCA zoom position byte 0x${b.toString(16)} is not a nibble (0x00-0x0F)`, { object: 'ViscaReply' });
    v = (v << 4) | b;
  }
  return v;
}

export function decodeFocusMode(data: Buffer): 'auto' | 'manual' {
  if (data.length !== 1 || (data[0] !== 0x02 && data[0] !== 0x03)) {
    throw new MssError('malformed', `VISCA focus mode reply must be 02 or 03, got ${data.toString('hex') || 'nothing'}`, { object: 'ViscaReply' });
  }
  return data[0] === 0x02 ? 'auto' : 'manual';
}

// camera-side helpers (used by the camera simulator in tests and by anyone building replies)

export function buildAck(address: number, socket = 1): Buffer {
  return Buffer.from([0x80 | (address << 4), 0x40 | socket, TERMINATOR]);
}

export function buildCompletion(address: number, socket = 1, data: number[] = []): Buffer {
  return Buffer.from([0x80 | (address << 4), 0x50 | socket, ...data, TERMINATOR]);
}

export function buildError(address: number, socket: number, code: number): Buffer {
  return Buffer.from([0x80 | (address << 4), 0x60 | socket, code, TERMINATOR]);
}
