/**
 * A "protected" ASF fixture made in the test: a generated file whose header gains the DRM objects real protected
 * content carries (Content Encryption, Extended Content Encryption with a WRMHEADER, Digital Signature, a
 * PlayReady Protection System Identifier object, and an Advanced Content Encryption object in the header
 * extension), with File Properties' size following. Nothing is encrypted: what matters to mss is that every
 * byte of these objects and of the payloads travels untouched.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ASF_GUID_BYTES, guidToBytes, parseHeaderObject, patchFileProperties, serializeHeaderObject, upsertHeaderObject, ASF_GUID } from '../../src/asf/index.js';

export const DRM_FACTS = {
  v7KeyId: 'mss-test-key-7',
  v7LicenseUrl: 'https://license.example.test/v7',
  v10KeyId: 'AAAAAAAAAAAAAAAAAAAAAA==',
  v10LicenseUrl: 'https://license.example.test/v10',
  playReadyKeyId: 'EjRWeJq83vAAESIzRFVmdw==',
  playReadyLicenseUrl: 'https://license.example.test/playready',
} as const;

function object(guid: Buffer, body: Buffer): Buffer {
  const head = Buffer.alloc(24);
  guid.copy(head, 0);
  head.writeBigUInt64LE(BigInt(24 + body.length), 16);
  return Buffer.concat([head, body]);
}

const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const lenPrefixed = (b: Buffer) => Buffer.concat([u32(b.length), b]);

export function contentEncryptionObject(keyId: string = DRM_FACTS.v7KeyId, licenseUrl: string = DRM_FACTS.v7LicenseUrl): Buffer {
  const secret = Buffer.from('0123456789abcdef0123', 'latin1');
  return object(ASF_GUID_BYTES.ContentEncryption, Buffer.concat([lenPrefixed(secret), lenPrefixed(Buffer.from('DRM\0', 'latin1')), lenPrefixed(Buffer.from(keyId + '\0', 'latin1')), lenPrefixed(Buffer.from(licenseUrl + '\0', 'latin1'))]));
}

export function wrmHeader(keyId: string, licenseUrl: string): Buffer {
  const xml = `<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="4.0.0.0"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>${keyId}</KID><LA_URL>${licenseUrl}</LA_URL></DATA></WRMHEADER>`;
  return Buffer.from(xml, 'utf16le');
}

export function extendedContentEncryptionObject(): Buffer {
  return object(ASF_GUID_BYTES.ExtendedContentEncryption, lenPrefixed(wrmHeader(DRM_FACTS.v10KeyId, DRM_FACTS.v10LicenseUrl)));
}

export function digitalSignatureObject(): Buffer {
  return object(ASF_GUID_BYTES.DigitalSignature, Buffer.concat([u32(2), lenPrefixed(Buffer.alloc(40, 0x5a))]));
}

export function playReadyObject(): Buffer {
  const record = wrmHeader(DRM_FACTS.playReadyKeyId, DRM_FACTS.playReadyLicenseUrl);
  const pro = Buffer.concat([u32(4 + 2 + 4 + record.length), u16(1), u16(1), u16(record.length), record]);
  return object(ASF_GUID_BYTES.ProtectionSystemIdentifier, Buffer.concat([guidToBytes(ASF_GUID.ProtectionSystemPlayReady), u32(1), lenPrefixed(pro)]));
}

export function advancedContentEncryptionObject(stream = 1): Buffer {
  const rec = Buffer.concat([guidToBytes(ASF_GUID.ProtectionSystemWmdrmNetworkDevices), u32(1), u16(1), u16(1), u16(2), u16(stream), lenPrefixed(Buffer.alloc(8, 1))]);
  return object(ASF_GUID_BYTES.AdvancedContentEncryption, Buffer.concat([u16(1), rec]));
}

/** The Header Object with the Advanced Content Encryption object added inside its Header Extension. */
function withAdvancedObject(headerObject: Buffer): Buffer {
  const h = parseHeaderObject(headerObject);
  const ext = h.objects.find((o) => o.name === 'HeaderExtension');
  if (!ext) return headerObject;
  const raw = advancedContentEncryptionObject();
  ext.children = [...(ext.children ?? []), { guid: ASF_GUID.AdvancedContentEncryption, name: 'AdvancedContentEncryption', offset: 0, size: raw.length, raw }];
  return serializeHeaderObject(h);
}

/** Writes `dst`: `src` with the DRM objects in its header; returns the added header bytes. */
export async function makeProtectedFile(src: string, dst: string): Promise<{ added: number }> {
  const file = await readFile(src);
  const header = parseHeaderObject(file);
  let out: Buffer = header.raw;
  for (const o of [contentEncryptionObject(), extendedContentEncryptionObject(), digitalSignatureObject(), playReadyObject()]) out = upsertHeaderObject(out, o);
  out = withAdvancedObject(out);
  const added = out.length - header.raw.length;
  out = patchFileProperties(out, { fileSize: header.fileProperties.fileSize + BigInt(added) });
  await writeFile(dst, Buffer.concat([out, file.subarray(header.raw.length)]));
  return { added };
}
