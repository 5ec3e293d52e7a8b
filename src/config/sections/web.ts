import type { Schema } from '../schema.js';

export interface WebConfig {
  /** serve the status page at GET / */
  enabled: boolean;
  /** how often the page asks for fresh numbers */
  refreshMs: number;
}

export const webSchema: Schema = {
  kind: 'object',
  doc: 'The status page at GET / (points, their URLs, players, throughput), protected like the API',
  fields: {
    enabled: { kind: 'bool', doc: 'Serve the status page at /', default: true },
    refreshMs: { kind: 'int', doc: 'How often the page refreshes its numbers, in ms', default: 2000, min: 250, max: 60000 },
  },
};
