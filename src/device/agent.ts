/**
 * The device agent: the appliance's side of device management over MQTT (../shared/mqtt.md).
 * It knows the other modules only through `AppModule` (health, telemetry, reconfigure, commands) and two
 * structural hooks a module may offer: `onEntry(cb)` (player/server log entries) and `onEvent(cb)` (events).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { IPublishPacket } from 'mqtt';
import { boardOf, CONFIG_VERSION, type MssConfig } from '../config/index.js';
import { selectBoard } from '../../board/detect.js';
import { defaultLoopbackUrl } from '../update/health.js';
import { FileAbInstaller, type Installer } from '../update/installer.js';
import { firmwareUpdateJob } from '../update/job.js';
import { RaucInstaller } from '../update/rauc.js';
import { MssError, toMssError } from '../core/errors.js';
import { addLogSink, createLogger } from '../core/log.js';
import type { AppModule, ModuleHealth } from '../core/module.js';
import { applyMigrations, openStore, type Db } from '../store/db.js';
import { packageVersion as readPackageVersion } from '../core/version.js';
import { CommandTable, errorReply, type CommandReply } from './commands.js';
import { ConfigSync, type ReportedConfig } from './config-sync.js';
import { DeviceConnection } from './connection.js';
import { coreCommands } from './core-commands.js';
import { resolveDeviceId, readBoardSerial } from './identity.js';
import { JobRunner, type JobStatusReport } from './jobs.js';
import { DeviceKv } from './kv.js';
import { BurstDetector } from './burst-detector.js';
import { LogForwarder } from './log-forwarder.js';
import { DeviceLogStore, entriesSource, type EntryQueryModule, type LogQuerySource } from './log-store.js';
import { logUploadJob } from './log-upload-job.js';
import { Outbox } from './outbox.js';
import { StateCoalescer } from './state-coalescer.js';
import { describeHardware, sampleNetworkState, sampleStorageState, sampleSystem } from './system-telemetry.js';
import { BROADCAST_ROOT, classifyDownTopic, commandReplyFields, decodeJsonObject, deviceTopics, isValidReplyTopic, parseCommandRequest, parseDesiredDoc, type DeviceTopics } from './topics.js';

export interface DeviceAgentOptions {
  config: MssConfig;
  /** every module of the app in start order (the agent itself may be among them; it is skipped) */
  modules: () => readonly AppModule[];
  /** the appliance database; when absent the agent opens <dataDir>/mss.db */
  db?: Db;
  /** where the board serial comes from (tests and benchmarks pin it) */
  boardSerial?: () => Promise<string | undefined>;
  /** called after a desired config was applied and persisted */
  onConfigApplied?: (config: MssConfig, report: ReportedConfig) => void;
  /** modules the post-update health check needs ready (default: logs, http, media) */
  updateCore?: readonly string[];
}

/** structural hooks a module may offer the agent */
interface LogEntrySourceModule { onEntry(cb: (entry: Record<string, unknown>) => void): (() => void) | void }
interface EventSourceModule { onEvent(cb: (type: string, data: Record<string, unknown>) => void): (() => void) | void }

let cachedVersion: string | undefined;
let logForwarder: DeviceAgent | undefined;
const packageVersion = (): string => (cachedVersion ??= readPackageVersion());
const MAX_CONCURRENT_COMMANDS = 8;
const HEALTH_POLL_MS = 1000;
const BURST_WINDOW_MS = 10_000;
const BURST_SAMPLE_MS = 2000;

export class DeviceAgent implements AppModule {
  readonly name = 'device';
  private readonly log = createLogger('device');
  private config: MssConfig;
  private db?: Db;
  private ownsDb = false;
  private kv?: DeviceKv;
  private outbox?: Outbox;
  private logStore?: DeviceLogStore;
  private logs?: LogForwarder;
  private jobs?: JobRunner;
  private configSync?: ConfigSync;
  private table?: CommandTable;
  private state?: StateCoalescer;
  private conn?: DeviceConnection;
  private topics?: DeviceTopics;
  private deviceId = '';
  private deviceIdSource = '';
  private readonly bootId = randomBytes(8).toString('hex');
  private hardware: Record<string, unknown> = {};
  private timers: NodeJS.Timeout[] = [];
  private unhook: Array<() => void> = [];
  private configQueue: Promise<unknown> = Promise.resolve();
  private runningCommands = 0;
  private flushing = false;
  private flushAgain = false;
  private diskLow = false;
  private readonly lastHealth = new Map<string, { ok: boolean; state: string }>();
  private bursts?: BurstDetector;
  private started = false;
  private statusState: 'online' | 'rebooting' | 'updating' = 'online';
  private installerInstance?: Installer;
  private slot: string | null = null;

  constructor(private readonly opts: DeviceAgentOptions) {
    this.config = opts.config;
  }

  get id(): string {
    return this.deviceId;
  }

  get connected(): boolean {
    return this.conn?.connected === true;
  }

  /** no broker configured: the agent stays off (the appliance runs unmanaged) */
  get enabled(): boolean {
    return this.config.mqtt.url !== '';
  }

  async start(): Promise<void> {
    const mc = this.config.mqtt;
    if (!this.enabled) {
      this.log.info('agent-disabled', { reason: 'mqtt.url is empty' });
      return;
    }
    if (this.opts.db) this.db = this.opts.db;
    else {
      this.db = openStore(join(this.config.dataDir, 'mss.db'));
      this.ownsDb = true;
    }
    applyMigrations(this.db, (await import('./store.js')).deviceMigrations);
    this.kv = new DeviceKv(this.db);
    const ident = await resolveDeviceId(mc.deviceId, this.kv, this.opts.boardSerial ?? readBoardSerial);
    this.deviceId = ident.id;
    this.deviceIdSource = ident.source;
    this.topics = deviceTopics(this.deviceId);
    this.outbox = new Outbox(this.db, this.kv, mc.outboxMaxRows);
    this.logStore = new DeviceLogStore(this.db);
    this.logs = new LogForwarder({
      outbox: this.outbox,
      store: this.logStore,
      topics: this.topics,
      settings: () => ({ level: this.config.mqtt.forwardLogLevel, perSec: this.config.mqtt.forwardLogsPerSec }),
      appended: () => this.kickOutbox(),
    });
    this.hardware = await describeHardware();

    this.table = new CommandTable(this.log);
    for (const c of coreCommands({
      modules: () => this.otherModules(),
      agentStatus: () => this.agentStatus(),
      rebootCommand: () => this.config.mqtt.rebootCommand,
      announceReboot: () => this.announce('rebooting'),
      logs: () => this.logSources(),
      log: this.log,
    })) this.table.add('agent', c);
    this.table.addModules(this.otherModules());

    this.jobs = new JobRunner(this.db, (id, report) => this.publishJobStatus(id, report), this.log);
    this.jobs.register(logUploadJob({ dir: join(this.config.dataDir, 'device-jobs'), logs: () => this.logSources(), deviceId: () => this.deviceId }));
    this.jobs.register(
      firmwareUpdateJob({
        config: () => this.config,
        board: () => this.boardId(),
        runningVersion: packageVersion,
        installer: () => this.installer(),
        modules: () => this.otherModules(),
        core: this.opts.updateCore ?? ['logs', 'http', 'media'],
        mqttConnected: () => this.connected,
        loopbackUrl: () => defaultLoopbackUrl(this.config, this.otherModules(), listDir),
        announce: (state) => this.announce(state),
      }),
    );
    if (this.config.update.installer !== 'none') this.slot = await this.installer().bootedSlot().catch(() => null);

    this.configSync = new ConfigSync({
      kv: this.kv,
      modules: () => this.otherModules(),
      running: () => this.config,
      setRunning: (c) => {
        this.config = c;
        this.outbox?.setMaxRows(c.mqtt.outboxMaxRows);
      },
      log: this.log,
    });

    this.state = new StateCoalescer(mc.stateIntervalMs, (module, json) => this.publishRetainedNow(this.topics!.state(module), json));
    this.hookModules();
    // One agent per process forwards the process's log lines (tests and benchmarks run several agents).
    if (!logForwarder) {
      logForwarder = this;
      const off = addLogSink((_line, level, _event, record) => {
        if (this.started) this.logs?.line(level, record);
      });
      this.unhook.push(() => {
        off();
        logForwarder = undefined;
      });
    }

    this.conn = new DeviceConnection(
      mc,
      {
        clientId: this.deviceId,
        will: { topic: this.topics.status, payload: JSON.stringify({ state: 'lost', bootId: this.bootId, version: packageVersion() }) },
        reconnectMinMs: mc.reconnectMinMs,
        reconnectMaxMs: mc.reconnectMaxMs,
        keepaliveSec: mc.keepaliveSec,
      },
      { online: () => void this.onOnline(), offline: () => this.log.info('mqtt-offline', { pending: this.outbox?.pending }), message: (t, p, k) => this.onMessage(t, p, k) },
      this.log,
    );
    this.started = true;
    this.jobs.start();
    this.bursts = new BurstDetector(mc.playerBurstThreshold, BURST_WINDOW_MS);
    this.timers.push(setInterval(() => this.pollHealth(), HEALTH_POLL_MS));
    if (mc.playerBurstThreshold > 0) this.timers.push(setInterval(() => this.samplePlayers(), BURST_SAMPLE_MS));
    this.timers.push(setInterval(() => void this.sendTelemetry(), mc.telemetryIntervalMs));
    this.timers.push(setInterval(() => void this.sampleHostState(), mc.telemetryIntervalMs));
    this.pollHealth();
    void this.sampleHostState();
    // Boot never waits for the broker: the connection comes and goes on its own schedule.
    await this.conn.start();
    this.log.info('agent-started', { deviceId: this.deviceId, idSource: this.deviceIdSource, broker: this.config.mqtt.url });
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const u of this.unhook) u();
    this.unhook = [];
    this.state?.stop();
    await this.jobs?.stop();
    this.logs?.flush();
    // a short last chance to send; whatever is left stays in SQLite for the next start
    await this.flushOutbox(Date.now() + 2000);
    await this.conn?.stop({ topic: this.topics!.status, payload: this.statusPayload('offline') });
    this.logStore?.flush();
    if (this.ownsDb) this.db?.close();
    this.log.info('agent-stopped', { deviceId: this.deviceId });
  }

  health(): ModuleHealth {
    if (!this.enabled) return { ok: true, state: 'disabled' };
    if (!this.started) return { ok: false, state: 'stopped' };
    return { ok: this.connected, state: this.connected ? 'running' : 'degraded', detail: this.agentStatus() };
  }

  telemetry(): Record<string, unknown> {
    return { connected: this.connected, outboxPending: this.outbox?.pending ?? 0, outboxDropped: this.outbox?.dropped ?? 0, reconnects: Math.max(0, (this.conn?.connects ?? 1) - 1) };
  }

  /**
   * A discrete event (player connect burst, capture lost, disk low, error): durable in the outbox before this
   * returns, sent with QoS 1 in order when the broker is reachable.
   */
  emitEvent(type: string, data: Record<string, unknown> = {}): number {
    if (!this.outbox || !this.topics) throw new MssError('unavailable', 'device agent not started');
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(type)) throw new MssError('invalid-argument', `event type ${JSON.stringify(type)} must be [a-z0-9-]`);
    const [seq] = this.outbox.append([{ topic: this.topics.event(type), body: { type, ts: new Date().toISOString(), bootId: this.bootId, data } }]);
    this.kickOutbox();
    return seq;
  }

  private otherModules(): AppModule[] {
    return this.opts.modules().filter((m) => m !== (this as AppModule));
  }

  /** mss: this process's log lines (the agent's bounded copy); player, server: a logs module's entries */
  private logSources(): Record<string, LogQuerySource> {
    const out: Record<string, LogQuerySource> = { mss: this.logStore! };
    const logs = this.otherModules().find((x) => x.name === 'logs' && typeof (x as unknown as Partial<EntryQueryModule>).query === 'function');
    if (logs) {
      out.player = entriesSource(logs as unknown as EntryQueryModule, 'player');
      out.server = entriesSource(logs as unknown as EntryQueryModule, 'server');
    }
    return out;
  }

  private hookModules(): void {
    for (const m of this.otherModules()) {
      const entries = m as unknown as Partial<LogEntrySourceModule>;
      if (typeof entries.onEntry === 'function') {
        const off = entries.onEntry.call(m, (entry) => this.logs?.entry(m.name, entry));
        if (typeof off === 'function') this.unhook.push(off);
      }
      const events = m as unknown as Partial<EventSourceModule>;
      if (typeof events.onEvent === 'function') {
        const off = events.onEvent.call(m, (type, data) => {
          try {
            this.emitEvent(type, { module: m.name, ...data });
          } catch (err) {
            this.log.warn('event-refused', { module: m.name, type, err });
          }
        });
        if (typeof off === 'function') this.unhook.push(off);
      }
    }
  }

  private agentStatus(): Record<string, unknown> {
    return {
      deviceId: this.deviceId,
      bootId: this.bootId,
      connected: this.connected,
      protocolVersion: this.config.mqtt.protocolVersion,
      outbox: { pending: this.outbox?.pending ?? 0, dropped: this.outbox?.dropped ?? 0, maxRows: this.config.mqtt.outboxMaxRows },
      jobs: this.jobs?.summary() ?? {},
      config: { appliedVersion: this.configSync?.appliedVersion ?? null },
    };
  }

  // ---- connection life cycle ----

  private async onOnline(): Promise<void> {
    const t = this.topics!;
    try {
      // subscribe before saying online, so "online" means commands are heard
      await this.conn!.subscribe([t.configDesired, `${t.root}/cmd/+`, `${t.root}/jobs/+`, `${BROADCAST_ROOT}/+`]);
      await this.republishRetained();
      if (this.outbox!.dropped > Number(this.kv!.get('outbox-dropped-reported') ?? '0')) {
        this.emitEvent('outbox-dropped', { dropped: this.outbox!.dropped, maxRows: this.config.mqtt.outboxMaxRows });
        this.kv!.set('outbox-dropped-reported', String(this.outbox!.dropped));
      }
      this.kickOutbox();
    } catch (err) {
      this.log.warn('online-setup-failed', { err: toMssError(err).message });
    }
  }

  /** status, info, state/*, config/reported and job status: after every connect and on `$broadcast/rebirth` */
  private async republishRetained(): Promise<void> {
    const t = this.topics!;
    await this.conn!.publish(t.status, this.statusPayload(this.statusState), { qos: 1, retain: true });
    await this.conn!.publish(t.info, JSON.stringify(this.infoRecord()), { qos: 1, retain: true });
    await this.conn!.publish(t.configReported, JSON.stringify(this.configSync!.current()), { qos: 1, retain: true });
    this.pollHealth();
    this.state!.republishAll();
    for (const { id, report } of this.jobs!.reports()) this.publishJobStatus(id, report);
  }

  private statusPayload(state: string): string {
    return JSON.stringify({ state, bootId: this.bootId, ts: new Date().toISOString(), version: packageVersion() });
  }

  private boardId(): string {
    return (boardOf(this.config) ?? selectBoard(this.config.board)).profile.id;
  }

  /** the A/B installer the config names (one per agent: the file installer's boot step runs once) */
  private installer(): Installer {
    if (this.installerInstance) return this.installerInstance;
    const u = this.config.update;
    if (u.installer === 'none') throw new MssError('invalid-argument', 'this device has no installer (update.installer is "none"): updates are refused');
    const slots = isAbsolute(u.slotsDir) ? u.slotsDir : join(this.config.dataDir, u.slotsDir);
    const board = boardOf(this.config)?.profile;
    const rebootCommand = u.rebootCommand || (board?.reboot.method === 'command' ? (board.reboot.command ?? '') : '');
    this.installerInstance = u.installer === 'file' ? new FileAbInstaller(slots, packageVersion(), () => this.log.info('update-reboot-requested', { installer: 'file' })) : new RaucInstaller(rebootCommand);
    return this.installerInstance;
  }

  private async announce(state: 'rebooting' | 'updating' | 'online'): Promise<void> {
    this.statusState = state;
    await this.conn?.publish(this.topics!.status, this.statusPayload(state), { qos: 1, retain: true }).catch(() => false);
  }

  private infoRecord(): Record<string, unknown> {
    return {
      deviceId: this.deviceId,
      deviceIdSource: this.deviceIdSource,
      bootId: this.bootId,
      ts: new Date().toISOString(),
      ...this.hardware,
      board: this.boardId(),
      slot: this.slot,
      versions: { mss: packageVersion(), node: process.versions.node, openssl: process.versions.openssl },
      capabilities: {
        modules: this.otherModules().map((m) => m.name),
        commands: this.table!.list().map((c) => c.name),
        jobTypes: this.jobs!.typeNames,
        protocolVersion: this.config.mqtt.protocolVersion,
      },
      configSchemaVersion: CONFIG_VERSION,
    };
  }

  private publishRetainedNow(topic: string, json: string): boolean {
    if (!this.connected) return false;
    this.conn!.publish(topic, json, { qos: 1, retain: true }).catch(() => undefined);
    return true;
  }

  private publishJobStatus(id: string, report: JobStatusReport | null): void {
    if (!this.connected) return; // the status lives in SQLite and is republished after the reconnect
    const topic = this.topics!.jobStatus(id);
    this.conn!.publish(topic, report ? JSON.stringify(report) : '', { qos: 1, retain: true }).catch(() => undefined);
  }

  // ---- state and telemetry ----

  private pollHealth(): void {
    if (!this.state) return;
    for (const m of this.opts.modules()) {
      let h: ModuleHealth;
      try {
        h = m.health();
      } catch (err) {
        h = { ok: false, state: 'failed', detail: { error: (err as Error).message } };
      }
      this.state.update(m.name, h);
      const was = this.lastHealth.get(m.name);
      if (was && (was.ok !== h.ok || was.state !== h.state) && m !== (this as AppModule)) {
        // e.g. capture lost (encoder degraded), a point's source failing: durable, ordered, never dropped offline
        this.emitEvent('module-health', { module: m.name, ok: h.ok, state: h.state, was: was.state });
      }
      this.lastHealth.set(m.name, { ok: h.ok, state: h.state });
    }
  }

  /** modules whose telemetry counts `players` (the media server): a sudden rise is a player-burst event */
  private samplePlayers(): void {
    for (const m of this.otherModules()) {
      if (!m.telemetry) continue;
      let players: unknown;
      try {
        players = m.telemetry().players;
      } catch {
        continue;
      }
      if (typeof players !== 'number') continue;
      const burst = this.bursts!.sample(m.name, players);
      if (burst) this.emitEvent('player-burst', { ...burst });
    }
  }

  /** state/storage and state/network, kept current even while offline (the latest is sent on reconnect) */
  private async sampleHostState(): Promise<void> {
    const [storage, network] = await Promise.all([sampleStorageState(this.config.dataDir), sampleNetworkState()]);
    if (!this.started) return;
    if (storage) {
      this.state!.update('storage', storage);
      const d = storage.detail as { usePercent: number; mount: string };
      this.checkDisk(d.usePercent, d.mount);
    }
    if (network) this.state!.update('network', network);
  }

  private async sendTelemetry(): Promise<void> {
    if (!this.connected) return; // telemetry is dropped while offline
    const t = this.topics!;
    const ts = new Date().toISOString();
    try {
      const system = await sampleSystem(this.config.dataDir);
      this.conn!.publish(t.telemetry('system'), JSON.stringify({ ts, ...system }), { qos: 0 }).catch(() => undefined);
    } catch (err) {
      this.log.debug('telemetry-failed', { err });
    }
    for (const m of this.opts.modules()) {
      if (!m.telemetry) continue;
      try {
        this.conn!.publish(t.telemetry(m.name), JSON.stringify({ ts, ...m.telemetry() }), { qos: 0 }).catch(() => undefined);
      } catch (err) {
        this.log.debug('module-telemetry-failed', { module: m.name, err });
      }
    }
  }

  private checkDisk(usePercent: number, mount: string): void {
    if (!this.diskLow && usePercent >= 90) {
      this.diskLow = true;
      this.emitEvent('disk-low', { mount, usePercent });
    } else if (this.diskLow && usePercent < 85) {
      this.diskLow = false;
      this.emitEvent('disk-ok', { mount, usePercent });
    }
  }

  // ---- the durable outbox ----

  private kickOutbox(): void {
    if (this.flushing) this.flushAgain = true;
    else setImmediate(() => void this.flushOutbox());
  }

  /** Sends the outbox head in order, QoS 1, deleting rows only once the broker acknowledged them. */
  private async flushOutbox(deadline = Infinity): Promise<void> {
    if (this.flushing || !this.outbox) return;
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        while (this.connected && Date.now() < deadline) {
          const rows = this.outbox.peek(100);
          if (rows.length === 0) break;
          // one batch in flight: mqtt.js writes them in order on one connection, the broker keeps that order
          const results = await Promise.all(rows.map((r) => this.conn!.publish(r.topic, r.payload, { qos: 1 })));
          if (results.includes(false)) break;
          this.outbox.acknowledge(rows[rows.length - 1].seq);
        }
      } while (this.flushAgain && this.connected);
    } catch (err) {
      this.log.debug('outbox-flush-interrupted', { err: toMssError(err).message, pending: this.outbox.pending });
    } finally {
      this.flushing = false;
    }
  }

  // ---- what operators send down ----

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const down = classifyDownTopic(this.topics!, topic);
    if (!down) return;
    switch (down.kind) {
      case 'cmd':
        void this.onCommand(down.name, payload, packet);
        return;
      case 'config-desired':
        if (payload.length === 0) return; // the operator cleared the retained document: keep what runs
        this.configQueue = this.configQueue.then(() => this.onDesiredConfig(payload)).catch((err) => this.log.error('config-handler-failed', { err }));
        return;
      case 'job': {
        if (payload.length === 0) return this.jobs!.submit(down.jobId, null);
        try {
          this.jobs!.submit(down.jobId, decodeJsonObject(payload, `jobs/${down.jobId}`));
        } catch (err) {
          this.jobs!.submit(down.jobId, null, err);
        }
        return;
      }
      case 'broadcast':
        if (down.name === 'rebirth') void this.republishRetained().catch(() => undefined);
        else if (down.name === 'check-jobs') this.jobs!.start();
        return;
    }
  }

  private async onDesiredConfig(payload: Buffer): Promise<void> {
    let report: ReportedConfig;
    let version: number | null = null;
    try {
      const doc = decodeJsonObject(payload, 'config/desired');
      version = typeof doc.version === 'number' ? doc.version : null;
      report = await this.configSync!.applyDesired(parseDesiredDoc(doc));
      if (report.status !== 'rejected') this.opts.onConfigApplied?.(this.config, report);
    } catch (err) {
      report = this.configSync!.rejectUnreadable(err, version);
    }
    if (!(await this.conn!.publish(this.topics!.configReported, JSON.stringify(report), { qos: 1, retain: true }).catch(() => false))) {
      this.log.info('config-report-deferred', { version: report.version }); // sent with the retained set on reconnect
    }
  }

  private async onCommand(name: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const props = packet.properties ?? {};
    const responseTopic = typeof props.responseTopic === 'string' && isValidReplyTopic(props.responseTopic) ? props.responseTopic : undefined;
    let replyTopic = responseTopic ?? this.topics!.cmdResponse(name);
    let reply: CommandReply;
    let doc: Record<string, unknown> | undefined;
    try {
      doc = decodeJsonObject(payload, `cmd/${name}`);
    } catch (err) {
      reply = errorReply(null, err);
    }
    if (doc) {
      const routing = commandReplyFields(doc);
      if (!responseTopic && routing.replyTo) replyTopic = routing.replyTo;
      try {
        const req = parseCommandRequest(doc);
        if (this.runningCommands >= MAX_CONCURRENT_COMMANDS) throw new MssError('limit-reached', `${MAX_CONCURRENT_COMMANDS} commands are already running`);
        this.runningCommands++;
        try {
          reply = await this.table!.run(name, req);
        } finally {
          this.runningCommands--;
        }
      } catch (err) {
        reply = errorReply(routing.id, err);
      }
    }
    const properties = props.correlationData ? { correlationData: props.correlationData } : undefined;
    await this.conn!.publish(replyTopic, JSON.stringify(reply!), { qos: 1, properties }).catch((err) => this.log.debug('cmd-reply-failed', { err }));
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).slice(0, 1000).sort();
  } catch {
    return [];
  }
}
