/**
 * The Prometheus view of the box, computed at scrape time from what the modules already count (nothing is
 * counted twice): players by point and protocol, bytes, joins, refusals by reason (and their sum, WMS's stream
 * denials), slow-player drops, the pacing clock's late sends/reads, current/peak/total players, encoder state
 * and restarts, the log store's queue, the MQTT outbox, event-loop lag and RSS, plus every module's numeric
 * telemetry under one generic family so protocols added later show up without a change here.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AppModule } from '../core/module.js';
import type { MediaCore } from '../media/core.js';
import { MediaCounters } from '../media/counters.js';

export interface MetricsSources {
  /** the media core (absent when the process runs no media server) */
  media(): MediaCore | undefined;
  /** every module, in start order */
  modules(): readonly AppModule[];
}

type Labels = Record<string, string>;

/** A counter whose value is set from a total kept elsewhere (reset and filled at every scrape). */
class MirroredCounter<L extends string> {
  readonly metric: Counter<L>;
  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
    this.metric = new Counter({ name, help, labelNames, registers: [registry] });
  }
  fill(rows: Iterable<[Labels, number]>): void {
    this.metric.reset();
    for (const [labels, v] of rows) if (Number.isFinite(v) && v >= 0) this.metric.inc(labels as Partial<Record<L, string>>, v);
  }
  set(v: number): void {
    this.fill([[{}, v]]);
  }
}

class FilledGauge<L extends string> {
  readonly metric: Gauge<L>;
  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
    this.metric = new Gauge({ name, help, labelNames, registers: [registry] });
  }
  fill(rows: Iterable<[Labels, number]>): void {
    this.metric.reset();
    for (const [labels, v] of rows) if (Number.isFinite(v)) this.metric.set(labels as Partial<Record<L, string>>, v);
  }
  set(v: number): void {
    this.fill([[{}, v]]);
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** numeric leaves of a telemetry record, nested ones named `a.b` (two levels; per-point maps have their own families) */
function flatNumbers(t: Record<string, unknown>, prefix = '', depth = 0): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, v] of Object.entries(t)) {
    const name = prefix ? `${prefix}.${k}` : k;
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : num(v);
    if (n !== undefined) out.push([name, n]);
    else if (v && typeof v === 'object' && !Array.isArray(v) && depth < 1 && k !== 'points') out.push(...flatNumbers(v as Record<string, unknown>, name, depth + 1));
  }
  return out;
}

/** period of the event-loop delay sampling timers */
const LOOP_RESOLUTION_MS = 100;

export class MetricsCollector {
  readonly registry = new Registry();
  private readonly loop: IntervalHistogram;
  private readonly g;
  private readonly c;

  constructor(private readonly sources: MetricsSources, opts: { processMetrics: boolean }) {
    const r = this.registry;
    // each event-loop histogram is a timer that wakes the loop at its resolution: 20 ms for both cost as much CPU
    // as the pacing clock on an idle box; at 100 ms every stall that matters (>= 100 ms) is still caught
    if (opts.processMetrics) collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: LOOP_RESOLUTION_MS });
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.loop.enable();
    this.g = {
      players: new FilledGauge(r, 'mss_players', 'Players playing now, by publishing point and protocol', ['point', 'protocol']),
      relays: new FilledGauge(r, 'mss_relay_outputs', 'Relay outputs (multicast senders, downstream servers) by point and protocol', ['point', 'protocol']),
      current: new FilledGauge(r, 'mss_players_current', 'Players counted against the limits now (WMS Current Players)'),
      peak: new FilledGauge(r, 'mss_players_peak', 'Most players at once since the server started (WMS Peak Players)'),
      bitrate: new FilledGauge(r, 'mss_admitted_bits_per_second', 'Content bitrate admitted for all players now'),
      pointBitrate: new FilledGauge(r, 'mss_point_bits_per_second', 'Content bitrate sent per publishing point now', ['point']),
      pointInfo: new FilledGauge(r, 'mss_point_info', 'One per publishing point (type, state)', ['point', 'type', 'state']),
      pointProtected: new FilledGauge(r, 'mss_point_protected', '1 when the point serves DRM-protected content', ['point']),
      encoderUp: new FilledGauge(r, 'mss_encoder_up', '1 when the encoder runs and captures'),
      encoderState: new FilledGauge(r, 'mss_encoder_state', 'The encoder state (1 for the current one)', ['state']),
      logQueue: new FilledGauge(r, 'mss_log_store_queue', 'Log entries waiting for their database commit'),
      outbox: new FilledGauge(r, 'mss_mqtt_outbox_depth', 'Events and log lines waiting in the MQTT outbox'),
      mqttConnected: new FilledGauge(r, 'mss_mqtt_connected', '1 when the device agent is connected to its broker'),
      moduleUp: new FilledGauge(r, 'mss_module_up', '1 when the module reports ok', ['module', 'state']),
      telemetry: new FilledGauge(r, 'mss_module_telemetry', 'Numeric telemetry of every module (what MQTT telemetry sends)', ['module', 'name']),
      rss: new FilledGauge(r, 'mss_resident_memory_bytes', 'Resident set size of the process'),
      loopLag: new FilledGauge(r, 'mss_event_loop_lag_seconds', 'Event-loop delay since the last scrape (mean)'),
      loopLagMax: new FilledGauge(r, 'mss_event_loop_lag_max_seconds', 'Longest event-loop delay since the last scrape'),
      httpConnections: new FilledGauge(r, 'mss_http_connections', 'Open connections on the HTTP listener'),
    };
    this.c = {
      joins: new MirroredCounter(r, 'mss_joins_total', 'Players that started playing, by point and protocol', ['point', 'protocol']),
      bytes: new MirroredCounter(r, 'mss_bytes_sent_total', 'Bytes sent to players, by point and protocol', ['point', 'protocol']),
      total: new MirroredCounter(r, 'mss_players_total', 'Players since the server started (WMS Total Players)'),
      refusals: new MirroredCounter(r, 'mss_refusals_total', 'Refused player requests by reason', ['reason']),
      denials: new MirroredCounter(r, 'mss_stream_denials_total', 'Refused player requests, all reasons (WMS Stream Denials)'),
      drops: new MirroredCounter(r, 'mss_slow_player_drops_total', 'Players dropped because they could not keep up'),
      lateSends: new MirroredCounter(r, 'mss_late_sends_total', 'Packets the pacing clock sent more than 500 ms late (WMS Late Sends)'),
      lateReads: new MirroredCounter(r, 'mss_late_reads_total', 'File reads that arrived after a session ran dry (WMS Late Reads)'),
      lateTicks: new MirroredCounter(r, 'mss_pacing_late_ticks_total', 'Pacing clock ticks that ran more than a period late'),
      encoderRestarts: new MirroredCounter(r, 'mss_encoder_restarts_total', 'Encoder (ffmpeg) restarts'),
      httpRequests: new MirroredCounter(r, 'mss_http_requests_total', 'Requests on the HTTP listener'),
      httpRejected: new MirroredCounter(r, 'mss_http_rejected_total', 'Requests and connections the HTTP listener refused'),
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** fills every family from the current state, then renders the text format */
  async render(): Promise<string> {
    this.sampleMedia();
    this.sampleModules();
    const rss = process.memoryUsage.rss();
    this.g.rss.set(rss);
    this.g.loopLag.set(Number.isFinite(this.loop.mean) ? this.loop.mean / 1e9 : 0);
    this.g.loopLagMax.set(this.loop.max / 1e9);
    this.loop.reset();
    return this.registry.metrics();
  }

  stop(): void {
    this.loop.disable();
    this.registry.clear();
  }

  private sampleMedia(): void {
    const core = this.sources.media();
    if (!core) return;
    const players = new Map<string, number>();
    const relays = new Map<string, number>();
    const running = new Map<string, number>();
    for (const s of core.players()) {
      const key = MediaCounters.key(s.point, s.who.protocol);
      const m = s.role === 'relay' ? relays : players;
      m.set(key, (m.get(key) ?? 0) + 1);
      running.set(key, (running.get(key) ?? 0) + (s.handle?.stats.bytesSent ?? 0));
    }
    const byPointProtocol = (m: Map<string, number>): Array<[Labels, number]> => [...m].map(([k, v]) => [MediaCounters.splitKey(k), v]);
    this.g.players.fill(byPointProtocol(players));
    this.g.relays.fill(byPointProtocol(relays));
    const counters = core.counters;
    const bytes = new Map(counters.endedBytes);
    for (const [k, v] of running) bytes.set(k, (bytes.get(k) ?? 0) + v);
    this.c.bytes.fill(byPointProtocol(bytes));
    this.c.joins.fill(byPointProtocol(counters.joins));
    this.g.current.set(core.playerCount);
    this.g.peak.set(counters.peakPlayers);
    this.c.total.set(counters.totalPlayers);
    this.g.bitrate.set(core.admittedBitrate);
    this.c.refusals.fill([...counters.refusals].map(([reason, v]) => [{ reason }, v]));
    this.c.denials.set(counters.streamDenials);
    this.c.drops.set(counters.slowDrops);
    this.c.lateSends.set(core.scheduler.lateSends);
    this.c.lateReads.set(core.scheduler.lateReads);
    this.c.lateTicks.set(core.scheduler.lateTicks);
    const info: Array<[Labels, number]> = [];
    const prot: Array<[Labels, number]> = [];
    const rate: Array<[Labels, number]> = [];
    for (const name of core.pointNames()) {
      const p = core.point(name);
      if (!p) continue;
      const st = p.status();
      info.push([{ point: name, type: p.type, state: String(st.state ?? 'ready') }, 1]);
      prot.push([{ point: name }, p.protected ? 1 : 0]);
      rate.push([{ point: name }, p.stats().bitrate]);
    }
    this.g.pointInfo.fill(info);
    this.g.pointProtected.fill(prot);
    this.g.pointBitrate.fill(rate);
  }

  private sampleModules(): void {
    const up: Array<[Labels, number]> = [];
    const telemetry: Array<[Labels, number]> = [];
    for (const m of new Set(this.sources.modules())) {
      let h;
      try {
        h = m.health();
      } catch {
        h = { ok: false, state: 'failed' };
      }
      up.push([{ module: m.name, state: h.state }, h.ok ? 1 : 0]);
      let t: Record<string, unknown> = {};
      try {
        t = m.telemetry?.() ?? {};
      } catch {
        // a module whose telemetry throws reports none this scrape
      }
      for (const [k, n] of flatNumbers(t)) telemetry.push([{ module: m.name, name: k }, n]);
      this.sampleKnown(m.name, h, t);
    }
    this.g.moduleUp.fill(up);
    this.g.telemetry.fill(telemetry);
  }

  /** the families named by the issue, from the modules that own them */
  private sampleKnown(name: string, h: { ok: boolean; state: string }, t: Record<string, unknown>): void {
    switch (name) {
      case 'encoder':
        this.g.encoderUp.set(h.ok && t.running === true ? 1 : 0);
        this.g.encoderState.fill([[{ state: h.state }, 1]]);
        this.c.encoderRestarts.set(num(t.restarts) ?? 0);
        break;
      case 'logs':
        this.g.logQueue.set(num(t.queued) ?? 0);
        break;
      case 'device':
        this.g.outbox.set(num(t.outboxPending) ?? 0);
        this.g.mqttConnected.set(t.connected === true ? 1 : 0);
        break;
      case 'http':
        this.g.httpConnections.set(num(t.connections) ?? 0);
        this.c.httpRequests.set(num(t.requests) ?? 0);
        this.c.httpRejected.set(num(t.rejected) ?? 0);
        break;
    }
  }
}
