/** A Logger that keeps its records in memory, for asserting what was logged (nothing is written). */
import type { Logger, LogFields, LogLevel } from '../../src/core/log.js';

export interface MemoryLogRecord {
  level: LogLevel;
  event: string;
  fields: LogFields;
}

export function memoryLogger(records: MemoryLogRecord[] = []): Logger & { records: MemoryLogRecord[] } {
  const make = (base: LogFields): Logger & { records: MemoryLogRecord[] } => {
    const at = (level: LogLevel) => (event: string, fields: LogFields = {}) => void records.push({ level, event, fields: { ...base, ...fields } });
    return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (_c: string, f: LogFields = {}) => make({ ...base, ...f }), enabled: () => true };
  };
  return make({});
}
