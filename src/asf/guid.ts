/**
 * ASF GUIDs. On disk a GUID is stored in the Windows layout: Data1 (LE uint32), Data2 (LE uint16),
 * Data3 (LE uint16), then the last 8 bytes as they read. Text form is the canonical uppercase
 * `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
 */
import { MssError } from '../core/errors.js';

const GUID_TEXT = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/i;

export function guidToBytes(text: string): Buffer {
  if (!GUID_TEXT.test(text)) throw new MssError('invalid-argument', `not a GUID: ${JSON.stringify(text)}`);
  const hex = text.replace(/-/g, '');
  const raw = Buffer.from(hex, 'hex');
  const out = Buffer.alloc(16);
  out.writeUInt32LE(raw.readUInt32BE(0), 0);
  out.writeUInt16LE(raw.readUInt16BE(4), 4);
  out.writeUInt16LE(raw.readUInt16BE(6), 6);
  raw.copy(out, 8, 8, 16);
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

export function guidFromBytes(buf: Buffer, offset = 0): string {
  if (offset < 0 || offset + 16 > buf.length) {
    throw new MssError('truncated', `GUID at byte ${offset} needs 16 bytes, ${Math.max(0, buf.length - offset)} left`, { offset });
  }
  const b = (i: number) => HEX[buf[offset + i]!]!;
  return (
    b(3) + b(2) + b(1) + b(0) + '-' + b(5) + b(4) + '-' + b(7) + b(6) + '-' + b(8) + b(9) + '-' +
    b(10) + b(11) + b(12) + b(13) + b(14) + b(15)
  );
}

/** True when the 16 bytes at `offset` are the GUID `guid` (bytes from guidToBytes). */
export function guidEquals(buf: Buffer, offset: number, guid: Buffer): boolean {
  return offset >= 0 && offset + 16 <= buf.length && buf.compare(guid, 0, 16, offset, offset + 16) === 0;
}

export const ASF_GUID = {
  // top level
  Header: '75B22630-668E-11CF-A6D9-00AA0062CE6C',
  Data: '75B22636-668E-11CF-A6D9-00AA0062CE6C',
  SimpleIndex: '33000890-E5B1-11CF-89F4-00A0C90349CB',
  Index: 'D6E229D3-35DA-11D1-9034-00A0C90349BE',
  MediaObjectIndex: 'FEB103F8-12AD-4C64-840F-2A1D2F7AD48C',
  TimecodeIndex: '3CB73FD0-0C4A-4803-953D-EDF7B6228F0C',
  // header children
  FileProperties: '8CABDCA1-A947-11CF-8EE4-00C00C205365',
  StreamProperties: 'B7DC0791-A9B7-11CF-8EE6-00C00C205365',
  HeaderExtension: '5FBF03B5-A92E-11CF-8EE3-00C00C205365',
  CodecList: '86D15240-311D-11D0-A3A4-00A0C90348F6',
  ScriptCommand: '1EFB1A30-0B62-11D0-A39B-00A0C90348F6',
  Marker: 'F487CD01-A951-11CF-8EE6-00C00C205365',
  BitrateMutualExclusion: 'D6E229DC-35DA-11D1-9034-00A0C90349BE',
  ContentDescription: '75B22633-668E-11CF-A6D9-00AA0062CE6C',
  ExtendedContentDescription: 'D2D0A440-E307-11D2-97F0-00A0C95EA850',
  StreamBitrateProperties: '7BF875CE-468D-11D1-8D82-006097C9A2B2',
  ContentEncryption: '2211B3FB-BD23-11D2-B4B7-00A0C955FC6E',
  ExtendedContentEncryption: '298AE614-2622-4C17-B935-DAE07EE9289C',
  DigitalSignature: '2211B3FC-BD23-11D2-B4B7-00A0C955FC6E',
  /** PlayReady's header object in ASF (the ASF Protection System Identifier Object) */
  ProtectionSystemIdentifier: '9A04F079-9840-4286-AB92-E65BE0885F95',
  Padding: '1806D474-CADF-4509-A4BA-9AABCB96AAE8',
  // header extension children
  ExtendedStreamProperties: '14E6A5CB-C672-4332-8399-A96952065B5A',
  LanguageList: '7C4346A9-EFE0-4BFC-B229-393EDE415C85',
  Metadata: 'C5F8CBEA-5BAF-4877-8467-AA8C44FA4CCA',
  MetadataLibrary: '44231C94-9498-49D1-A141-1D134E457054',
  GroupMutualExclusion: 'D1465A40-5A79-4338-B71B-E36B8FD6C249',
  AdvancedMutualExclusion: 'A08649CF-4775-4670-8A16-6E35357566CD',
  StreamPrioritization: 'D4FED15B-88D3-454F-81F0-ED5C45999E24',
  IndexParameters: 'D6E229DF-35DA-11D1-9034-00A0C90349BE',
  AdvancedContentEncryption: '43058533-6981-49E6-9B74-AD12CB86D58C',
  // reserved fields inside objects
  HeaderExtensionReserved1: 'ABD3D211-A9BA-11CF-8EE6-00C00C205365',
  CodecListReserved: '86D15241-311D-11D0-A3A4-00A0C90348F6',
  ScriptCommandReserved: '4B1ACBE3-100B-11D0-A39B-00A0C90348F6',
  // Bitrate Mutual Exclusion types
  MutexLanguage: 'D6E22A00-35DA-11D1-9034-00A0C90349BE',
  MutexBitrate: 'D6E22A01-35DA-11D1-9034-00A0C90349BE',
  MutexUnknown: 'D6E22A02-35DA-11D1-9034-00A0C90349BE',
  // content protection systems
  ProtectionSystemPlayReady: 'F4637010-03C3-42CD-B932-B48ADF3A6A54',
  ProtectionSystemWmdrmNetworkDevices: '7A079BB6-DAA4-4E12-A5CA-91D38DC11A8D',
  // stream types
  AudioMedia: 'F8699E40-5B4D-11CF-A8FD-00805F5C442B',
  VideoMedia: 'BC19EFC0-5B4D-11CF-A8FD-00805F5C442B',
  CommandMedia: '59DACFC0-59E6-11D0-A3AC-00A0C90348F6',
  JfifMedia: 'B61BE100-5B4E-11CF-A8FD-00805F5C442B',
  BinaryMedia: '3AFB65E2-47EF-40F2-AC2C-70A90D71D343',
  // error correction types
  NoErrorCorrection: '20FB5700-5B55-11CF-A8FD-00805F5C442B',
  AudioSpread: 'BFC3CD50-618F-11CF-8BB2-00AA00B4E220',
  // payload extension systems
  PayloadExtTimecode: '399595EC-8667-4E2D-8FDB-98814CE76C1E',
  PayloadExtFileName: 'E165EC0E-19ED-45D7-B4A7-25CBD1E28E9B',
  PayloadExtContentType: 'D590DC20-07BC-436C-9CF7-F3BBFBF1A4DC',
  PayloadExtPixelAspectRatio: '1B1EE554-F9EA-4BC8-821A-376B74E4C4B8',
  PayloadExtSampleDuration: 'C6BD9450-867F-4907-83A3-C77921B733AD',
  PayloadExtEncryptionSampleId: '6698B84E-0AFA-4330-AEB2-1C0A98D7A44D',
} as const;

export type AsfGuidName = keyof typeof ASF_GUID;

/** Byte forms of every named GUID, computed once. */
export const ASF_GUID_BYTES: Readonly<Record<AsfGuidName, Buffer>> = Object.fromEntries(
  Object.entries(ASF_GUID).map(([name, text]) => [name, guidToBytes(text)]),
) as Record<AsfGuidName, Buffer>;

const NAME_BY_GUID = new Map<string, AsfGuidName>(
  Object.entries(ASF_GUID).map(([name, text]) => [text, name as AsfGuidName]),
);

/** Known name of a GUID text, or 'unknown'. */
export function guidName(guid: string): string {
  return NAME_BY_GUID.get(guid.toUpperCase()) ?? 'unknown';
}
