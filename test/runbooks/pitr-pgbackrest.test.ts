import test from "ava";
import { join } from "node:path";
import pg from "pg";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { info, pgbackrest } from "../../runbooks/postgres/pgbackrest.ts";
import { localOutputs } from "../../runbooks/local/outputs.ts";
import { postgresFor, seededDatabase } from "../helpers/postgres.ts";
import { archivedWithBaseBackup, committedBefore, sell, stopCluster, waitServerClockPast } from "../helpers/pitr.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";

test("point-in-time-restore --engine pgbackrest lands exactly at T: rows committed before are back, none after", async (t) => {
  const ws = workspace(t);
  const server = await postgresFor(t, { settings: { track_commit_timestamp: "on" } });
  const seeded = await seededDatabase(server, "eventchain", 0.05);
  const { cfg, backupStoppedAt } = await archivedWithBaseBackup(server);
  const app = await server.client("eventchain");
  await waitServerClockPast(app, backupStoppedAt);
  await sell(app, 15);
  const { rows } = await app.query<{ now: Date }>("SELECT clock_timestamp() AS now");
  const T = rows[0]!.now;
  await waitServerClockPast(app, T);
  await sell(app, 15);
  const truth = await committedBefore(app, seeded.tickets, T);
  await app.end();
  await pgbackrest(cfg, ["check"]); // the segment holding the last commits reaches the repository
  await server.stop("immediate"); // the disaster

  const outputs = ws.writeOutputs(
    localOutputs({
      instanceIdentifier: "test-primary",
      dbName: "eventchain",
      port: server.port,
      bucketName: "unused-bucket",
    }),
  );
  const targetRoot = join(server.baseDir, "restores"); // a path the postgres user can reach
  // Stop whatever cluster the restore started, even when the run or an assertion fails.
  t.teardown(async () => {
    for (const id of ws.runIds()) {
      const dataDir = (ws.journal(id).steps["restore"]?.outputs as { dataDir?: string } | undefined)?.dataDir;
      if (dataDir) await stopCluster(server.binDir, dataDir);
    }
  });
  const result = await runRunbook(pitr, [
    "--outputs",
    outputs,
    "--state-dir",
    ws.stateDir,
    "--yes",
    "--engine",
    "pgbackrest",
    "--time",
    T.toISOString(),
    "--pgbackrest-config",
    cfg.configFile,
    "--stanza",
    cfg.stanza,
    "--target-root",
    targetRoot,
  ]);
  t.is(result.exitCode, 0, result.stderr + result.message);

  const runId = ws.runIds()[0]!;
  const restored = ws.journal(runId).steps["restore"]!.outputs as { socketDir: string; port: number };
  const c = new pg.Client({ host: restored.socketDir, port: restored.port, user: "postgres", database: "eventchain" });
  await c.connect();
  t.teardown(() => c.end());
  const got = (
    await c.query<{ id: string }>("SELECT id FROM tickets WHERE id > $1 ORDER BY id", [seeded.tickets])
  ).rows.map((r) => Number(r.id));
  const before = truth.filter((r) => r.beforeT).map((r) => r.id);
  const after = truth.filter((r) => !r.beforeT).map((r) => r.id);
  // T is cut to milliseconds: a sale committed in T's own millisecond counts as after T (for
  // recovery and for this check alike), so the split is about 15/15, not exactly.
  t.is(before.length + after.length, 30);
  t.true(before.length >= 10 && after.length >= 15, `${before.length} before, ${after.length} after T`);
  t.deepEqual(got, before);
  t.false((await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0]!.r);
  // The engine's snapshot: a full backup of the recovered cluster, on its new timeline.
  t.is(result.report!.steps.find((s) => s.id === "snapshot")!.status, "succeeded");
  const { backups } = await info(cfg);
  t.is(backups.length, 2);
  t.is(backups[1]!.label, (ws.journal(runId).steps["snapshot"]!.outputs as { backupLabel: string }).backupLabel);
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
