/**
 * The firmware-update job document and its signature. The operator signs, with Ed25519, a canonical text of what
 * must not be changed in transit (version, sha256, size, target boards); the device verifies it against the public
 * key in its image before it downloads anything, and checks the downloaded bytes against the signed sha256.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MssError } from '../core/errors.js';

export interface UpdateParams {
  version: string;
  url: string;
  sha256: string;
  size: number;
  /** board profile ids the bundle is built for */
  boards: string[];
  /** base64 Ed25519 signature of signedText() */
  signature: string;
  /** install even when it is not newer than the running version */
  force: boolean;
}

const VERSION = /^(\d{1,6})\.(\d{1,6})\.(\d{1,6})(-[0-9A-Za-z.-]{1,64})?$/;
const bad = (message: string) => new MssError('invalid-argument', message);

export function validateUpdateDoc(doc: Record<string, unknown>, maxBundleBytes: number): UpdateParams {
  if (typeof doc.version !== 'string' || !VERSION.test(doc.version)) throw bad('version must be a semantic version such as 1.4.2');
  if (typeof doc.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(doc.url) || doc.url.length > 2048) throw bad('url must be an http:// or https:// URL');
  if (typeof doc.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(doc.sha256)) throw bad('sha256 must be 64 lower-case hex digits');
  if (typeof doc.size !== 'number' || !Number.isInteger(doc.size) || doc.size < 1) throw bad('size must be the bundle size in bytes');
  if (doc.size > maxBundleBytes) throw bad(`size ${doc.size} is above update.maxBundleBytes (${maxBundleBytes})`);
  if (!Array.isArray(doc.boards) || doc.boards.length === 0 || doc.boards.length > 32 || !doc.boards.every((b) => typeof b === 'string' && /^[a-z0-9][a-z0-9_-]{0,31}$/.test(b))) {
    throw bad('boards must list the board profile ids the bundle is for');
  }
  if (doc.signature === undefined || doc.signature === '') throw bad('the bundle is not signed (no signature): refused');
  if (typeof doc.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(doc.signature)) throw bad('signature must be a base64 Ed25519 signature (64 bytes)');
  if (doc.force !== undefined && typeof doc.force !== 'boolean') throw bad('force must be true or false');
  if (doc.maxAttempts !== undefined && (typeof doc.maxAttempts !== 'number' || !Number.isInteger(doc.maxAttempts) || doc.maxAttempts < 1 || doc.maxAttempts > 100)) throw bad('maxAttempts must be a whole number from 1 to 100');
  return { version: doc.version, url: doc.url, sha256: doc.sha256, size: doc.size, boards: doc.boards as string[], signature: doc.signature, force: doc.force === true };
}

/** The exact bytes that are signed. */
export function signedText(p: Pick<UpdateParams, 'version' | 'sha256' | 'size' | 'boards'>): Buffer {
  return Buffer.from(`mss-firmware-update/1\nversion=${p.version}\nsha256=${p.sha256}\nsize=${p.size}\nboards=${p.boards.join(',')}\n`);
}

/** Signs an update (operators' tooling and tests); the key is an Ed25519 private key in PEM. */
export function signUpdate(p: Pick<UpdateParams, 'version' | 'sha256' | 'size' | 'boards'>, privateKeyPem: string | KeyObject): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return sign(null, signedText(p), key).toString('base64');
}

/** Reads the image's public key; a missing or non-Ed25519 key refuses every update. */
export function readUpdateKey(file: string): KeyObject {
  if (!file) throw bad('this image has no update key (update.publicKeyFile is empty): updates are refused');
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw bad(`cannot read the update key ${file}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw bad(`the update key ${file} is ${key.asymmetricKeyType}, not ed25519`);
  return key;
}

export function verifyUpdateSignature(p: UpdateParams, key: KeyObject): void {
  const ok = verify(null, signedText(p), key, Buffer.from(p.signature, 'base64'));
  if (!ok) throw bad('bad signature: the update is not signed by the key in this image: refused');
}

/** -1, 0, 1 comparing semantic versions (a pre-release sorts before its release). */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION.exec(a);
  const pb = VERSION.exec(b);
  if (!pa || !pb) return a.localeCompare(b);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  if (pa[4] === pb[4]) return 0;
  if (!pa[4]) return 1;
  if (!pb[4]) return -1;
  return pa[4] < pb[4] ? -1 : 1;
}
