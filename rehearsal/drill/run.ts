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
import { $ } from "zx";
import type pg from "pg";
import { loadConfigFromFiles } from "../../infra/config/load.ts";
import type { Streaming } from "../../infra/posture/self-managed.ts";
import { MIN_REDO_SECONDS, type MeasuredPhases } from "../../infra/posture/calibration.ts";
import { useCalibration } from "../../infra/posture/figures.ts";
import { asServiceUser } from "../../runbooks/postgres/cluster.ts";
import { masterOf } from "../stand-ins/postgres.ts";
import { pgbackrest } from "../../runbooks/postgres/pgbackrest.ts";
import {
  archivePushSeconds,
  commandSecondsFromLog,
  pgbackrestLog,
  slowDownArchiving,
  startWalStream,
  turnOnArchiving,
  type ArchiveSettings,
  type WalStream,
} from "./archiving.ts";
import {
  expectSucceeded,
  logicalBackup,
  redisBackup,
  takeBaseBackup,
  verificationDir,
  verifyBackup,
} from "./backups.ts";
import { crash, DESTRUCTIVE_STATEMENT, destructiveStatement } from "./disaster.ts";
import { estimateNow, ratio, type DrillEstimate } from "./estimate.ts";
import { median, recoveredServerLog, redoFromLog } from "./measure.ts";
import { badDataOutcome, crashOutcome, type Destruction } from "./data-outcome.ts";
import { Cleanups, Phases } from "./phase.ts";
import { preflight } from "./tools-check.ts";
import { restore as pitrRestore } from "../../runbooks/point-in-time-restore.ts";
import { recoveryArgs, startRecovery, type Restored } from "./recover.ts";
import { firstWrite, rowsBack } from "./recovered.ts";
import { renderDrillMarkdown, type DrillReport, type Scenario } from "./drill-report.ts";
import type { RunbookRun } from "./runbook-process.ts";
import { seedDatabase } from "./seed.ts";
import { awsEnvironment, startServers } from "./servers.ts";
import { startWriters, type WriterLog } from "./writers.ts";

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

/** Less WAL than this replays too fast to time (and switched segments pad its LSN distance). */
const MIN_REDO_BYTES = 16 * 1024 ** 2;

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

export async function runDrill(
  o: DrillOptions & { signal?: AbortSignal; log?: (line: string) => void },
): Promise<DrillResult> {
  const log = o.log ?? (() => {});
  useCalibration(); // the estimate uses the figures drills measured (infra/posture/calibration.json)
  const runId = `drill-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").toLowerCase()}-${randomBytes(3).toString("hex")}`;
  const runDir = join(o.stateDir, runId);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const runsDir = join(runDir, "runs");
  const io = { stateDir: runsDir, log, ...(o.signal ? { signal: o.signal } : {}) };
  const phases = new Phases(log, o.signal);
  const cleanups = new Cleanups();
  const walConfig = loadConfigFromFiles(o.stack ?? "prod").walArchiving;
  const settings: ArchiveSettings = {
    archiveTimeoutSeconds: o.archiveTimeoutSeconds ?? walConfig.archiveTimeoutSeconds,
    streaming: o.streaming ?? walConfig.streaming,
  };
  const report: DrillReport = {
    reportVersion: 2,
    runId,
    scale: o.scale,
    scenario: o.scenario,
    wal: { ...settings, archiveDelaySeconds: o.archiveDelaySeconds ?? null },
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

  let exitCode: DrillResult["exitCode"] = 1;
  try {
    await phases.run("Check the tools are installed", () => preflight({ streaming: settings.streaming !== "off" }));
    const s = await phases.run(
      "Start PostgreSQL, Redis and the S3 emulator on loopback",
      () => startServers({ runDir, cleanups, ...(o.stack ? { stack: o.stack } : {}) }),
      (x) => `postgres 127.0.0.1:${x.pg.port}, redis 127.0.0.1:${x.redis.port}, s3 ${x.moto.endpoint}`,
    );
    report.workDirs = [s.pg.baseDir, s.redis.baseDir];
    const tier = s.objective;
    report.objective = {
      system: tier.system,
      tier: tier.tier,
      rtoMinutes: Math.min(tier.rtoMinutes, o.objective?.rtoMinutes ?? Infinity),
      rpoMinutes: Math.min(tier.rpoMinutes, o.objective?.rpoMinutes ?? Infinity),
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
      `Turn on continuous archiving (pgBackRest; archive_timeout ${settings.archiveTimeoutSeconds} s${o.archiveTimeoutSeconds === undefined ? ", from the stack config" : ""})`,
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
      cleanups.add("pg_receivewal", () => st.stop());
    }
    const logical = await phases.run(
      "Logical backup to the bucket (backup-database runbook)",
      () => logicalBackup(s, io),
      (m) => `backup ${m.backupId}, ${m.bytes} bytes`,
    );
    const reportDir = verificationDir(runDir);
    report.verification.logicalBackup = await phases.run(
      // Before the base backup: the scratch database's WAL is not replayed by the recovery.
      "Verify the logical backup in a scratch database before it is needed (verify-backup)",
      () =>
        verifyBackup(s, { ...io, reportDir }, masterOf(s.pg).connection("postgres"), ["--backup", logical.backupId]),
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

    // The application: writers on their own connections, and one probe connection of the drill's.
    const clients: pg.Client[] = [];
    cleanups.add("application connections", async () => {
      for (const c of clients) await c.end().catch(() => {});
    });
    for (let i = 0; i <= o.writers; i++) clients.push(await s.pg.client("eventchain"));
    const probe = clients.pop()!;
    probe.on("error", () => {});
    const writeFor = o.scenario === "crash" ? o.writeSeconds : o.writeSeconds / 2;
    const load = await phases.run(
      `Writers sell tickets for ${writeFor} s (${o.writers} connections, ${o.commitsPerSecond} commits/s; each acknowledgement recorded)`,
      async () => {
        await untilServerClockPast(probe, new Date(base.stoppedAt));
        const lsn = await currentLsn(probe);
        const writers = startWriters(clients, o.commitsPerSecond);
        await loadFor(writeFor * 1000, o.signal);
        return { writers, lsn, startedAt: writers.log.startedAt };
      },
      (x) => `${x.writers.log.acks.length} commits acknowledged so far`,
    );
    const { writers } = load;
    const pushes = archivePushSeconds(cfg);
    const walBytesWritten = await walSince(probe, load.lsn);
    const elapsed = (performance.timeOrigin + performance.now() - load.startedAt) / 1000;
    const ackedBefore = writers.log.acks.length;
    const estimate: DrillEstimate = await phases.run(
      "Estimate RTO and RPO from the figures in use, before the disaster",
      () =>
        estimateNow(probe, {
          scenario: o.scenario,
          settings,
          backup: base,
          stream,
          writesSince: new Date(load.startedAt),
          ...(walBytesWritten > 0 && elapsed > 0 ? { walBytesPerSecond: walBytesWritten / elapsed } : {}),
        }),
      (e) =>
        `RTO ${e.rto.verifiedSeconds.toFixed(1)} s (ready for writes ${e.rto.readyForWritesSeconds.toFixed(1)} s); RPO now ${e.rpo.nowSeconds.toFixed(1)} s, worst case ${e.rpo.worstCaseSeconds.toFixed(1)} s`,
    );
    report.estimate = estimate;
    report.machine.loadAverage = loadavg().map((x) => Math.round(x * 100) / 100);

    let incidentAt: Date;
    let writerLog: WriterLog;
    let destruction: Destruction | null = null;
    if (o.scenario === "crash") {
      // The incident is declared once the primary is gone, data directory and all (detection is instant here).
      incidentAt = await phases.run(
        "Disaster: the primary crashes without warning and its data directory is deleted",
        () => crash(s.pg),
        (at) => `incident at ${at.toISOString()}`,
      );
      writerLog = await writers.stopped();
      if (stream) await stream.stop();
    } else {
      destruction = await phases.run(
        `Disaster: ${DESTRUCTIVE_STATEMENT} without WHERE, committed while the writers sell`,
        () => destructiveStatement(s.pg, seeded.maxTicketId),
        (d) => `transaction ${d.xid} committed at ${d.committedAt}, ${d.rowsRemoved} payments removed`,
      );
      incidentAt = new Date(destruction.committedAt);
      const d = destruction;
      await phases.run(
        `The writers go on selling (${SALES_AFTER_STATEMENT} more) until the damage is noticed`,
        async () => {
          await writers.untilAcked(ackedBefore + SALES_AFTER_STATEMENT);
          return writers.stop();
        },
        (l) => `${l.acks.length - d.writerTicketsBefore.length} sales after the statement`,
      );
      writerLog = writers.log;
      await phases.run(
        "The primary is up: force the WAL holding the statement into the repository (pgbackrest check)",
        () => pgbackrest(cfg, ["check"]),
      );
    }
    report.incidentAt = incidentAt.toISOString();
    await probe.end().catch(() => {});

    // The recovery, as an SRE runs it; verification starts once the server takes writes.
    let restored: Restored | undefined;
    cleanups.add("PostgreSQL (recovered)", async () => {
      if (restored)
        await $({
          quiet: true,
          nothrow: true,
        })`${asServiceUser("postgres")} ${join(s.pg.binDir, "pg_ctl")} -D ${restored.dataDir} -m immediate -w stop`;
    });
    const recovery = startRecovery(
      recoveryArgs({
        outputsFile: s.outputsFile,
        cfg,
        targetRoot: join(s.pg.baseDir, "restores"),
        incidentAt,
        target: destruction
          ? { kind: "before-xid", xid: destruction.xid, committedAt: destruction.committedAt }
          : { kind: "latest" },
        ...(stream ? { walStreamDir: stream.dir } : {}),
      }),
      { ...io, env: awsEnvironment(s) },
    );
    let pitrRun: RunbookRun | undefined;
    const pitrDone = recovery.done.then((r) => (pitrRun = r));
    try {
      const ready = await phases.run(
        destruction
          ? `Recover to just before transaction ${destruction.xid} (point-in-time-restore --engine pgbackrest --before-xid)`
          : `Recover to the latest recoverable point${stream ? " (repository + WAL stream)" : ""} (point-in-time-restore --engine pgbackrest --time latest)`,
        () => recovery.ready,
        (r) => `promoted on 127.0.0.1:${r.restored.port}, taking writes`,
      );
      restored = ready.restored;
      const rec = restored;
      const back = await rowsBack(rec, seeded.maxTicketId);
      const first = await phases.run(
        "Ready for writes: the application's first sale on the recovered database",
        () => firstWrite(rec),
        (w) => `ticket ${w.ticketId}`,
      );
      const readyAt = first.at;
      report.verification.recoveredDatabase = await phases.run(
        "Verify the recovered database (verify-backup: tables, counts, every foreign key), and its rows against the writers'",
        () =>
          verifyBackup(
            s,
            { ...io, reportDir },
            { host: rec.socketDir, port: rec.port, user: "postgres", database: "eventchain" },
            ["--database", "eventchain"],
          ),
        (v) => (v.ok ? "passed" : `FAILED: ${v.message}`),
      );
      if (destruction) report.badData = badDataOutcome(destruction, writerLog, back);
      else report.crash = crashOutcome(writerLog, back.writerTickets);
      const verifiedAt = new Date();
      await phases.run(
        "The runbook backs the recovered cluster up (a full backup on its new timeline; after 'verified', not part of the RTO)",
        () => pitrDone.then((r) => expectSucceeded(r, [0, 3])),
        (r) => `point-in-time-restore ${r.runId} exited ${r.exitCode}`,
      );

      // What each phase took, by the tools' own accounts.
      const restoreSeconds = commandSecondsFromLog(pgbackrestLog(cfg, "restore"), "restore").pop();
      const redo = redoFromLog(recoveredServerLog(rec.baseDir));
      const readySeconds = (readyAt.getTime() - incidentAt.getTime()) / 1000;
      const verifiedSeconds = (verifiedAt.getTime() - incidentAt.getTime()) / 1000;
      const outcome = report.crash ?? report.badData!;
      const measuredPhases: MeasuredPhases = {
        ...(restoreSeconds ? { restore: { bytes: base.sizeBytes, seconds: restoreSeconds } } : {}),
        // Too little WAL to time (PostgreSQL logs centiseconds): no measurement of the redo rate.
        ...(redo && redo.seconds >= MIN_REDO_SECONDS && redo.walBytes >= MIN_REDO_BYTES
          ? { redo: { bytes: redo.walBytes, seconds: redo.seconds } }
          : {}),
        ...(restoreSeconds
          ? {
              overhead: {
                bytes: estimate.inputs.databaseBytes,
                seconds: Math.max(0.001, readySeconds - restoreSeconds - (redo?.seconds ?? 0)),
              },
            }
          : {}),
        verify: { bytes: estimate.inputs.databaseBytes, seconds: (verifiedAt.getTime() - readyAt.getTime()) / 1000 },
        ...(pushes.length ? { archivePush: { seconds: median(pushes)! } } : {}),
        ...(walBytesWritten > 0 && elapsed > 0 ? { walRate: { bytesPerSecond: walBytesWritten / elapsed } } : {}),
        ...(stream && o.scenario === "crash" ? { streamLag: { seconds: outcome.rpoSeconds } } : {}),
      };
      report.measured = {
        databaseBytes: estimate.inputs.databaseBytes,
        backupBytes: base.sizeBytes,
        commitsPerSecond: elapsed > 0 ? ackedBefore / elapsed : null,
        archivePushes: pushes.length,
        phases: measuredPhases,
      };
      const objective = report.objective;
      const rpoEstimate = estimate.rpo.nowSeconds;
      report.rto = {
        readyForWritesSeconds: Math.round(readySeconds * 100) / 100,
        achievedSeconds: Math.round(verifiedSeconds * 100) / 100,
        objectiveMinutes: objective.rtoMinutes,
        met: verifiedSeconds <= objective.rtoMinutes * 60,
        estimateReadyForWritesSeconds: estimate.rto.readyForWritesSeconds,
        estimateSeconds: estimate.rto.verifiedSeconds,
        ratio: ratio(estimate.rto.verifiedSeconds, verifiedSeconds),
      };
      report.rpo = {
        achievedSeconds: outcome.rpoSeconds,
        basis: outcome.rpoBasis,
        objectiveMinutes: objective.rpoMinutes,
        met: outcome.rpoSeconds <= objective.rpoMinutes * 60,
        estimateSeconds: rpoEstimate,
        worstCaseSeconds: o.scenario === "crash" ? estimate.rpo.worstCaseSeconds : null,
        ratio: ratio(rpoEstimate, outcome.rpoSeconds),
      };
      const verified = report.verification.logicalBackup.ok && report.verification.recoveredDatabase.ok && outcome.ok;
      report.verdict = !verified ? "failed" : report.rto.met && report.rpo.met ? "objectives_met" : "objectives_missed";
      exitCode = report.verdict === "objectives_met" ? 0 : report.verdict === "objectives_missed" ? 3 : 1;
      if (!verified)
        report.failure = [
          ...(report.verification.logicalBackup.ok ? [] : ["the logical backup failed its verification"]),
          ...(report.verification.recoveredDatabase.ok ? [] : ["the recovered database failed verify-backup"]),
          ...outcome.problems,
        ].join("; ");
      if (o.keep) {
        report.kept = {
          primary:
            o.scenario === "crash"
              ? `stopped, data directory deleted by the drill (${s.pg.baseDir})`
              : `psql "host=${s.pg.socketDir} port=${s.pg.port} user=postgres dbname=eventchain"`,
          recovered: `psql "host=${rec.socketDir} port=${rec.port} user=postgres dbname=eventchain"`,
          redis: `redis-cli -p ${s.redis.port} (password: requirepass in ${s.redis.baseDir}/redis.conf, pass it as REDISCLI_AUTH)`,
          s3: `${s.moto.endpoint} (bucket ${s.bucket}; any access key works)`,
          cleanup: "press Ctrl-C in the drill's terminal: it stops every server and removes their directories",
        };
      }
    } finally {
      // Whatever happened, the runbook's process is finished (or stopped) before cleanup.
      if (!pitrRun) {
        await pitrDone.catch(() => {});
      }
      const r = pitrRun;
      restored ??= r?.journal?.steps[pitrRestore.id]?.outputs as Restored | undefined;
      report.pitr = r
        ? { runId: r.runId, exitCode: r.exitCode, verdict: r.report?.verdict ?? null, reportMarkdown: r.reportMarkdown }
        : null;
    }
  } catch (error) {
    report.failure = (error as Error).message;
    report.verdict = o.signal?.aborted ? "interrupted" : "failed";
    exitCode = o.signal?.aborted ? 130 : 1;
  }
  const cleanup = () => cleanups.runAll(log);
  if (!o.keep) await cleanup();
  report.finishedAt = new Date().toISOString();
  const markdown = renderDrillMarkdown(report, report.pitr?.reportMarkdown ?? null);
  const paths = { json: join(runDir, "drill-report.json"), markdown: join(runDir, "drill-report.md") };
  writeFileSync(paths.json, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(paths.markdown, markdown, { mode: 0o600 });
  return { exitCode, report, markdown, reportPaths: paths, ...(o.keep ? { cleanup } : {}) };
}
