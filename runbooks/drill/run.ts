/**
 * The drill's phases (see runbooks/drill.ts). Importable: the test suite and the benchmarks run
 * it in-process at a small scale. Every server it starts is stopped and every temp directory
 * removed at the end, also on failure and on interrupt, unless `keep` is set.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { $ } from "zx";
import type pg from "pg";
import { objectiveFromOutputs, RecoveryTracker } from "../lib/tracker.ts";
import { main, type CliResult } from "../lib/cli.ts";
import type { JournalData } from "../lib/journal.ts";
import { findMotoServer, MOTO_NOT_FOUND, startMoto, type MotoServer } from "../local/moto.ts";
import { asServiceUser, findPostgresBinDir, type LocalPostgres } from "../postgres/cluster.ts";
import { createDatabase, startPostgres } from "../local/postgres.ts";
import { startRedis, type LocalRedis } from "../local/redis.ts";
import { findRedisBinaries } from "../redis/binaries.ts";
import { createSchema, seed, sellTicket } from "../local/eventchain-schema.ts";
import { runbook as backupDatabaseRunbook, dumpAndUpload } from "../backup-database.ts";
import { runbook as verifyBackupRunbook, verifyStep as verifyBackupStep } from "../verify-backup.ts";
import { runbook as backupRedisRunbook, testRestore as testRedisRestore } from "../backup-redis.ts";
import { runbook as pitrRunbook, restore as pitrRestore } from "../point-in-time-restore.ts";
import { resultIn } from "../lib/report.ts";
import { assertPgBackRestInstalled, baseBackup, enableArchiving, pgbackrest } from "../postgres/pgbackrest.ts";
import { localOutputs } from "../local/outputs.ts";
import { BackupS3Client } from "../aws/s3-object.ts";
import { renderDrillMarkdown, type DrillReport, type PhaseRecord } from "./report.ts";

export interface DrillOptions {
  scale: number;
  disaster: "delete-datadir" | "drop-table";
  keep: boolean;
  stateDir: string;
  json: boolean;
}

export interface DrillResult {
  exitCode: 0 | 1 | 3 | 130;
  report: DrillReport;
  markdown: string;
  reportPaths?: { json: string; markdown: string };
  /** With `keep`: stops the servers and removes their directories (the CLI calls it on Ctrl-C). */
  cleanup?: () => Promise<void>;
}

/** Ticket writes before T and after T (each one transaction, as the application makes them). */
const WRITES_EACH_SIDE = 25;

/** @throws Error naming what is missing and how to install it. */
export async function preflight(): Promise<void> {
  const problems: string[] = [];
  for (const check of [findPostgresBinDir, findRedisBinaries, assertPgBackRestInstalled]) {
    await check().catch((e: Error) => problems.push(e.message));
  }
  if (findMotoServer() === undefined) problems.push(MOTO_NOT_FOUND);
  if (problems.length)
    throw new Error(
      `the drill needs these installed (npm run drill installs them all):\n  - ${problems.join("\n  - ")}`,
    );
}

/** An application writer: sells tickets one transaction at a time until stopped. */
function startWriter(client: pg.Client) {
  let count = 0;
  let stopping = false;
  const waiters: { n: number; resolve: () => void }[] = [];
  const loop = (async () => {
    while (!stopping) {
      await sellTicket(client);
      count++;
      for (const w of waiters.filter((x) => count >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  })();
  return {
    get count() {
      return count;
    },
    /** Resolves once `n` writes in total have committed. */
    until(n: number): Promise<void> {
      if (count >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ n, resolve });
        loop.catch(reject);
      });
    },
    async stop(): Promise<void> {
      stopping = true;
      await loop;
    },
  };
}

async function serverNow(client: pg.Client): Promise<Date> {
  return (await client.query<{ now: Date }>("SELECT clock_timestamp() AS now")).rows[0]!.now;
}

async function untilServerClockPast(client: pg.Client, t: Date): Promise<void> {
  for (let i = 0; (await serverNow(client)) <= t; i++) {
    if (i > 500) throw new Error(`server clock did not pass ${t.toISOString()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runDrill(
  o: DrillOptions & { signal?: AbortSignal; log?: (line: string) => void },
): Promise<DrillResult> {
  const log = o.log ?? (() => {});
  const runId = `drill-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").toLowerCase()}-${randomBytes(3).toString("hex")}`;
  const runDir = join(o.stateDir, runId);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const runsDir = join(runDir, "runs");
  const phases: PhaseRecord[] = [];
  const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
  const savedEnv = { ...process.env };
  const drillStart = Date.now();
  const report: DrillReport = {
    reportVersion: 1,
    runId,
    scale: o.scale,
    disaster: o.disaster,
    startedAt: new Date().toISOString(),
    finishedAt: "",
    verdict: "failed",
    objective: null,
    targetTime: null,
    incidentAt: null,
    rto: null,
    rpo: null,
    rows: null,
    verification: { logicalBackup: null, recoveredDatabase: null },
    pitr: null,
    phases,
    failure: null,
    kept: null,
    workDirs: [],
  };

  async function phase<T>(name: string, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
    if (o.signal?.aborted) throw new Error(String(o.signal.reason ?? "interrupted"));
    const started = Date.now();
    log(`▸ ${name}…`);
    try {
      const r = await fn();
      const rec = {
        name,
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        ok: true,
        detail: detail?.(r) ?? "",
      };
      phases.push(rec);
      log(
        `✔ ${name} (${rec.seconds.toFixed(1)} s${rec.detail ? `; ${rec.detail}` : ""})  [${((Date.now() - drillStart) / 1000).toFixed(1)} s total]`,
      );
      return r;
    } catch (error) {
      phases.push({
        name,
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        ok: false,
        detail: (error as Error).message,
      });
      log(`✖ ${name}: ${(error as Error).message}`);
      throw error;
    }
  }

  // The runbooks' own progress goes through `log`, indented under the drill's phase.
  let pending = "";
  const indented = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = pending + chunk.toString();
      const lines = text.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) log(`    ${l}`);
      cb();
    },
  });
  // Ctrl-C reaches the running runbook too: it stops after its current step, journal kept.
  const runbookIo = {
    stdout: indented,
    stderr: indented,
    ask: null as null,
    ...(o.signal ? { signal: o.signal } : {}),
  };
  function expectRunbook(name: string, r: CliResult, allowed: number[] = [0]): CliResult {
    if (!allowed.includes(r.exitCode)) throw new Error(`${name} exited ${r.exitCode}: ${r.message}`);
    return r;
  }

  let exitCode: DrillResult["exitCode"] = 1;
  let pgServer: LocalPostgres | undefined;
  let redis: LocalRedis | undefined;
  let moto: MotoServer | undefined;
  try {
    await phase("Check the tools are installed", preflight);
    // The emulator accepts any key; these values exist only in this process, for it.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "drill-emulator",
      AWS_SECRET_ACCESS_KEY: "drill-emulator",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;

    [pgServer, redis, moto] = await phase(
      "Start PostgreSQL, Redis and the S3 emulator on loopback",
      () =>
        Promise.all([
          startPostgres({ prefix: "eventchain-drill-pg-", settings: { track_commit_timestamp: "on" } }),
          startRedis({ prefix: "eventchain-drill-redis-" }),
          startMoto(),
        ]),
      ([p, r, m]) => `postgres 127.0.0.1:${p.port}, redis 127.0.0.1:${r.port}, s3 ${m.endpoint}`,
    );
    const pgs = pgServer;
    report.workDirs = [pgs.baseDir, redis.baseDir];
    cleanups.push(
      { what: "S3 emulator", fn: () => moto!.stop() },
      { what: "Redis", fn: () => redis!.destroy() },
      { what: "PostgreSQL (source)", fn: () => pgs.destroy() },
    );
    const aws = { endpoint: moto.endpoint, maxAttempts: 1 };
    const bucket = `eventchain-drill-${randomBytes(4).toString("hex")}`;
    await new BackupS3Client({ region: "us-east-1", endpoint: moto.endpoint }).send(
      new CreateBucketCommand({ Bucket: bucket }),
    );
    const outputs = localOutputs({
      instanceIdentifier: "drill-primary",
      dbName: "eventchain",
      port: pgs.port,
      bucketName: bucket,
    });
    const outputsFile = join(runDir, "outputs.json");
    writeFileSync(outputsFile, JSON.stringify(outputs, null, 2), { mode: 0o600 });
    const objective = objectiveFromOutputs("primary-database", outputs);
    report.objective = {
      system: objective.system,
      tier: objective.tier,
      rtoMinutes: objective.rtoMinutes,
      rpoMinutes: objective.rpoMinutes,
    };

    const seeded = await phase(
      `Create the EventChain schema and seed it (scale ${o.scale})`,
      async () => {
        await createDatabase(pgs, "eventchain");
        const c = await pgs.client("eventchain");
        try {
          await createSchema(c);
          return await seed(c, o.scale);
        } finally {
          await c.end();
        }
      },
      (n) =>
        Object.entries(n)
          .map(([t, k]) => `${t} ${k}`)
          .join(", "),
    );

    const cfg = await phase("Turn on continuous archiving (pgBackRest)", () =>
      enableArchiving(pgs, {
        dir: join(pgs.baseDir, "pgbackrest"),
        stanza: "eventchain",
        repo: { type: "posix", path: join(pgs.baseDir, "repo") },
        archiveTimeoutSeconds: 10,
      }),
    );

    Object.assign(process.env, pgs.env("eventchain"));
    const logical = await phase(
      "Logical backup to the bucket (backup-database runbook)",
      async () => {
        const r = expectRunbook(
          "backup-database",
          await main(backupDatabaseRunbook, {
            ...runbookIo,
            aws,
            argv: ["--outputs", outputsFile, "--connection", "env", "--state-dir", runsDir, "--yes"],
          }),
        );
        return resultIn(r.report, dumpAndUpload);
      },
      (m) => (m ? `backup ${m.backupId}, ${m.bytes} bytes` : ""),
    );
    const rds = redis;
    await phase(
      "Redis backup with a test restore (backup-redis runbook)",
      async () => {
        const c = await rds.client();
        try {
          const pipe = c.pipeline();
          for (let i = 0; i < 500; i++)
            pipe
              .set(`session:${i}`, randomBytes(24).toString("base64url"), "EX", 3600)
              .hset(`cart:${i}`, { seats: String(1 + (i % 4)), event: String(i % 40) });
          await pipe.exec();
        } finally {
          c.disconnect();
        }
        process.env.REDISCLI_AUTH = rds.password;
        const r = expectRunbook(
          "backup-redis",
          await main(backupRedisRunbook, {
            ...runbookIo,
            aws,
            argv: [
              "--outputs",
              outputsFile,
              "--redis-host",
              "127.0.0.1",
              "--redis-port",
              String(rds.port),
              "--test-restore",
              "--state-dir",
              runsDir,
              "--yes",
            ],
          }),
        );
        delete process.env.REDISCLI_AUTH;
        const restoredRedis = resultIn(r.report, testRedisRestore);
        return restoredRedis && "restoredKeys" in restoredRedis ? restoredRedis : undefined;
      },
      (o) => `${o?.restoredKeys ?? "?"} keys restored and matched`,
    );
    const base = await phase(
      "Base backup (pgBackRest full)",
      () => baseBackup(cfg, "full"),
      (b) => `${b.label}, ${(b.repoSizeBytes / 1e6).toFixed(1)} MB in the repository`,
    );

    const app = await pgs.client("eventchain");
    app.on("error", () => {});
    const { T, truth } = await phase(
      "Keep writing; record the target time T in the middle of the writes",
      async () => {
        await untilServerClockPast(app, new Date(base.stoppedAt));
        const writer = startWriter(app);
        await writer.until(WRITES_EACH_SIDE);
        const t = await serverNow(app);
        const atT = writer.count;
        await writer.until(atT + WRITES_EACH_SIDE + 1);
        await writer.stop();
        // Compared on the server, in microseconds: a JS Date would truncate commit times to ms.
        const { rows } = await app.query<{ id: string; before: boolean }>(
          "SELECT id, pg_xact_commit_timestamp(xmin) <= $2::timestamptz AS before FROM tickets WHERE id > $1 ORDER BY id",
          [seeded.tickets, t.toISOString()],
        );
        await app.end();
        await pgbackrest(cfg, ["check"]); // the WAL up to here reaches the repository
        return { T: t, truth: rows.map((r) => ({ id: Number(r.id), beforeT: r.before })) };
      },
      (r) =>
        `T = ${r.T.toISOString()}, ${r.truth.filter((x) => x.beforeT).length} tickets sold up to T, ${r.truth.filter((x) => !x.beforeT).length} after`,
    );
    report.targetTime = T.toISOString();

    const incidentAt = await phase(
      o.disaster === "delete-datadir"
        ? "Disaster: crash the primary and delete its data directory"
        : "Disaster: DROP TABLE tickets CASCADE on the primary",
      async () => {
        const at = new Date();
        if (o.disaster === "delete-datadir") {
          await pgs.stop("immediate");
          await rm(pgs.dataDir, { recursive: true, force: true });
        } else {
          await pgs.query("DROP TABLE tickets CASCADE", [], "eventchain");
        }
        return at;
      },
      (at) => `incident at ${at.toISOString()}`,
    );
    report.incidentAt = incidentAt.toISOString();
    const tracker = new RecoveryTracker(objective, incidentAt);
    tracker.milestone("incident", `Disaster (${o.disaster})`, incidentAt);

    const targetRoot = join(pgs.baseDir, "restores");
    let restored: { dataDir: string; socketDir: string; port: number } | undefined;
    cleanups.push({
      what: "PostgreSQL (recovered)",
      fn: async () =>
        restored &&
        $({
          quiet: true,
          nothrow: true,
        })`${asServiceUser("postgres")} ${join(pgs.binDir, "pg_ctl")} -D ${restored.dataDir} -m immediate -w stop`,
    });
    const pitr = await phase(
      "Recover to T (point-in-time-restore --engine pgbackrest)",
      async () => {
        const r = await main(pitrRunbook, {
          ...runbookIo,
          aws,
          argv: [
            "--outputs",
            outputsFile,
            "--state-dir",
            runsDir,
            "--yes",
            "--engine",
            "pgbackrest",
            "--time",
            T.toISOString(),
            "--incident-at",
            incidentAt.toISOString(),
            "--pgbackrest-config",
            cfg.configFile,
            "--stanza",
            cfg.stanza,
            "--target-root",
            targetRoot,
          ],
        });
        const journal = r.journalPath
          ? (JSON.parse((await import("node:fs")).readFileSync(r.journalPath, "utf8")) as JournalData)
          : undefined;
        restored = journal?.steps[pitrRestore.id]?.outputs as typeof restored;
        expectRunbook("point-in-time-restore", r, [0, 3]);
        return r;
      },
      (r) => `verdict ${r.report?.verdict}`,
    );
    tracker.milestone("restore_completed", "Recovered cluster promoted at T");
    tracker.setRecoveryPoint(T, "target time T (point-in-time restore)");
    report.pitr = {
      runId: pitr.runId ?? null,
      verdict: pitr.report?.verdict ?? null,
      reportMarkdown: pitr.reportPaths?.markdown ?? null,
      rto: pitr.report?.rto ?? null,
      rpo: pitr.report?.rpo ?? null,
    };

    if (!restored) throw new Error("point-in-time-restore reported no recovered cluster");
    const rec = restored;
    Object.assign(process.env, {
      PGHOST: rec.socketDir,
      PGPORT: String(rec.port),
      PGUSER: "postgres",
      PGDATABASE: "postgres",
    });
    delete process.env.PGPASSWORD;
    const verifyArgs = [
      "--outputs",
      outputsFile,
      "--connection",
      "env",
      "--state-dir",
      runsDir,
      "--report-dir",
      join(runDir, "verifications"),
    ];
    const [logicalCheck, liveCheck] = await phase(
      "Verify: the logical backup in a scratch database, and the recovered database (verify-backup)",
      async () => {
        const a = await main(verifyBackupRunbook, {
          ...runbookIo,
          aws,
          argv: [...verifyArgs, "--backup", logical?.backupId ?? "latest"],
        });
        const b = await main(verifyBackupRunbook, {
          ...runbookIo,
          aws,
          argv: [...verifyArgs, "--database", "eventchain"],
        });
        return [a, b];
      },
    );
    const summary = (r: CliResult) => {
      const out = resultIn(r.report, verifyBackupStep);
      return {
        ok: r.exitCode === 0,
        exitCode: r.exitCode,
        report: out?.markdown ?? null,
        message: r.message,
      };
    };
    report.verification = { logicalBackup: summary(logicalCheck), recoveredDatabase: summary(liveCheck) };

    const rows = await phase(
      "Check every row committed up to T is back and none after",
      async () => {
        const { default: pgmod } = await import("pg");
        const c = new pgmod.Client({ host: rec.socketDir, port: rec.port, user: "postgres", database: "eventchain" });
        await c.connect();
        try {
          const got = new Set(
            (await c.query<{ id: string }>("SELECT id FROM tickets WHERE id > $1", [seeded.tickets])).rows.map((r) =>
              Number(r.id),
            ),
          );
          const before = truth.filter((x) => x.beforeT).map((x) => x.id);
          const after = truth.filter((x) => !x.beforeT).map((x) => x.id);
          const missing = before.filter((id) => !got.has(id));
          const unexpected = after.filter((id) => got.has(id));
          const r = {
            committedUpToT: before.length,
            committedAfterT: after.length,
            recovered: got.size,
            missing,
            unexpected,
            ok: missing.length === 0 && unexpected.length === 0 && got.size === before.length,
          };
          if (!r.ok)
            throw Object.assign(
              new Error(
                `rows after recovery do not match T: ${missing.length} missing, ${unexpected.length} from after T present`,
              ),
              { rows: r },
            );
          return r;
        } finally {
          await c.end();
        }
      },
      (r) =>
        `${r.recovered} of ${r.committedUpToT} tickets sold up to T are back; 0 of ${r.committedAfterT} sold after T`,
    );
    report.rows = rows;
    tracker.milestone("health_verified", "Recovered data verified");
    const finished = new Date();
    const achieved = tracker.achieved(finished);
    report.rto = {
      achievedSeconds: Math.round((finished.getTime() - incidentAt.getTime()) / 100) / 10,
      objectiveMinutes: achieved.rto.objectiveMinutes,
      met: achieved.rto.met,
    };
    report.rpo = {
      achievedSeconds: Math.round((incidentAt.getTime() - T.getTime()) / 100) / 10,
      objectiveMinutes: achieved.rpo.objectiveMinutes,
      met: achieved.rpo.met === true,
    };
    const verified = report.verification.logicalBackup!.ok && report.verification.recoveredDatabase!.ok && rows.ok;
    report.verdict = !verified ? "failed" : report.rto.met && report.rpo.met ? "objectives_met" : "objectives_missed";
    exitCode = report.verdict === "objectives_met" ? 0 : report.verdict === "objectives_missed" ? 3 : 1;
    if (!verified) report.failure = "verification failed: see the verification reports";
    if (o.keep) {
      report.kept = {
        primary:
          o.disaster === "delete-datadir"
            ? `stopped, data directory deleted by the drill (${pgs.baseDir})`
            : `psql "host=${pgs.socketDir} port=${pgs.port} user=postgres dbname=eventchain"`,
        recovered: `psql "host=${rec.socketDir} port=${rec.port} user=postgres dbname=eventchain"`,
        redis: `redis-cli -p ${redis.port} (password: requirepass in ${redis.baseDir}/redis.conf, pass it as REDISCLI_AUTH)`,
        s3: `${moto.endpoint} (bucket ${bucket}; any access key works)`,
        cleanup: "press Ctrl-C in the drill's terminal: it stops every server and removes their directories",
      };
    }
  } catch (error) {
    report.failure = (error as Error).message;
    report.verdict = o.signal?.aborted ? "interrupted" : "failed";
    exitCode = o.signal?.aborted ? 130 : 1;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  }
  const cleanup = async () => {
    for (const c of cleanups.reverse()) {
      await c.fn().catch((e: Error) => log(`cleanup of ${c.what} failed: ${e.message}`));
    }
    if (cleanups.length) log(`✔ Cleaned up: ${cleanups.map((c) => c.what).join(", ")}`);
  };
  if (!o.keep) await cleanup();
  report.finishedAt = new Date().toISOString();
  const markdown = renderDrillMarkdown(report, report.pitr?.reportMarkdown ?? null);
  const paths = { json: join(runDir, "drill-report.json"), markdown: join(runDir, "drill-report.md") };
  writeFileSync(paths.json, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(paths.markdown, markdown, { mode: 0o600 });
  return { exitCode, report, markdown, reportPaths: paths, ...(o.keep ? { cleanup } : {}) };
}
