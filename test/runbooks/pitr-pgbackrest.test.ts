/**
 * point-in-time-restore --engine pgbackrest against one archived PostgreSQL for the whole file.
 * Every path the engine puts into a shell string (the server's data directory, the pgBackRest
 * config, the repository, the restore target) holds a space, a quote and a semicolon, and one
 * restore target carries a `;touch <file>;#` that would run if anything reached `sh` unquoted.
 */
import test from "ava";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, chown, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { info, pgbackrest, type PgBackRestConfig } from "../../runbooks/postgres/pgbackrest.ts";
import { serviceUserIds, UNIX_SOCKET_PATH_MAX, type LocalPostgres } from "../../runbooks/postgres/cluster.ts";
import { localOutputs } from "../../rehearsal/stand-ins/local-outputs.ts";
import { startPostgres } from "../../rehearsal/stand-ins/postgres.ts";
import { runbook as verifyBackup } from "../../runbooks/verify-backup.ts";
import type { VerificationReport } from "../../runbooks/postgres/integrity.ts";
import { seededDatabase } from "../helpers/postgres.ts";
import { buildForeignDatabase } from "../helpers/foreign-database.ts";
import { dumpText, lineDifference } from "../helpers/pg-dump-diff.ts";
import {
  archivedWithBaseBackup,
  committedBefore,
  postgresOwnedTempDir,
  sell,
  stopCluster,
  waitServerClockPast,
} from "../helpers/pitr.ts";
import { runRunbook, workspace, type Workspace } from "../helpers/run-runbook.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface Fixture {
  /** pg_dump of the foreign database at the source. */
  foreignDump: string;
  weird: string;
  server: LocalPostgres;
  cfg: PgBackRestConfig;
  seededTickets: number;
  T: Date;
  before: number[];
  after: number[];
}
let fx: Fixture | undefined;
function fixture(): Fixture {
  if (!fx) throw new Error("the archived server is not set up (test.before failed)");
  return fx;
}
/** The cluster the first test recovered (the physical round trip reads it). */
let firstRestored: RestoredOutputs | undefined;
/** Data directories of every cluster a restore created, stopped after the file. */
const restoredDataDirs = new Set<string>();

/** What to remove after the file, set as soon as it exists (a failing set-up leaks nothing). */
const made: { weird?: string; server?: LocalPostgres } = {};

test.before(async () => {
  const weird = (made.weird = await postgresOwnedTempDir("pitr q'uote; semi "));
  const server = (made.server = await startPostgres({
    parentDir: weird,
    settings: { track_commit_timestamp: "on" },
  }));
  const seeded = await seededDatabase(server, "eventchain", 0.05);
  // A database this project did not design, unchanged after the base backup.
  await buildForeignDatabase(server, "foreign_db");
  const foreignDump = await dumpText(server, "foreign_db");
  const { cfg, backupStoppedAt } = await archivedWithBaseBackup(
    server,
    "eventchain",
    join(weird, "pgbackrest 'conf'; dir"),
    9, // every restore below adds a full backup (its snapshot step): keep the first one
  );
  const app = await server.client("eventchain");
  try {
    await waitServerClockPast(app, backupStoppedAt);
    await sell(app, 15);
    const { rows } = await app.query<{ now: Date }>("SELECT clock_timestamp() AS now");
    const T = rows[0]!.now;
    await waitServerClockPast(app, T);
    await sell(app, 15);
    const truth = await committedBefore(app, seeded.tickets, T);
    fx = {
      foreignDump,
      weird,
      server,
      cfg,
      seededTickets: seeded.tickets,
      T,
      before: truth.filter((r) => r.beforeT).map((r) => r.id),
      after: truth.filter((r) => !r.beforeT).map((r) => r.id),
    };
  } finally {
    await app.end();
  }
  await pgbackrest(cfg, ["check"]); // the segment holding the last commits reaches the repository
});

test.after.always(async () => {
  if (made.server) for (const dataDir of restoredDataDirs) await stopCluster(made.server.binDir, dataDir);
  await made.server?.destroy();
  if (made.weird) await rm(made.weird, { recursive: true, force: true });
});

function outputsFile(ws: Workspace): string {
  return ws.writeOutputs(
    localOutputs({
      instanceIdentifier: "test-primary",
      dbName: "eventchain",
      port: fixture().server.port,
      bucketName: "unused-bucket",
    }),
  );
}

const pitrArgs = (ws: Workspace, targetRoot: string | undefined) => [
  "--outputs",
  outputsFile(ws),
  "--state-dir",
  ws.stateDir,
  "--yes",
  "--engine",
  "pgbackrest",
  "--time",
  fixture().T.toISOString(),
  "--pgbackrest-config",
  fixture().cfg.configFile,
  "--stanza",
  fixture().cfg.stanza,
  ...(targetRoot ? ["--target-root", targetRoot] : []),
];

interface RestoredOutputs {
  dataDir: string;
  socketDir: string;
  port: number;
}

function remember(ws: Workspace, runId: string): RestoredOutputs {
  const steps = ws.journal(runId).steps;
  const out = (steps["verify"]?.outputs ?? steps["restore"]?.outputs) as unknown as RestoredOutputs;
  restoredDataDirs.add(out.dataDir);
  return out;
}

/** Ticket ids after the seed in the recovered cluster. */
async function recoveredTickets(r: RestoredOutputs): Promise<number[]> {
  const c = new pg.Client({ host: r.socketDir, port: r.port, user: "postgres", database: "eventchain" });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string }>("SELECT id FROM tickets WHERE id > $1 ORDER BY id", [
      fixture().seededTickets,
    ]);
    return rows.map((row) => Number(row.id));
  } finally {
    await c.end();
  }
}

test.serial(
  "point-in-time-restore --engine pgbackrest lands exactly at T through paths with a space, a quote and a semicolon, and runs nothing they hold",
  async (t) => {
    const ws = workspace(t);
    const canary = join(tmpdir(), `pitr-canary-${process.pid}`);
    // The target root of the report: `;touch …;#` ran as the postgres user.
    const targetRoot = join(fixture().weird, `x;touch ${canary};#`);
    const result = await runRunbook(pitr, pitrArgs(ws, targetRoot));
    const runId = ws.runIds()[0]!;
    const restored = remember(ws, runId);
    t.is(result.exitCode, 0, result.stderr + result.message);
    firstRestored = restored;
    t.false(existsSync(canary), "the `;touch` in the target root never reached a shell");

    const { before, after } = fixture();
    // T is cut to milliseconds: a sale committed in T's own millisecond counts as after T (for
    // recovery and for this check alike), so the split is about 15/15, not exactly.
    t.is(before.length + after.length, 30);
    t.true(before.length >= 10 && after.length >= 15, `${before.length} before, ${after.length} after T`);
    t.deepEqual(await recoveredTickets(restored), before);
    t.true(restored.dataDir.startsWith(targetRoot));

    // The recovered cluster archives into the stanza through the quoted command: its full backup
    // (the snapshot step) only finishes once its WAL reached the repository.
    t.is(result.report!.steps.find((s) => s.id === "snapshot")!.status, "succeeded");
    const { backups } = await info(fixture().cfg);
    t.is(
      backups[backups.length - 1]!.label,
      (ws.journal(runId).steps["snapshot"]!.outputs as { backupLabel: string }).backupLabel,
    );
    const auto = await readFile(join(restored.dataDir, "postgresql.auto.conf"), "utf8");
    t.regex(auto, /^archive_command = '.*archive-push %p'$/m);
    t.regex(auto, /^restore_command = '.*archive-get %f "%p"'$/m);
  },
);

test.serial(
  "a physical round trip keeps a foreign database whole but for its unlogged table's rows, and verify-backup names that table",
  async (t) => {
    const r = firstRestored;
    if (!r) return t.fail("the first restore did not finish");
    const at = { PGHOST: r.socketDir, PGPORT: String(r.port), PGUSER: "postgres" };
    const diff = lineDifference(
      fixture().foreignDump,
      await dumpText({ binDir: fixture().server.binDir, env: at }, "foreign_db"),
    );
    const ownKey = (l: string) => !/^\\(un)?restrict /.test(l); // pg_dump's random per-run key
    // PostgreSQL's rule: an UNLOGGED table is not in the WAL, so it comes back empty. Nothing else differs.
    t.deepEqual(diff.onlyInSecond.filter(ownKey), []);
    const lost = diff.onlyInFirst.filter(ownKey);
    t.is(lost.length, 25);
    t.true(
      lost.every((l) => /^session-\d+\t/.test(l)),
      JSON.stringify(lost),
    );

    const ws = workspace(t);
    const saved = { ...process.env };
    Object.assign(process.env, at, { PGDATABASE: "postgres" });
    delete process.env.PGPASSWORD;
    t.teardown(() => {
      for (const k of ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"])
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
    });
    const reportDir = join(ws.dir, "verifications");
    const v = await runRunbook(verifyBackup, [
      ...["--outputs", outputsFile(ws), "--state-dir", ws.stateDir, "--connection", "env"],
      ...["--database", "foreign_db", "--report-dir", reportDir],
    ]);
    t.is(v.exitCode, 0, v.stderr + v.message);
    const [json] = (await readdir(reportDir)).filter((f) => f.endsWith(".json"));
    const report = JSON.parse(await readFile(join(reportDir, json!), "utf8")) as VerificationReport;
    t.deepEqual(report.unloggedTables, ["public.session_cache"]);
    t.is(
      report.checks.find((c) => c.name === "table public.session_cache")?.detail,
      "0 rows, readable (UNLOGGED: empty after a physical restore)",
    );
    const markdown = await readFile(join(reportDir, json!.replace(/\.json$/, ".md")), "utf8");
    t.regex(markdown, /UNLOGGED tables: public\.session_cache/);
    t.regex(
      markdown,
      /a physical restore \(point-in-time restore, a promoted replica, crash recovery\) brings them back empty/,
    );
    t.regex(v.stdout + v.stderr, /UNLOGGED tables \(empty after a physical restore\): public\.session_cache/);
  },
);

test.serial(
  "a restore run from a 120-character working directory with spaces keeps its socket short and its default target under that directory",
  async (t) => {
    const ws = workspace(t);
    const ids = await serviceUserIds("postgres");
    let cwd = join(fixture().weird, "ci runner checkout");
    while (cwd.length < 120) cwd = join(cwd, "a long directory name");
    await mkdir(cwd, { recursive: true });
    if (ids) for (let d = cwd; d !== fixture().weird; d = join(d, "..")) await chown(d, ids.uid, ids.gid);
    t.true(cwd.length >= 120 && cwd.includes(" "));
    // The runbook as an SRE starts it, from that directory, with the default --target-root.
    const run = await promisify(execFile)(
      process.execPath,
      [join(root, "runbooks/point-in-time-restore.ts"), ...pitrArgs(ws, undefined)],
      // A notification that cannot be delivered fails fast, not after the SDK's retries.
      { cwd, env: { ...process.env, AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_MAX_ATTEMPTS: "1" } },
    ).then(
      () => 0,
      (e: { code: number; stdout: string; stderr: string }) => {
        t.log(e.stdout, e.stderr);
        return e.code;
      },
    );
    const runId = ws.runIds()[0]!;
    const restored = remember(ws, runId);
    t.is(run, 0);
    t.true(restored.dataDir.startsWith(join(cwd, ".runs/restores/")), restored.dataDir);
    const socket = join(restored.socketDir, `.s.PGSQL.${restored.port}`);
    t.true(socket.length <= UNIX_SOCKET_PATH_MAX, socket);
    t.true(existsSync(socket));
    t.deepEqual(await recoveredTickets(restored), fixture().before);
  },
);

/** A PG_BINDIR whose pg_ctl cannot start anything: the restore step fails once its data is in place. */
async function brokenBinDir(server: LocalPostgres, under: string): Promise<string> {
  const dir = join(under, "broken-bin");
  await mkdir(dir, { recursive: true });
  for (const b of ["initdb", "postgres", "pg_dump", "pg_restore", "psql"])
    await symlink(join(server.binDir, b), join(dir, b));
  await writeFile(join(dir, "pg_ctl"), "#!/bin/sh\necho 'pg_ctl: simulated failure' >&2\nexit 1\n", { mode: 0o755 });
  return dir;
}

test.serial(
  "a resumed restore restarts its stopped server, and fails fast naming the log when that server cannot start",
  async (t) => {
    // Quietly about 10 s; waiting out --max-wait-minutes (45) for a server that cannot start fails here.
    t.timeout(170_000);
    const ws = workspace(t);
    const targetRoot = join(fixture().weird, "resume target");
    const args = pitrArgs(ws, targetRoot);
    process.env.PG_BINDIR = await brokenBinDir(fixture().server, fixture().weird);
    const first = await runRunbook(pitr, args).finally(() => delete process.env.PG_BINDIR);
    const runId = ws.runIds()[0]!;
    t.not(first.exitCode, 0);
    t.is(ws.journal(runId).steps["restore"]!.status, "failed");
    const baseDir = join(
      targetRoot,
      (ws.journal(runId).steps["check-window"]!.outputs as { targetId: string }).targetId,
    );
    const dataDir = join(baseDir, "data");
    restoredDataDirs.add(dataDir);
    const log = join(baseDir, "postgres.log");

    // The server cannot start (a bad setting): the resumed run says so at once, naming the log.
    await appendFile(join(dataDir, "postgresql.conf"), "\nno_such_setting_for_the_test = 1\n");
    const second = await runRunbook(pitr, [...args, "--resume", runId]);
    t.not(second.exitCode, 0);
    t.is(ws.journal(runId).steps["restore"]!.status, "skipped", "the restore itself had finished: not done twice");
    const failure = ws.journal(runId).steps["wait-ready"]!;
    t.is(failure.status, "failed");
    t.true(failure.error!.includes(log), failure.error);
    t.regex(failure.error!, /no_such_setting_for_the_test/);

    // Fixed: the resumed run starts the stopped server again and finishes.
    const conf = await readFile(join(dataDir, "postgresql.conf"), "utf8");
    await writeFile(join(dataDir, "postgresql.conf"), conf.replace("no_such_setting_for_the_test = 1", ""));
    const third = await runRunbook(pitr, [...args, "--resume", runId]);
    t.is(third.exitCode, 0, third.stderr + third.message);
    t.regex(third.stdout + third.stderr, /is not running: starting it again/);
    const restored = remember(ws, runId);
    t.is(restored.dataDir, dataDir);
    t.deepEqual(await recoveredTickets(restored), fixture().before);
  },
);

test.serial("a data directory left by a restore cut short is named, never taken for a finished one", async (t) => {
  const ws = workspace(t);
  const targetRoot = join(fixture().weird, "cut short");
  const targetId = `eventchain-pitr-${fixture().T.toISOString().replace(/[-:.]/g, "").toLowerCase()}`;
  const dataDir = join(targetRoot, targetId, "data");
  await mkdir(dataDir, { recursive: true });
  const r = await runRunbook(pitr, pitrArgs(ws, targetRoot));
  t.not(r.exitCode, 0);
  const error = ws.journal(ws.runIds()[0]!).steps["restore"]!.error!;
  t.true(error.includes(`${dataDir} is left from an earlier restore`), error);
  t.regex(error, /move it aside \(this runbook deletes nothing\)/);
  t.true(existsSync(dataDir), "nothing was deleted");
});

test("point-in-time-restore --engine pgbackrest refuses a missing pgbackrest config before any change", async (t) => {
  const ws = workspace(t);
  const outputs = ws.writeOutputs(
    localOutputs({ instanceIdentifier: "test-primary", dbName: "eventchain", port: 5432, bucketName: "unused-bucket" }),
  );
  const result = await runRunbook(pitr, [
    "--outputs",
    outputs,
    "--state-dir",
    ws.stateDir,
    "--engine",
    "pgbackrest",
    "--time",
    "latest",
    "--pgbackrest-config",
    join(ws.dir, "nope.conf"),
  ]);
  t.is(result.exitCode, 2);
  t.regex(
    result.message + result.stderr,
    /invalid --pgbackrest-config ".*nope\.conf": expected the path of an existing pgbackrest\.conf/,
  );
});
