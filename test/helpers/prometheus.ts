/**
 * Scrapes a /metrics URL and parses it with parse-prometheus-text-format (a real Prometheus text-format parser,
 * not ours), giving `value(name, labels)` for assertions.
 */
import { createRequire } from 'node:module';

export interface PromSample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface PromFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: PromSample[];
}

const require = createRequire(import.meta.url);
const parse = require('parse-prometheus-text-format') as (text: string) => PromFamily[];

export interface Scrape {
  text: string;
  families: PromFamily[];
  family(name: string): PromFamily | undefined;
  /** the value of the sample of `name` whose labels include `labels` (undefined when absent) */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

export function parseMetrics(text: string): Scrape {
  const families = parse(text);
  const family = (name: string) => families.find((f) => f.name === name);
  return {
    text,
    families,
    family,
    value(name, labels = {}) {
      const s = family(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
      return s?.value === undefined ? undefined : Number(s.value);
    },
  };
}

export async function scrape(url: string, init: RequestInit = {}): Promise<Scrape> {
  const res = await fetch(url, init);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}: ${await res.text()}`);
  return parseMetrics(await res.text());
}
