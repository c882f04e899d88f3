import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { badDataOutcome, crashOutcome } from "../../rehearsal/drill/data-outcome.ts";
import type { WriterLog } from "../../rehearsal/drill/writers.ts";
import { lsnBytes, redoFromLog } from "../../rehearsal/drill/measure.ts";
import { commandSecondsFromLog, pushSecondsFromTimes } from "../../rehearsal/drill/archiving.ts";
import { ratio, segmentEnd } from "../../rehearsal/drill/estimate.ts";
import { recoveryArgs } from "../../rehearsal/drill/recover.ts";
import { childEnvironment } from "../../rehearsal/drill/runbook-process.ts";
import { fetchAheadFor, recoveryTargetArgs, streamingRestoreCommand } from "../../runbooks/postgres/pgbackrest.ts";
import { pausedRedo, recoveryStateOf } from "../../runbooks/postgres/paused-recovery.ts";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
/** Two writers, ten commits each, 100 ms apart, ticket ids interleaved 1..20. */
function writerLog(): WriterLog {
  const acks = Array.from({ length: 20 }, (_, i) => ({ writer: i % 2, ticketId: 1001 + i, at: T0 + 50 * i }));
  return {
    acks,
    inFlight: [
      { writer: 0, sentAt: T0 + 1000 },
      { writer: 1, sentAt: T0 + 1000 },
    ],
    errors: [],
    startedAt: T0 - 10,
    stoppedAt: null,
  };
}

test("a crash's outcome counts the acknowledged commits lost, and its RPO is last acknowledged → last back", (t) => {
  const log = writerLog();
  const back = new Set(log.acks.slice(0, 12).map((a) => a.ticketId));
  const o = crashOutcome(log, back);
  t.is(o.acknowledged, 20);
  t.is(o.back, 12);
  t.is(o.lost, 8);
  t.deepEqual(o.lostSample, [1013, 1014, 1015, 1016, 1017, 1018, 1019, 1020]);
  t.deepEqual(o.holes, []);
  t.is(o.rpoSeconds, 0.4); // acknowledged at +950 ms, last back at +550 ms
  t.true(o.ok);
});

test("a crash's outcome refuses holes: a commit missing while a later one of the same writer is back", (t) => {
  const log = writerLog();
  const back = new Set(log.acks.map((a) => a.ticketId).filter((id) => id !== 1003));
  const o = crashOutcome(log, back);
  t.false(o.ok);
  t.deepEqual(o.holes, [{ writer: 0, missing: 1003, laterBack: 1019 }]);
  t.regex(o.problems[0]!, /1 acknowledged commit\(s\) missing while later commits of the same writer are back/);
});

test("commits in flight at the crash may come back, one per writer at most", (t) => {
  const log = writerLog();
  const back = new Set([...log.acks.map((a) => a.ticketId), 1021, 1022]);
  t.true(crashOutcome(log, back).ok);
  t.is(crashOutcome(log, back).inFlightBack, 2);
  const tooMany = crashOutcome(log, new Set([...back, 1023]));
  t.false(tooMany.ok);
  t.regex(
    tooMany.problems[0]!,
    /3 recovered sale\(s\) no writer was told about, but only 2 commit\(s\) were in flight/,
  );
});

test("when no acknowledged commit is back the RPO is a lower bound from the writers' start", (t) => {
  const o = crashOutcome(writerLog(), new Set());
  t.is(o.lost, 20);
  t.is(o.rpoSeconds, 0.96);
  t.regex(o.rpoBasis, /none of the 20 acknowledged commits is back: .* \(at least\)/);
});

test("the bad-data outcome wants exactly the sales before the statement, none after", (t) => {
  const log = writerLog();
  const before = log.acks.slice(0, 10).map((a) => a.ticketId);
  const d = {
    statement: "DELETE FROM payments",
    xid: "1029",
    committedAt: "2026-12-01T10:00:00.480123Z",
    rowsRemoved: 810,
    writerTicketsBefore: before,
  };
  const good = badDataOutcome(d, log, {
    payments: 810,
    writerTickets: new Set(before),
    writerTicketsWithPayment: new Set(before),
  });
  t.true(good.ok, good.problems.join("; "));
  t.is(good.commitsAfterStatement, 10);
  t.is(good.rpoSeconds, 0.03); // committed at +480.123 ms, last sale before it acknowledged at +450 ms
  const bad = badDataOutcome(d, log, {
    payments: 809,
    writerTickets: new Set([...before.slice(1), 1015]),
    writerTicketsWithPayment: new Set(before.slice(1)),
  });
  t.false(bad.ok);
  t.deepEqual(bad.missingBefore, [1001]);
  t.deepEqual(bad.presentAfter, [1015]);
  t.is(bad.problems.length, 3);
});

test("PostgreSQL's and pgBackRest's own accounts are read from their logs", (t) => {
  const pgLog = [
    "2026-12-01 10:00:01.000 UTC [1] LOG:  starting point-in-time recovery to earliest consistent point",
    "2026-12-01 10:00:01.100 UTC [1] LOG:  redo starts at 0/5000028",
    "2026-12-01 10:00:03.300 UTC [1] LOG:  redo done at 1/2000100 system usage: CPU: user: 1.10 s, system: 0.20 s, elapsed: 2.17 s",
  ].join("\n");
  t.deepEqual(redoFromLog(pgLog), { seconds: 2.17, walBytes: Number(lsnBytes("1/2000100") - lsnBytes("0/5000028")) });
  t.is(lsnBytes("1/0"), 2n ** 32n);
  t.is(redoFromLog("LOG:  database system is ready"), null);
  t.throws(() => lsnBytes("nope"), { message: 'invalid LSN "nope": expected <hex>/<hex>' });
  const bLog = [
    "P00   INFO: archive-push command end: completed successfully (35ms)",
    "P00   INFO: archive-push command end: completed successfully (1200ms)",
    "P00   INFO: restore command end: completed successfully (812ms)",
    "P00  ERROR: archive-push command end: aborted with exception [082]",
  ].join("\n");
  t.deepEqual(commandSecondsFromLog(bLog, "archive-push"), [0.035, 1.2]);
  t.deepEqual(commandSecondsFromLog(bLog, "restore"), [0.812]);
  // The drill's timed archive_command: segment, start, end, exit status; failed pushes do not count.
  const times = [
    "000000010000000000000003 1764583200.100 1764583200.250 0",
    "000000010000000000000004 1764583260.000 1764583290.000 1",
    "garbage",
  ].join("\n");
  t.deepEqual(
    pushSecondsFromTimes(times).map((x) => Math.round(x * 1000) / 1000),
    [0.15],
  );
});

test("the archived WAL ends where the newest archived segment ends, whatever file names it", (t) => {
  const seg = 16 * 1024 ** 2;
  t.is(segmentEnd("000000010000000000000005", seg), 6n * BigInt(seg));
  t.is(segmentEnd("000000010000000000000005.00000028.backup", seg), 6n * BigInt(seg));
  t.is(segmentEnd("0000000100000001000000FF", seg), (256n + 256n) * BigInt(seg));
  t.throws(() => segmentEnd("00000002.history", seg), { message: /invalid WAL segment name "00000002.history"/ });
});

test("estimate ÷ achieved is left out when either side is too small to divide", (t) => {
  t.is(ratio(10, 8), 1.25);
  t.is(ratio(0.01, 0.02), null);
  t.is(ratio(5, 0), null);
});

test("the recovery's arguments: the latest point after a crash, just before the transaction after bad data", (t) => {
  const base = {
    outputsFile: "/o.json",
    cfg: { configFile: "/c/pgbackrest.conf", stanza: "eventchain", dir: "/c" },
    targetRoot: "/r",
    incidentAt: new Date("2026-12-01T10:00:00Z"),
  };
  const latest = recoveryArgs({ ...base, target: { kind: "latest" }, walStreamDir: "/w" });
  t.deepEqual(latest.slice(latest.indexOf("--time"), latest.indexOf("--time") + 2), ["--time", "latest"]);
  t.true(latest.includes("--wal-stream-dir"));
  const xid = recoveryArgs({
    ...base,
    target: { kind: "before-xid", xid: "1029", committedAt: "2026-12-01T10:00:00.480123Z" },
  });
  // --time is the commit cut to milliseconds upward: never before it.
  t.deepEqual(xid.slice(xid.indexOf("--time"), xid.indexOf("--time") + 4), [
    "--time",
    "2026-12-01T10:00:00.481Z",
    "--before-xid",
    "1029",
  ]);
});

test("pgBackRest's recovery targets and the streaming restore_command are exact and refuse unsafe input", (t) => {
  const time = new Date("2026-12-01T10:00:00.123Z");
  t.deepEqual(recoveryTargetArgs(time), [
    "--type=time",
    "--target=2026-12-01 10:00:00.123+00",
    "--target-action=pause",
    "--target-timeline=current",
  ]);
  t.deepEqual(
    recoveryTargetArgs(time, { kind: "time" }, "promote"),
    ["--type=time", "--target=2026-12-01 10:00:00.123+00", "--target-action=promote", "--target-timeline=current"],
    "the path as before: PostgreSQL promotes by itself at the target",
  );
  t.deepEqual(
    recoveryTargetArgs(time, { kind: "end-of-wal" }),
    ["--type=standby", "--target-timeline=current"],
    "the end of the WAL has no target to pause at: a standby replays all it can fetch and waits",
  );
  t.deepEqual(recoveryTargetArgs(time, { kind: "end-of-wal" }, "promote"), [
    "--type=default",
    "--target-timeline=current",
  ]);
  t.deepEqual(recoveryTargetArgs(time, { kind: "before-xid", xid: "1029" }), [
    "--type=xid",
    "--target=1029",
    "--target-exclusive",
    "--target-action=pause",
    "--target-timeline=current",
  ]);
  t.throws(() => recoveryTargetArgs(time, { kind: "before-xid", xid: "1; rm" }), {
    message: 'invalid transaction id "1; rm": expected a positive integer',
  });
  const cfg = { configFile: "/tmp/x/pgbackrest.conf", stanza: "eventchain", dir: "/tmp/x" };
  t.is(
    streamingRestoreCommand(cfg, "/tmp/x/data", "/tmp/x/wal-stream/"),
    'pgbackrest --config=/tmp/x/pgbackrest.conf --stanza=eventchain --pg1-path=/tmp/x/data archive-get %f "%p" || cp /tmp/x/wal-stream/%f "%p" || cp /tmp/x/wal-stream/%f.partial "%p"',
  );
  // WAL fetched ahead of replay: its own queue and lock next to the restored data directory.
  const ahead = fetchAheadFor("/tmp/x/data", 2);
  t.deepEqual(ahead, {
    spoolDir: "/tmp/x/wal-spool",
    lockDir: "/tmp/x/wal-lock",
    queueMaxBytes: 1024 ** 3,
    processes: 1,
  });
  t.is(
    fetchAheadFor("/tmp/x/data", 16).processes,
    8,
    "one fetching process per core beside the replaying one, at most 8",
  );
  t.is(
    streamingRestoreCommand(cfg, "/tmp/x/data", "/tmp/x/wal-stream/", ahead),
    'pgbackrest --config=/tmp/x/pgbackrest.conf --stanza=eventchain --pg1-path=/tmp/x/data --archive-async --spool-path=/tmp/x/wal-spool --lock-path=/tmp/x/wal-lock --archive-get-queue-max=1073741824 --process-max=1 archive-get %f "%p" || cp /tmp/x/wal-stream/%f "%p" || cp /tmp/x/wal-stream/%f.partial "%p"',
  );
  t.throws(() => streamingRestoreCommand(cfg, "/tmp/x/data", "/tmp/a\nb"), {
    message: /invalid WAL stream directory "\/tmp\/a\\nb": expected no newline or other control character/,
  });
});

test("the streaming restore_command fetches from a stream directory whose path a shell would misread", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "ecdr-stream-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const stream = join(root, "it's a $(touch pwned); dir");
  mkdirSync(stream);
  const segment = "000000010000000000000003";
  writeFileSync(join(stream, `${segment}.partial`), "streamed WAL");
  const cfg = { configFile: join(root, "no-such", "pgbackrest.conf"), stanza: "eventchain", dir: root };
  // PostgreSQL's substitutions: %f the segment, %p where it wants it, %% a literal %.
  const command = streamingRestoreCommand(cfg, join(root, "data"), stream)
    .replace(/%f/g, segment)
    .replace(/%p/g, join(root, "restored"))
    .replace(/%%/g, "%");
  const r = spawnSync("sh", ["-c", command], { cwd: root, env: { PATH: "/usr/bin:/bin" } });
  t.is(r.status, 0, r.stderr.toString());
  t.is(readFileSync(join(root, "restored"), "utf8"), "streamed WAL", "the partial segment, read from the stream");
  t.false(existsSync(join(root, "pwned")), "nothing in the path ran");
});

test("runbooks the drill starts inherit no credentials or connections, only what it gives them", (t) => {
  const env = childEnvironment(
    {
      PATH: "/bin",
      AWS_PROFILE: "prod",
      PGPASSWORD: "x",
      PGHOST: "db",
      PG_BINDIR: "/pg",
      REDISCLI_AUTH: "r",
      HOME: "/h",
    },
    { PGHOST: "127.0.0.1" },
  );
  t.deepEqual(env, { PATH: "/bin", PG_BINDIR: "/pg", HOME: "/h", PGHOST: "127.0.0.1" });
});

test("a recovering server is held at its stop when paused at its target, or caught up with the archive as a standby", (t) => {
  t.deepEqual(recoveryStateOf({ inRecovery: true, pause: "not paused", startupWait: "RestoreCommand" }), {
    state: "replaying",
    caughtUp: false,
  });
  t.deepEqual(recoveryStateOf({ inRecovery: true, pause: "paused", startupWait: null }), {
    state: "paused",
    caughtUp: false,
  });
  t.deepEqual(
    recoveryStateOf({ inRecovery: true, pause: "not paused", startupWait: "RecoveryRetrieveRetryInterval" }),
    { state: "paused", caughtUp: true },
    "every source tried and nothing more to fetch: its replay is paused next",
  );
  t.deepEqual(recoveryStateOf({ inRecovery: true, pause: "pause requested", startupWait: "RestoreCommand" }), {
    state: "paused",
    caughtUp: false,
  });
  t.deepEqual(recoveryStateOf({ inRecovery: false, pause: null, startupWait: null }), {
    state: "promoted",
    caughtUp: false,
  });
});

test("the redo of a paused recovery is read from the server's log, up to the pause or the held position", (t) => {
  const log = [
    "2026-12-07 23:30:34.565 UTC [22011] LOG:  database system is ready to accept read-only connections",
    "2026-12-07 23:30:34.600 UTC [22016] LOG:  redo starts at 0/11000028",
    "2026-12-07 23:30:51.805 UTC [22016] LOG:  pausing at the end of recovery",
  ].join("\n");
  const r = pausedRedo(log, { lsn: "0/229E9648", at: new Date("2026-12-07T23:31:00Z") });
  t.is(r!.seconds, 17.205);
  t.is(r!.walBytes, 0x229e9648 - 0x11000028);
  // A standby caught up with the archive logs no pause: the moment it was seen holding counts.
  const standby = pausedRedo(log.split("\n").slice(0, 2).join("\n"), {
    lsn: "0/12000000",
    at: new Date("2026-12-07T23:30:36.600Z"),
  });
  t.is(standby!.seconds, 2);
  t.is(pausedRedo("no recovery here", { lsn: "0/1", at: new Date() }), null);
});
