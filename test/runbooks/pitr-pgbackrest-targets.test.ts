import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runbook as pitr } from "../../runbooks/point-in-time-restore.ts";
import { localOutputs } from "../../rehearsal/stand-ins/local-outputs.ts";
import { runRunbook, workspace } from "../helpers/run-runbook.ts";
import { restorableWindow } from "../../runbooks/engines/pgbackrest-pitr.ts";

/** The runbook with a pgbackrest.conf that names the stanza; `extra` are the options under test. */
async function run(t: Parameters<typeof workspace>[0], extra: string[]) {
  const ws = workspace(t);
  const conf = join(ws.dir, "pgbackrest.conf");
  writeFileSync(conf, "[global]\nrepo1-path=/nowhere\n\n[eventchain]\npg1-path=/nowhere\n");
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
    "--pgbackrest-config",
    conf,
    ...extra,
  ]);
  return { result, ws };
}

test("--before-xid takes a transaction id only, refused before anything starts", async (t) => {
  const { result, ws } = await run(t, ["--time", "2026-12-01T10:00:00Z", "--before-xid", "12; rm -rf /"]);
  t.is(result.exitCode, 2);
  t.regex(
    result.message + result.stderr,
    /invalid --before-xid "12; rm -rf \/": expected a transaction id \(a positive integer\)/,
  );
  t.deepEqual(ws.runIds(), [], "no run was started");
});

test("--wal-stream-dir must be an existing directory", async (t) => {
  const { result, ws } = await run(t, ["--time", "latest", "--wal-stream-dir", "/nonexistent/wal-stream"]);
  t.is(result.exitCode, 2);
  t.regex(
    result.message + result.stderr,
    /invalid --wal-stream-dir "\/nonexistent\/wal-stream": expected an existing directory pg_receivewal writes into/,
  );
  t.deepEqual(ws.runIds(), []);
});

test("the restorable window reaches at least the newest backup's end, even when nothing was archived after it", (t) => {
  const backups = [{ stoppedAt: "2026-12-01T10:00:46.000Z" }, { stoppedAt: "2026-12-01T11:16:46.000Z" }];
  // A crash right after the backup: the newest archived segment is the backup's own, a second "earlier".
  const w = restorableWindow(backups, new Date("2026-12-01T11:16:45.000Z"), null);
  t.is(w.earliest.toISOString(), "2026-12-01T10:00:46.000Z");
  t.is(w.latest.toISOString(), "2026-12-01T11:16:46.000Z");
  t.is(
    restorableWindow(backups, new Date("2026-12-01T11:20:00Z"), null).latest.toISOString(),
    "2026-12-01T11:20:00.000Z",
  );
  t.is(
    restorableWindow(backups, new Date("2026-12-01T11:20:00Z"), new Date("2026-12-01T11:21:03Z")).latest.toISOString(),
    "2026-12-01T11:21:03.000Z",
    "the WAL stream reaches further than the archive",
  );
});
