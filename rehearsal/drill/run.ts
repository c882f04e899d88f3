/**
 * The drill (see rehearsal/drill.ts), phase after phase; each phase is its own module and gets
 * what it needs as arguments — connections and the runbooks' environments are built explicitly
 * (`servers.ts`), the drill's own process environment is never changed. Importable: the tests and
 * the bench run it in-process. Every server it starts is stopped and every temp directory removed
 * at the end, also on failure and on interrupt, unless `keep` is set.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { loadConfigFromFiles } from "../../infra/config/load.ts";
import type { Streaming } from "../../infra/posture/self-managed.ts";
import { useCalibration } from "../../infra/posture/figures.ts";
import { RECOVERY_METHOD } from "../../infra/posture/calibration.ts";
import { masterOf } from "../stand-ins/postgres.ts";
import { pgbackrest } from "../../runbooks/postgres/pgbackrest.ts";
import {
  archivePushSeconds,
  slowDownArchiving,
  startWalStream,
  turnOnArchiving,
  type ArchiveSettings,
  type WalStream,
} from "./archiving.ts";
import { logicalBackup, redisBackup, takeBaseBackup, verificationDir, verifyBackup } from "./backups.ts";
import { crash, DESTRUCTIVE_STATEMENT, destructiveStatement } from "./disaster.ts";
import { estimateNow, type DrillEstimate } from "./estimate.ts";
import type { Destruction } from "./data-outcome.ts";
import { Cleanups, Phases } from "./phase.ts";
import { preflight } from "./tools-check.ts";
import { recoverAndVerify } from "./recovery-phase.ts";
import { renderDrillMarkdown, type DrillReport, type Scenario } from "./drill-report.ts";
import { seedDatabase } from "./seed.ts";
import { startServers, type DrillServers } from "./servers.ts";
import { startWriters, type WriterLog, type Writers } from "./writers.ts";
import type { BackupInfo, PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";
import type { LoadMeasures } from "./judge.ts";

export interface DrillOptions {
  scale: number;
  scenario: Scenario;
  /** Default: the stack config's `walArchiving.streaming`. */
  streaming?: Streaming;
  /** Default: the stack config's `walArchiving.archiveTimeoutSeconds`. */
  archiveTimeoutSeconds?: number;
  /** Fault: delay every archive-push after the base backup by this many seconds. */
  archiveDelaySeconds?: number;
  writers: number;
  commitsPerSecond: number;
  /** How long the writers sell before the disaster. */
  writeSeconds: number;
  keep: boolean;
  stateDir: string;
  json: boolean;
  /** Stack whose config gives objectives and archive settings (default prod). */
  stack?: string;
  /** In-process only (tests, what-ifs): a stricter objective than the tier's. */
  objective?: { rtoMinutes?: number; rpoMinutes?: number };
}

export interface DrillResult {
  exitCode: 0 | 1 | 3 | 130;
  report: DrillReport;
  markdown: string;
  reportPaths?: { json: string; markdown: string };
  /** With `keep`: stops the servers and removes their directories (the CLI calls it on Ctrl-C). */
  cleanup?: () => Promise<void>;
}

/** Sales the writers make after the destructive statement, before the recovery starts. */
const SALES_AFTER_STATEMENT = 20;

/** Waits `ms` (the writers' load runs meanwhile), cut short by an abort. */
function loadFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(new Error(String(signal.reason ?? "interrupted")));
      },
      { once: true },
    );
  });
}

async function untilServerClockPast(client: pg.Client, t: Date): Promise<void> {
  for (let i = 0, delay = 10; ; i++, delay = Math.min(delay * 2, 200)) {
    const { rows } = await client.query<{ past: boolean }>("SELECT clock_timestamp() > $1 AS past", [t]);
    if (rows[0]!.past) return;
    if (i > 60) throw new Error(`server clock did not pass ${t.toISOString()}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

const currentLsn = async (c: pg.Client) =>
  (await c.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l")).rows[0]!.l;
const walSince = async (c: pg.Client, lsn: string) =>
  Number(
    (await c.query<{ d: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS d", [lsn])).rows[0]!.d,
  );

/** What every phase of one drill shares: its options, log, phases, cleanups, report and runbooks' I/O. */
export interface DrillContext {
  o: DrillOptions & { signal?: AbortSignal };
  log: (line: string) => void;
  runDir: string;
  io: { stateDir: string; log: (line: string) => void; signal?: AbortSignal };
  phases: Phases;
  cleanups: Cleanups;
  settings: ArchiveSettings;
  report: DrillReport;
}

/** What the set-up leaves for the later phases. */
export interface SetUp {
  s: DrillServers;
  cfg: PgBackRestConfig;
  base: BackupInfo;
  stream: WalStream | null;
  maxTicketId: number;
  reportDir: string;
}

/** What the writers' phase leaves: the estimate printed before the disaster, and the writers still selling. */
export interface Loaded {
  writers: Writers;
  estimate: DrillEstimate;
  measures: LoadMeasures;
}

/** The drill's context and its report, before anything runs. */
function prepare(o: DrillOptions & { signal?: AbortSignal; log?: (line: string) => void }): DrillContext {
  const log = o.log ?? (() => {});
  const runId = `drill-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").toLowerCase()}-${randomBytes(3).toString("hex")}`;
  const runDir = join(o.stateDir, runId);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const phases = new Phases(log, o.signal);
  const walConfig = loadConfigFromFiles(o.stack ?? "prod").walArchiving;
  const settings: ArchiveSettings = {
    archiveTimeoutSeconds: o.archiveTimeoutSeconds ?? walConfig.archiveTimeoutSeconds,
    streaming: o.streaming ?? walConfig.streaming,
    compression: walConfig.repositoryCompression,
  };
  const report: DrillReport = {
    reportVersion: 2,
    runId,
    recoveryMethod: RECOVERY_METHOD,
    scale: o.scale,
    scenario: o.scenario,
    wal: {
      archiveTimeoutSeconds: settings.archiveTimeoutSeconds,
      streaming: settings.streaming,
      archiveDelaySeconds: o.archiveDelaySeconds ?? null,
    },
    writers: { count: o.writers, commitsPerSecond: o.commitsPerSecond, seconds: o.writeSeconds },
    machine: { cpus: cpus().length, loadAverage: null },
    startedAt: new Date().toISOString(),
    finishedAt: "",
    verdict: "failed",
    objective: null,
    incidentAt: null,
    estimate: null,
    rto: null,
    rpo: null,
    crash: null,
    badData: null,
    measured: null,
    verification: { logicalBackup: null, recoveredDatabase: null },
    pitr: null,
    phases: phases.records,
    failure: null,
    kept: null,
    workDirs: [],
  };
  const io = { stateDir: join(runDir, "runs"), log, ...(o.signal ? { signal: o.signal } : {}) };
  return { o, log, runDir, io, phases, cleanups: new Cleanups(), settings, report };
}

/** Servers, schema, archiving, and every backup the recovery relies on, proven before the disaster. */
async function setUp(ctx: DrillContext): Promise<SetUp> {
  const { o, phases, settings, report, io } = ctx;
  await phases.run("Check the tools are installed", () => preflight({ streaming: settings.streaming !== "off" }));
  const s = await phases.run(
    "Start PostgreSQL, Redis and the S3 emulator on loopback",
    () => startServers({ runDir: ctx.runDir, cleanups: ctx.cleanups, ...(o.stack ? { stack: o.stack } : {}) }),
    (x) => `postgres 127.0.0.1:${x.pg.port}, redis 127.0.0.1:${x.redis.port}, s3 ${x.moto.endpoint}`,
  );
  report.workDirs = [s.pg.baseDir, s.redis.baseDir];
  report.objective = {
    system: s.objective.system,
    tier: s.objective.tier,
    rtoMinutes: Math.min(s.objective.rtoMinutes, o.objective?.rtoMinutes ?? Infinity),
    rpoMinutes: Math.min(s.objective.rpoMinutes, o.objective?.rpoMinutes ?? Infinity),
  };
  const seeded = await phases.run(
    `Create the EventChain schema and seed it (scale ${o.scale})`,
    () => seedDatabase(s.pg, o.scale),
    (x) =>
      Object.entries(x.rows)
        .map(([t, k]) => `${t} ${k}`)
        .join(", "),
  );
  const cfg = await phases.run(
    `Turn on continuous archiving (pgBackRest, ${settings.compression}; archive_timeout ${settings.archiveTimeoutSeconds} s${o.archiveTimeoutSeconds === undefined ? ", from the stack config" : ""})`,
    () => turnOnArchiving(s.pg, settings),
  );
  let stream: WalStream | null = null;
  if (settings.streaming === "pg_receivewal") {
    stream = await phases.run(
      "Stream WAL continuously to the repository host (pg_receivewal, synchronous, replication slot)",
      () => startWalStream(s.pg, join(s.pg.baseDir, "wal-stream")),
      (w) => w.dir,
    );
    const st = stream;
    ctx.cleanups.add("pg_receivewal", () => st.stop());
  }
  const logical = await phases.run(
    "Logical backup to the bucket (backup-database runbook)",
    () => logicalBackup(s, io),
    (m) => `backup ${m.backupId}, ${m.bytes} bytes`,
  );
  const reportDir = verificationDir(ctx.runDir);
  report.verification.logicalBackup = await phases.run(
    // Before the base backup: the scratch database's WAL is not replayed by the recovery.
    "Verify the logical backup in a scratch database before it is needed (verify-backup)",
    () => verifyBackup(s, { ...io, reportDir }, masterOf(s.pg).connection("postgres"), ["--backup", logical.backupId]),
    (v) => (v.ok ? "passed" : `FAILED: ${v.message}`),
  );
  await phases.run(
    "Redis backup with a test restore (backup-redis runbook)",
    () => redisBackup(s, io),
    (k) => `${k ?? "?"} keys restored and matched`,
  );
  const base = await phases.run(
    "Base backup (pgBackRest full)",
    () => takeBaseBackup(cfg),
    (b) => `${b.label}, ${(b.repoSizeBytes / 1e6).toFixed(1)} MB in the repository`,
  );
  if (o.archiveDelaySeconds) {
    const delay = o.archiveDelaySeconds;
    await phases.run(`Fault: archiving slowed down (every archive-push ${delay} s late)`, () =>
      slowDownArchiving(s.pg, delay),
    );
  }
  return { s, cfg, base, stream, maxTicketId: seeded.maxTicketId, reportDir };
}

/** The application sells (each acknowledgement recorded); the estimate is printed before the disaster. */
async function loadAndEstimate(ctx: DrillContext, up: SetUp): Promise<Loaded> {
  const { o, phases } = ctx;
  // The application: writers on their own connections, and one probe connection of the drill's.
  const clients: pg.Client[] = [];
  ctx.cleanups.add("application connections", async () => {
    for (const c of clients) await c.end().catch(() => {});
  });
  for (let i = 0; i <= o.writers; i++) clients.push(await up.s.pg.client("eventchain"));
  const probe = clients.pop()!;
  probe.on("error", () => {});
  const writeFor = o.scenario === "crash" ? o.writeSeconds : o.writeSeconds / 2;
  const load = await phases.run(
    `Writers sell tickets for ${writeFor} s (${o.writers} connections, ${o.commitsPerSecond} commits/s; each acknowledgement recorded)`,
    async () => {
      await untilServerClockPast(probe, new Date(up.base.stoppedAt));
      const lsn = await currentLsn(probe);
      const writers = startWriters(clients, o.commitsPerSecond);
      await loadFor(writeFor * 1000, o.signal);
      return { writers, lsn, startedAt: writers.log.startedAt };
    },
    (x) => `${x.writers.log.acks.length} commits acknowledged so far`,
  );
  const walBytesWritten = await walSince(probe, load.lsn);
  const elapsedSeconds = (performance.timeOrigin + performance.now() - load.startedAt) / 1000;
  const estimate = await phases.run(
    "Estimate RTO (a range) and RPO from the figures in use, before the disaster",
    () =>
      estimateNow(probe, {
        scenario: o.scenario,
        settings: ctx.settings,
        backup: up.base,
        stream: up.stream,
        writesSince: new Date(load.startedAt),
        ...(walBytesWritten > 0 && elapsedSeconds > 0 ? { walBytesPerSecond: walBytesWritten / elapsedSeconds } : {}),
      }),
    (e) =>
      `RTO ${e.rto.range ? `${e.rto.range.low.toFixed(1)}–${e.rto.range.high.toFixed(1)} s (point ${e.rto.range.seconds.toFixed(1)} s)` : `${e.rto.verifiedSeconds.toFixed(1)} s`} to verified, ready for writes ${e.rto.readyForWritesSeconds.toFixed(1)} s; RPO now ${e.rpo.nowSeconds.toFixed(1)} s, worst case ${e.rpo.worstCaseSeconds.toFixed(1)} s`,
  );
  ctx.report.estimate = estimate;
  ctx.report.machine.loadAverage = loadavg().map((x) => Math.round(x * 100) / 100);
  await probe.end().catch(() => {});
  const measures: LoadMeasures = {
    backupBytes: up.base.sizeBytes,
    pushes: archivePushSeconds(up.cfg),
    walBytesWritten,
    elapsedSeconds,
    ackedBefore: load.writers.log.acks.length,
    streaming: up.stream !== null,
  };
  return { writers: load.writers, estimate, measures };
}

/** The disaster: a crash without warning, or a destructive statement the writers sell past. */
async function strike(
  ctx: DrillContext,
  up: SetUp,
  loaded: Loaded,
): Promise<{ incidentAt: Date; writerLog: WriterLog; destruction: Destruction | null }> {
  const { phases } = ctx;
  const { writers } = loaded;
  if (ctx.o.scenario === "crash") {
    // The incident is declared once the primary is gone, data directory and all (detection is instant here).
    const incidentAt = await phases.run(
      "Disaster: the primary crashes without warning and its data directory is deleted",
      () => crash(up.s.pg),
      (at) => `incident at ${at.toISOString()}`,
    );
    const writerLog = await writers.stopped();
    if (up.stream) await up.stream.stop();
    return { incidentAt, writerLog, destruction: null };
  }
  const d = await phases.run(
    `Disaster: ${DESTRUCTIVE_STATEMENT} without WHERE, committed while the writers sell`,
    () => destructiveStatement(up.s.pg, up.maxTicketId),
    (x) => `transaction ${x.xid} committed at ${x.committedAt}, ${x.rowsRemoved} payments removed`,
  );
  await phases.run(
    `The writers go on selling (${SALES_AFTER_STATEMENT} more) until the damage is noticed`,
    async () => {
      await writers.untilAcked(loaded.measures.ackedBefore + SALES_AFTER_STATEMENT);
      return writers.stop();
    },
    (l) => `${l.acks.length - d.writerTicketsBefore.length} sales after the statement`,
  );
  await phases.run(
    "The primary is up: force the WAL holding the statement into the repository (pgbackrest check)",
    () => pgbackrest(up.cfg, ["check"]),
  );
  return { incidentAt: new Date(d.committedAt), writerLog: writers.log, destruction: d };
}

/**
 * The whole drill, phase after phase: set up and prove the backups, load and estimate, the
 * disaster, the recovery verified (`recovery-phase.ts`), then cleanup and the report files.
 */
export async function runDrill(
  o: DrillOptions & { signal?: AbortSignal; log?: (line: string) => void },
): Promise<DrillResult> {
  useCalibration(); // the estimate uses the figures drills measured (infra/posture/calibration.json)
  const ctx = prepare(o);
  const { report } = ctx;
  let exitCode: DrillResult["exitCode"] = 1;
  try {
    const up = await setUp(ctx);
    const loaded = await loadAndEstimate(ctx, up);
    const hit = await strike(ctx, up, loaded);
    report.incidentAt = hit.incidentAt.toISOString();
    report.verdict = await recoverAndVerify(ctx, up, loaded, hit);
    exitCode = report.verdict === "objectives_met" ? 0 : report.verdict === "objectives_missed" ? 3 : 1;
  } catch (error) {
    report.failure = (error as Error).message;
    report.verdict = o.signal?.aborted ? "interrupted" : "failed";
    exitCode = o.signal?.aborted ? 130 : 1;
  }
  const cleanup = () => ctx.cleanups.runAll(ctx.log);
  if (!o.keep) await cleanup();
  report.finishedAt = new Date().toISOString();
  const markdown = renderDrillMarkdown(report, report.pitr?.reportMarkdown ?? null);
  const paths = { json: join(ctx.runDir, "drill-report.json"), markdown: join(ctx.runDir, "drill-report.md") };
  writeFileSync(paths.json, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(paths.markdown, markdown, { mode: 0o600 });
  return { exitCode, report, markdown, reportPaths: paths, ...(o.keep ? { cleanup } : {}) };
}
