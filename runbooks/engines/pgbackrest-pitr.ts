/**
 * Point-in-time restore engine for self-managed PostgreSQL with pgBackRest
 * (`point-in-time-restore --engine pgbackrest`). Restores the stanza's newest base backup that
 * finished before the target time into a NEW data directory `<target-root>/<target id>/data`
 * (one restore process per core) and starts it on a free loopback port; it replays archived WAL
 * fetched ahead of replay (asynchronous archive-get) up to the time (inclusive) and holds there,
 * read-only. The verify step then checks the recovered data on that paused server (the integrity
 * checks of verify-backup, on a snapshot taken before promotion) side by side with the
 * promotion and what must wait for it (takes writes, new timeline). The source cluster and its
 * data directory are never touched.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import pg from "pg";
import { findPostgresBinDir } from "../postgres/cluster.ts";
import { assertNoControl } from "../postgres/shell-command.ts";
import { ensureClusterRunning, logTail, runningPostmaster } from "../postgres/recovered-cluster.ts";
import { buildVerificationReport, checkDatabase, renderVerificationMarkdown } from "../postgres/integrity.ts";
import { pausedRedo, recoveryState, verifyWhilePromoting } from "../postgres/paused-recovery.ts";
import {
  archivePushCommand,
  info,
  latestArchivedAt,
  pgbackrest,
  restoreToTime,
  assertStanza,
  type PgBackRestConfig,
  type RecoveryStop,
} from "../postgres/pgbackrest.ts";
import { BadInputError } from "../lib/errors.ts";
import type { PitrContext, RestoreEngine, RestoreTarget } from "../lib/restore-engine.ts";
import type { RawOptions } from "../lib/types.ts";

export interface PgBackRestEngineOptions {
  configFile: string;
  stanza: string;
  targetRoot: string;
  /** Stop just before this transaction commits (a destructive statement's), instead of at the time. */
  beforeXid?: string;
  /** Where pg_receivewal streams WAL: read after the repository's, the partial segment included. */
  walStreamDir?: string;
}

/** Newest file time in the WAL stream directory, rounded up to the second (null when empty). */
function newestStreamed(dir: string): Date | null {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (!/^[0-9A-F]{24}(\.partial)?$/.test(name)) continue;
    newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
  }
  return newest ? new Date(Math.ceil(newest / 1000) * 1000) : null;
}

/**
 * Pure: the restorable window. It ends at the newest of the archived WAL, the streamed WAL and the
 * newest backup's end: a backup is restorable to its own end even when no segment was archived
 * after it (a crash right after a backup), and both file times and backup stops are whole
 * seconds, rounded differently.
 */
export function restorableWindow(
  backups: { stoppedAt: string }[],
  archivedAt: Date | null,
  streamedAt: Date | null,
): { earliest: Date; latest: Date } {
  const ends = [archivedAt, streamedAt, new Date(backups[backups.length - 1]!.stoppedAt)].filter(
    (d): d is Date => d !== null,
  );
  return {
    earliest: new Date(backups[0]!.stoppedAt),
    latest: new Date(Math.max(...ends.map((d) => d.getTime()))),
  };
}

/** Where replay stops: before the bad transaction, at the end of the WAL for "latest", else at the time. */
function stopOf(ctx: PitrContext<PgBackRestEngineOptions>): RecoveryStop {
  const { beforeXid } = ctx.options.engineOptions;
  if (beforeXid) return { kind: "before-xid", xid: beforeXid };
  return ctx.options.time === "latest" ? { kind: "end-of-wal" } : { kind: "time" };
}

interface Restored {
  dataDir: string;
  baseDir: string;
  socketDir: string;
  port: number;
  logFile: string;
  /** When the restore finished (a later backup in the stanza is the recovered cluster's). */
  restoredAt: string;
}

/**
 * Written next to the data directory once pgBackRest's restore has finished: a data directory
 * without it is a restore cut short, never mistaken for a finished one on --resume.
 */
const RESTORE_MARKER = "restore-finished.json";

/** Pure: a SQL string literal for the dry-run's description (the step itself uses the driver's). */
const sqlLiteral = (v: string) => `'${v.replace(/'/g, "''")}'`;

const cfgOf = (ctx: PitrContext<PgBackRestEngineOptions>): PgBackRestConfig => ({
  configFile: ctx.options.engineOptions.configFile,
  stanza: ctx.options.engineOptions.stanza,
  dir: join(ctx.options.engineOptions.configFile, ".."),
});
const baseDirOf = (ctx: PitrContext<PgBackRestEngineOptions>, target: RestoreTarget) =>
  join(ctx.options.engineOptions.targetRoot, target.targetId);

/** A client on the restored cluster's Unix socket (local trust, socket dir 0700). */
async function connect(r: Restored, database: string): Promise<pg.Client> {
  const c = new pg.Client({ host: r.socketDir, port: r.port, user: "postgres", database });
  c.on("error", () => {});
  await c.connect();
  return c;
}

/**
 * The restored cluster of `target`, running, found from its data directory alone: never from a
 * port or socket an earlier process remembered (a resumed run has none, a reboot changes them).
 * A stopped cluster is started again; one that does not start fails at once, naming its log.
 */
async function recovered(ctx: PitrContext<PgBackRestEngineOptions>, target: RestoreTarget): Promise<Restored> {
  const baseDir = baseDirOf(ctx, target);
  const dataDir = join(baseDir, "data");
  const marker = join(baseDir, RESTORE_MARKER);
  if (!existsSync(marker))
    throw new Error(
      `no finished restore of ${target.targetId} in ${baseDir} (no ${RESTORE_MARKER}): the restore step has not finished`,
    );
  const { restoredAt } = JSON.parse(readFileSync(marker, "utf8")) as { restoredAt: string };
  const found = await ensureClusterRunning({
    binDir: await findPostgresBinDir(),
    baseDir,
    dataDir,
    onRestart: (m) => ctx.log.warn(m),
  });
  return { dataDir, baseDir, socketDir: found.socketDir, port: found.port, logFile: found.logFile, restoredAt };
}

/** Checked on the held server before its promotion: no commit after the restore time. */
async function beforePromotion(c: pg.Client, target: RestoreTarget) {
  const {
    rows: [s],
  } = await c.query<{ last: Date | null }>(
    `SELECT CASE WHEN current_setting('track_commit_timestamp') = 'on' THEN (pg_last_committed_xact()).timestamp END AS last`,
  );
  if (s!.last && s!.last > new Date(target.restoreTime))
    throw new Error(
      `${target.targetId} holds a commit at ${s!.last.toISOString()}, after the restore time ${target.restoreTime}: nothing was promoted`,
    );
  return { lastCommitBeforeRestoreTime: s!.last?.toISOString() ?? null };
}

/** What must wait for the promotion: it left recovery, its new timeline, it takes writes. */
async function afterPromotion(c: pg.Client, target: RestoreTarget) {
  const {
    rows: [s],
  } = await c.query<{ rec: boolean; tli: number }>(
    `SELECT pg_is_in_recovery() AS rec, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli`,
  );
  if (s!.rec) throw new Error(`${target.targetId} is still in recovery after its promotion`);
  // It takes writes (a promoted primary, not a read-only standby).
  const {
    rows: [w],
  } = await c.query<{ xid: string }>("SELECT txid_current()::text AS xid");
  return { promoted: true, timeline: s!.tli, writableXid: w!.xid };
}

/** The same checks on a cluster promoted already (a resumed run), on its data as it is now. */
async function verifyPromoted(open: () => Promise<pg.Client>, target: RestoreTarget) {
  const c = await open();
  try {
    const at = new Date().toISOString();
    const integrity = await checkDatabase(c, {}, { concurrency: 2, connect: open });
    const lsn = (await c.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l")).rows[0]!.l;
    return {
      integrity,
      beforePromotion: { lastCommitBeforeRestoreTime: null },
      afterPromotion: await afterPromotion(c, target),
      snapshotLsn: lsn,
      at: { snapshot: at, promoted: at, checked: new Date().toISOString() },
    };
  } finally {
    await c.end();
  }
}

export const pgbackrestPitr: RestoreEngine<PgBackRestEngineOptions> = {
  name: "pgbackrest",
  summary: "pgBackRest restore of a self-managed PostgreSQL to a time, into a new data directory",
  options: {
    "pgbackrest-config": {
      type: "string",
      description: "[pgbackrest] pgbackrest.conf of the source (repository and stanza settings)",
    },
    stanza: { type: "string", description: "[pgbackrest] Stanza to restore", default: "eventchain" },
    "target-root": {
      type: "string",
      description: "[pgbackrest] Directory under which the new data directory is created",
      default: ".runs/restores",
    },
    "before-xid": {
      type: "string",
      description:
        "[pgbackrest] Stop just before this transaction id commits (e.g. a DELETE without WHERE): everything " +
        "committed before it is back, it and all after are not; --time picks the base backup and must be at " +
        "or after its commit",
    },
    "wal-stream-dir": {
      type: "string",
      description:
        "[pgbackrest] Directory pg_receivewal streams into: recovery reads the WAL the repository lacks from there, the newest partial segment too",
    },
  },

  parseOptions(raw: RawOptions): PgBackRestEngineOptions {
    const configFile = raw["pgbackrest-config"];
    if (typeof configFile !== "string" || !existsSync(configFile)) {
      throw new BadInputError(
        `invalid --pgbackrest-config "${String(configFile ?? "")}": expected the path of an existing pgbackrest.conf`,
      );
    }
    const stanza = String(raw.stanza);
    try {
      assertStanza(stanza);
    } catch (e) {
      throw new BadInputError(`invalid --stanza: ${(e as Error).message}`);
    }
    if (!readFileSync(configFile, "utf8").includes(`[${stanza}]`)) {
      throw new BadInputError(
        `--stanza "${stanza}" is not configured in ${configFile}: expected a [${stanza}] section`,
      );
    }
    const targetRoot = resolve(String(raw["target-root"]));
    for (const [option, value] of [
      ["--pgbackrest-config", configFile],
      ["--target-root", targetRoot],
      ...(typeof raw["wal-stream-dir"] === "string" ? [["--wal-stream-dir", raw["wal-stream-dir"]]] : []),
    ]) {
      try {
        assertNoControl(value!, option);
      } catch (e) {
        throw new BadInputError((e as Error).message);
      }
    }
    const beforeXid = raw["before-xid"];
    if (beforeXid !== undefined && (typeof beforeXid !== "string" || !/^[1-9]\d{0,19}$/.test(beforeXid)))
      throw new BadInputError(
        `invalid --before-xid "${String(beforeXid)}": expected a transaction id (a positive integer)`,
      );
    const stream = raw["wal-stream-dir"];
    if (stream !== undefined && (typeof stream !== "string" || !existsSync(stream) || !statSync(stream).isDirectory()))
      throw new BadInputError(
        `invalid --wal-stream-dir "${String(stream)}": expected an existing directory pg_receivewal writes into`,
      );
    return {
      configFile: resolve(configFile),
      stanza,
      targetRoot,
      ...(typeof beforeXid === "string" ? { beforeXid } : {}),
      ...(typeof stream === "string" ? { walStreamDir: resolve(stream) } : {}),
    };
  },

  async window(ctx) {
    const cfg = cfgOf(ctx);
    const { backups } = await info(cfg);
    if (backups.length === 0) throw new Error(`stanza ${cfg.stanza} has no base backup: nothing to restore from`);
    const streamDir = ctx.options.engineOptions.walStreamDir;
    return {
      ...restorableWindow(backups, await latestArchivedAt(cfg), streamDir ? newestStreamed(streamDir) : null),
      source: `pgBackRest stanza ${cfg.stanza} (${ctx.outputs.database.instanceIdentifier})`,
    };
  },

  targetId(ctx, restoreTime) {
    const stamp = restoreTime.toISOString().replace(/[-:.]/g, "").toLowerCase();
    return `${ctx.options.engineOptions.stanza}-pitr-${stamp}`;
  },

  plan(ctx, target) {
    const dir = target ? join(baseDirOf(ctx, target), "data") : "<target-root>/<target id>/data";
    const time = target?.restoreTime ?? "<validated time>";
    return [
      {
        kind: "command",
        action: `pgbackrest --config=${ctx.options.engineOptions.configFile} --stanza=${ctx.options.engineOptions.stanza} info --output=json`,
      },
      {
        kind: "command",
        action: `pgbackrest restore --pg1-path=${dir} --set=<newest backup before ${time}> ${
          ctx.options.engineOptions.beforeXid
            ? `--type=xid --target=${ctx.options.engineOptions.beforeXid} --target-exclusive`
            : ctx.options.time === "latest"
              ? "--type=standby (every archived WAL segment: the latest recoverable point)"
              : `--type=time --target="${time}"`
        } --target-action=pause --process-max=<cores>; restore_command with --archive-async (WAL fetched ahead of replay)${ctx.options.engineOptions.walStreamDir ? `, then WAL after the repository's from ${ctx.options.engineOptions.walStreamDir}` : ""}; recovery_prefetch=try`,
      },
      { kind: "command", action: `pg_ctl -D ${dir} start (new free loopback port)` },
      {
        kind: "note",
        action: `wait until ${dir} has replayed to ${time} and holds there read-only (paused at the target, or caught up with the archive), at most ${ctx.options.maxWaitMinutes} min`,
      },
    ];
  },

  async exists(ctx, target) {
    // Later steps rediscover the cluster (or restart it) from the data directory: the marker is enough.
    return existsSync(join(baseDirOf(ctx, target), RESTORE_MARKER))
      ? { instanceIdentifier: target.targetId, note: "target already exists" }
      : false;
  },

  async restore(ctx, target) {
    const baseDir = baseDirOf(ctx, target);
    const dataDir = join(baseDir, "data");
    if (existsSync(dataDir))
      throw new Error(
        `${dataDir} is left from an earlier restore of ${target.targetId} that did not finish (no ${RESTORE_MARKER} next to it): ` +
          `move it aside (this runbook deletes nothing), then resume the run to restore again`,
      );
    const streamDir = ctx.options.engineOptions.walStreamDir;
    await restoreToTime(cfgOf(ctx), {
      targetDataDir: dataDir,
      time: new Date(target.restoreTime),
      stop: stopOf(ctx),
      ...(streamDir ? { walStreamDir: streamDir } : {}),
    });
    await writeFile(join(baseDir, RESTORE_MARKER), JSON.stringify({ restoredAt: new Date().toISOString() }) + "\n");
    const r = await recovered(ctx, target);
    return { ...r, instanceIdentifier: target.targetId };
  },

  async waitReady(ctx, target) {
    const r = await recovered(ctx, target);
    const deadline = Date.now() + ctx.options.maxWaitMinutes * 60_000;
    return ctx.wait(`replay to ${target.restoreTime} and hold there, read-only`, async () => {
      for (let attempt = 0; ; attempt++) {
        // A cluster that stopped (a failed recovery, a crash) is reported now, not after the wait.
        if (!(await runningPostmaster(r.dataDir, r.logFile))) {
          const tail = await logTail(r.logFile);
          throw new Error(
            `the recovered cluster in ${r.dataDir} stopped before it reached its stop: see its log ${r.logFile}${tail ? `; last lines:\n${tail}` : ""}`,
          );
        }
        try {
          const c = await connect(r, "postgres");
          try {
            const s = await recoveryState(c);
            // Promoted already: a run resumed after its verify step promoted the cluster.
            if (s.state !== "replaying") {
              const at = new Date();
              const redo = s.replayLsn
                ? pausedRedo(await readFile(r.logFile, "utf8").catch(() => ""), { lsn: s.replayLsn, at })
                : null;
              return {
                held: s.state === "paused",
                pausedAt: at.toISOString(),
                replayLsn: s.replayLsn,
                redo,
                dataDir: r.dataDir,
                port: r.port,
                socketDir: r.socketDir,
                logFile: r.logFile,
              };
            }
          } finally {
            await c.end();
          }
        } catch {
          // not accepting connections yet (before a consistent state)
        }
        if (Date.now() > deadline)
          throw new Error(
            `${r.dataDir} did not reach its stop within ${ctx.options.maxWaitMinutes} min: see its log ${r.logFile}`,
          );
        await new Promise((res) => setTimeout(res, Math.min(20 * 2 ** attempt, 250)));
      }
    });
  },

  async verify(ctx, target) {
    const r = await recovered(ctx, target);
    const database = ctx.outputs.database.dbName;
    const startedAt = new Date().toISOString();
    const probe = await connect(r, "postgres");
    const { state } = await recoveryState(probe).finally(() => probe.end());
    if (state === "replaying")
      throw new Error(`${target.targetId} is still replaying: the wait-ready step has not finished`);
    if (state === "promoted")
      ctx.log.warn(
        `${target.targetId} was promoted already (a resumed run): its data is checked as it is now, no longer on the snapshot of its stop`,
      );
    const checked = await ctx.wait("verification on the paused server, side by side with the promotion", () =>
      state === "paused"
        ? verifyWhilePromoting({
            connect: () => connect(r, database),
            concurrency: 2,
            promoteTimeoutSeconds: 600,
            beforePromotion: (c) => beforePromotion(c, target),
            afterPromotion: (c) => afterPromotion(c, target),
          })
        : verifyPromoted(() => connect(r, database), target),
    );
    const report = buildVerificationReport({
      backupId: null,
      database,
      startedAt,
      finishedAt: checked.at.checked,
      checks: checked.integrity.checks,
      unloggedTables: checked.integrity.unloggedTables,
      profile: checked.integrity.profile,
      notes: [
        `Checked on the recovered server held read-only at its stop (replay at ${checked.snapshotLsn}): every check read that snapshot, taken before the promotion at ${checked.at.promoted}.`,
      ],
    });
    const files = { json: join(r.baseDir, "verification.json"), markdown: join(r.baseDir, "verification.md") };
    await writeFile(files.json, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
    await writeFile(files.markdown, renderVerificationMarkdown(report), { mode: 0o600 });
    const failed = report.checks.filter((c) => !c.ok);
    if (!report.ok)
      throw new Error(
        `${failed.length} of ${report.checks.length} checks of the recovered data failed (report ${files.markdown}); the server was promoted side by side with them: do not point the application at it: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
      );
    return {
      ...checked.beforePromotion,
      ...checked.afterPromotion,
      checks: report.checks.length,
      verification: files.json,
      verificationMarkdown: files.markdown,
      snapshotLsn: checked.snapshotLsn,
      snapshotAt: checked.at.snapshot,
      promotedAt: checked.at.promoted,
      checkedAt: checked.at.checked,
      dataDir: r.dataDir,
      port: r.port,
      socketDir: r.socketDir,
    };
  },

  snapshot: {
    describe(ctx, target) {
      const dir = join(baseDirOf(ctx, target), "data");
      return [
        {
          kind: "command",
          action: `ALTER SYSTEM SET archive_command = ${sqlLiteral(archivePushCommand(cfgOf(ctx), [`--pg1-path=${dir}`]))}; SELECT pg_reload_conf()`,
        },
        {
          kind: "command",
          action: `CHECKPOINT; pgbackrest --stanza=${ctx.options.engineOptions.stanza} backup --type=full --pg1-path=${dir} (the recovered cluster, new timeline)`,
        },
      ];
    },
    async exists(ctx, target) {
      const marker = join(baseDirOf(ctx, target), RESTORE_MARKER);
      if (!existsSync(marker)) return false;
      const r = JSON.parse(readFileSync(marker, "utf8")) as { restoredAt: string };
      const { backups } = await info(cfgOf(ctx));
      const after = backups.filter((b) => Date.parse(b.startedAt) >= Date.parse(r.restoredAt) - 1000).pop();
      return after ? { backupLabel: after.label, note: "a backup of the recovered cluster already exists" } : false;
    },
    async run(ctx, target) {
      const r = await recovered(ctx, target);
      const cfg = cfgOf(ctx);
      const c = await connect(r, "postgres");
      try {
        // The restored postgresql.conf archives with the source's pg1-path: point it at this cluster.
        const command = archivePushCommand(cfg, [`--pg1-path=${r.dataDir}`]);
        await c.query(`ALTER SYSTEM SET archive_command = ${c.escapeLiteral(command)}`);
        await c.query("SELECT pg_reload_conf()");
        // Promoted without an end-of-recovery checkpoint: pg_control names the new timeline once one ran.
        await c.query("CHECKPOINT");
      } finally {
        await c.end();
      }
      const backup = await ctx.wait("full backup of the recovered cluster", () =>
        pgbackrest(cfg, [
          "backup",
          "--type=full",
          `--pg1-path=${r.dataDir}`,
          `--pg1-port=${r.port}`,
          `--pg1-socket-path=${r.socketDir}`,
        ]).then(() => info(cfg)),
      );
      const last = backup.backups[backup.backups.length - 1]!;
      return { backupLabel: last.label, lsnStart: last.lsnStart, repoSizeBytes: last.repoSizeBytes };
    },
  },

  nextSteps(ctx, target, done) {
    const r = (done.verified ?? done.restored) as Partial<Restored> | undefined;
    const backupLabel = typeof done.snapshot?.backupLabel === "string" ? done.snapshot.backupLabel : undefined;
    return [
      `The recovered cluster runs from ${r?.dataDir ?? join(baseDirOf(ctx, target), "data")} on ` +
        `127.0.0.1:${r?.port ?? "<port>"} (socket ${r?.socketDir ?? "<socket dir>"}), promoted at ${target.restoreTime}.`,
      "Run verify-backup --database against it before pointing the application at it.",
      `A full backup of the recovered cluster (new timeline) is in stanza ` +
        `${ctx.options.engineOptions.stanza}${backupLabel ? ` (${backupLabel})` : ""}; its WAL archives ` +
        `there too. Make sure the old primary no longer archives into the stanza.`,
      "Keep the old data directory until the incident review is closed; nothing was deleted.",
    ];
  },
};
