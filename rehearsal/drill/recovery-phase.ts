/**
 * The drill's recovery, as an SRE runs it, and what it shows: point-in-time-restore in its own
 * process holds the recovered server read-only at its stop (the drill reads the writers' rows
 * there), verifies it side by side with its promotion — two milestones, "ready for writes" (the
 * application's first sale commits) and "verified" (the runbook's checks of the paused server's
 * snapshot passed) — then backs the recovered cluster up (after "verified", not in the RTO).
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { $ } from "zx";
import { asServiceUser } from "../../runbooks/postgres/cluster.ts";
import { restore as pitrRestore } from "../../runbooks/point-in-time-restore.ts";
import { commandSecondsFromLog, pgbackrestLog } from "./archiving.ts";
import { awsEnvironment } from "./servers.ts";
import { expectSucceeded } from "./backups.ts";
import { badDataOutcome, crashOutcome, type Destruction } from "./data-outcome.ts";
import type { DrillReport } from "./drill-report.ts";
import { judge, measuredPhases } from "./judge.ts";
import { recoveryArgs, startRecovery, type Restored } from "./recover.ts";
import { firstWrite, rowsBack } from "./recovered.ts";
import type { RunbookRun } from "./runbook-process.ts";
import type { WriterLog } from "./writers.ts";
import type { DrillContext, Loaded, SetUp } from "./run.ts";

/** How the drill's report shows the connections it kept (`--keep`). */
function keptLines(ctx: DrillContext, up: SetUp, rec: Restored): Record<string, string> {
  const { s } = up;
  return {
    primary:
      ctx.o.scenario === "crash"
        ? `stopped, data directory deleted by the drill (${s.pg.baseDir})`
        : `psql "host=${s.pg.socketDir} port=${s.pg.port} user=postgres dbname=eventchain"`,
    recovered: `psql "host=${rec.socketDir} port=${rec.port} user=postgres dbname=eventchain"`,
    redis: `redis-cli -p ${s.redis.port} (password: requirepass in ${s.redis.baseDir}/redis.conf, pass it as REDISCLI_AUTH)`,
    s3: `${s.moto.endpoint} (bucket ${s.bucket}; any access key works)`,
    cleanup: "press Ctrl-C in the drill's terminal: it stops every server and removes their directories",
  };
}

/** Recovers, verifies, measures and judges; returns the verdict (the report is filled in). */
export async function recoverAndVerify(
  ctx: DrillContext,
  up: SetUp,
  loaded: Loaded,
  hit: { incidentAt: Date; writerLog: WriterLog; destruction: Destruction | null },
): Promise<DrillReport["verdict"]> {
  const { phases, report, o } = ctx;
  const { destruction } = hit;
  let restored: Restored | undefined;
  ctx.cleanups.add("PostgreSQL (recovered)", async () => {
    if (restored)
      await $({
        quiet: true,
        nothrow: true,
      })`${asServiceUser("postgres")} ${join(up.s.pg.binDir, "pg_ctl")} -D ${restored.dataDir} -m immediate -w stop`;
  });
  const recovery = startRecovery(
    recoveryArgs({
      outputsFile: up.s.outputsFile,
      cfg: up.cfg,
      targetRoot: join(up.s.pg.baseDir, "restores"),
      incidentAt: hit.incidentAt,
      target: destruction
        ? { kind: "before-xid", xid: destruction.xid, committedAt: destruction.committedAt }
        : { kind: "latest" },
      ...(up.stream ? { walStreamDir: up.stream.dir } : {}),
    }),
    { ...ctx.io, env: awsEnvironment(up.s) },
  );
  let pitrRun: RunbookRun | undefined;
  const pitrDone = recovery.done.then((r) => (pitrRun = r));
  try {
    const held = await phases.run(
      destruction
        ? `Recover to just before transaction ${destruction.xid} and hold there read-only (point-in-time-restore --engine pgbackrest --before-xid)`
        : `Recover to the latest recoverable point${up.stream ? " (repository + WAL stream)" : ""} and hold there read-only (point-in-time-restore --engine pgbackrest --time latest)`,
      () => recovery.held,
      (h) =>
        `held on 127.0.0.1:${h.restored.port}${h.redo ? `; redo ${h.redo.seconds.toFixed(2)} s for ${(h.redo.walBytes / 1e6).toFixed(1)} MB` : ""}`,
    );
    const rec = (restored = held.restored);
    // Read while it is held read-only: nothing but the drill's own first sale writes after it.
    const back = await rowsBack(rec, up.maxTicketId);
    const first = await phases.run(
      "Ready for writes: the application's first sale, as soon as the runbook has promoted the server",
      () =>
        Promise.race([
          firstWrite(rec),
          pitrDone.then((r) => {
            if (r.exitCode !== 0 && r.exitCode !== 3)
              throw new Error(`point-in-time-restore exited ${r.exitCode} before the server took writes: ${r.message}`);
            return firstWrite(rec);
          }),
        ]),
      (w) => `ticket ${w.ticketId}`,
    );
    const verified = await phases.run(
      "Verified: the runbook's checks of the held server's snapshot (verify-backup's: tables, counts, every foreign key), side by side with its promotion",
      () => recovery.verified,
      (v) => `${v.checks} checks passed; promoted at ${v.promotedAt ?? "?"}`,
    );
    // The runbook wrote it next to the recovered cluster, which cleanup removes: the drill keeps a copy.
    const kept = verified.verificationMarkdown ? join(up.reportDir, `recovered-${basename(rec.baseDir)}.md`) : null;
    if (kept && verified.verificationMarkdown) {
      mkdirSync(up.reportDir, { recursive: true, mode: 0o700 });
      copyFileSync(verified.verificationMarkdown, kept);
    }
    report.verification.recoveredDatabase = {
      ok: true,
      exitCode: 0,
      report: kept,
      message: `${verified.checks} checks passed on the snapshot held at ${verified.snapshotAt ?? "?"}`,
    };
    if (destruction) report.badData = badDataOutcome(destruction, hit.writerLog, back);
    else report.crash = crashOutcome(hit.writerLog, back.writerTickets);
    await phases.run(
      "The runbook backs the recovered cluster up (a full backup on its new timeline; after 'verified', not part of the RTO)",
      () => pitrDone.then((r) => expectSucceeded(r, [0, 3])),
      (r) => `point-in-time-restore ${r.runId} exited ${r.exitCode}`,
    );
    // What each phase took, by the tools' own accounts.
    const outcome = report.crash ?? report.badData!;
    const times = {
      incidentAt: hit.incidentAt,
      readyAt: first.at,
      verifiedAt: verified.at,
      restoreSeconds: commandSecondsFromLog(pgbackrestLog(up.cfg, "restore"), "restore").pop(),
      redo: held.redo,
    };
    const m = loaded.measures;
    report.measured = {
      databaseBytes: loaded.estimate.inputs.databaseBytes,
      backupBytes: up.base.sizeBytes,
      commitsPerSecond: m.elapsedSeconds > 0 ? m.ackedBefore / m.elapsedSeconds : null,
      archivePushes: m.pushes.length,
      phases: measuredPhases(times, loaded.estimate, m, outcome.rpoSeconds, o.scenario),
    };
    if (o.keep) report.kept = keptLines(ctx, up, rec);
    return judge(report, times, loaded.estimate, outcome);
  } finally {
    // Whatever happened, the runbook's process is finished (or stopped) before cleanup.
    if (!pitrRun) await pitrDone.catch(() => {});
    const r = pitrRun;
    restored ??= r?.journal?.steps[pitrRestore.id]?.outputs as Restored | undefined;
    report.pitr = r
      ? { runId: r.runId, exitCode: r.exitCode, verdict: r.report?.verdict ?? null, reportMarkdown: r.reportMarkdown }
      : null;
  }
}
