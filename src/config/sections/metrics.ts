import type { Schema } from '../schema.js';

export interface MetricsConfig {
  /** serve /metrics (Prometheus text format) */
  enabled: boolean;
  /** /metrics asks for the operator credentials of the api section (scrapers send them); false: open to all */
  protect: boolean;
  /** Node process metrics too (RSS, heap, event-loop lag, GC): a little more memory and work per scrape */
  processMetrics: boolean;
}

export const metricsSchema: Schema = {
  kind: 'object',
  doc: 'Prometheus metrics at /metrics and the /health check',
  fields: {
    enabled: { kind: 'bool', doc: 'Serve /metrics in the Prometheus text format (/health is always served)', default: true },
    protect: { kind: 'bool', doc: '/metrics asks for the operator credentials (as the API does); false leaves it open', default: true },
    processMetrics: { kind: 'bool', doc: 'Add the Node process metrics (RSS, heap, event-loop lag, GC pauses)', default: true },
  },
};
