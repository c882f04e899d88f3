import test from "ava";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DRILL_OPTIONS, drillUsage, parseDrillArgs } from "../../rehearsal/drill.ts";
import { runDrill, type DrillOptions } from "../../rehearsal/drill/run.ts";

function stateDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "drill-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const drill = (t: Parameters<typeof stateDir>[0], o: Partial<DrillOptions>, lines: string[]) =>
  runDrill({
    scale: 0.1,
    scenario: "crash",
    writers: 2,
    commitsPerSecond: 100,
    writeSeconds: 4,
    keep: false,
    stateDir: stateDir(t),
    json: false,
    log: (l) => lines.push(l),
    ...o,
  });

// Each drill starts its own servers; they run one after the other to keep the 2 cores for them.
test.serial(
  "a crash without warning loses the acknowledged commits not yet archived, and the report counts them",
  async (t) => {
    const lines: string[] = [];
    const result = await drill(t, {}, lines);
    t.is(result.exitCode, 0, `${result.report.failure}\n${lines.join("\n")}`);
    const r = result.report;
    t.is(r.verdict, "objectives_met");
    t.is(r.scenario, "crash");
    // The posture's archive settings, from the stack config.
    t.deepEqual(r.wal, { archiveTimeoutSeconds: 60, streaming: "off", archiveDelaySeconds: null });
    t.deepEqual(r.objective, { system: "primary-database", tier: "critical", rtoMinutes: 60, rpoMinutes: 15 });
    const c = r.crash!;
    t.true(c.ok, c.problems.join("; "));
    t.true(c.acknowledged > 100, `${c.acknowledged} commits acknowledged`);
    t.is(c.back + c.lost, c.acknowledged);
    // 4 s of writes after the base backup and a 60 s archive_timeout: nothing of them reached the repository.
    t.true(c.lost > 0, "the crash lost the commits whose WAL was not archived");
    t.deepEqual(c.holes, []);
    t.true(r.rpo!.achievedSeconds > 2 && r.rpo!.achievedSeconds < 60, `RPO ${r.rpo!.achievedSeconds} s`);
    t.true(r.rpo!.met && r.rto!.met);
    // Estimated before the disaster, achieved after, side by side.
    t.truthy(r.estimate);
    t.true(Date.parse(r.estimate!.at) <= Date.parse(r.incidentAt!));
    // The point estimate is the range's when the calibration has one, else the model's.
    t.is(r.rto!.estimateSeconds, r.estimate!.rto.range?.seconds ?? r.estimate!.rto.verifiedSeconds);
    t.is(
      r.rto!.inRange,
      r.rto!.range ? r.rto!.achievedSeconds >= r.rto!.range.low && r.rto!.achievedSeconds <= r.rto!.range.high : null,
    );
    // Two milestones: the checks ran side by side with the promotion, "verified" is never before "ready".
    t.true(r.rto!.readyForWritesSeconds > 0 && r.rto!.readyForWritesSeconds <= r.rto!.achievedSeconds);
    t.truthy(
      r.phases.find((p) => /and hold there read-only/.test(p.name) && p.ok),
      "the runbook held the recovered server read-only at its stop before promoting it",
    );
    t.regex(readFileSync(r.verification.recoveredDatabase!.report!, "utf8"), /held read-only at its stop/);
    t.true(r.rto!.ratio! > 0);
    t.is(r.rpo!.worstCaseSeconds, r.estimate!.rpo.worstCaseSeconds);
    t.truthy(r.measured!.phases.restore && r.measured!.phases.verify && r.measured!.phases.overhead);
    t.regex(
      result.markdown,
      /\| RTO: incident → verified \| [\d.]+ m?s( \(range [\d.]+ m?s–[\d.]+ m?s\))? \| [\d.]+ m?s[^|]* \| [\d.]+ \| 60 min \| yes \|/,
    );
    t.regex(result.markdown, /\*\*\d+ lost\*\*/);
    t.true(r.verification.logicalBackup!.ok && r.verification.recoveredDatabase!.ok);
    t.deepEqual(JSON.parse(readFileSync(result.reportPaths!.json, "utf8")).verdict, "objectives_met");
    t.is(r.workDirs.length, 2);
    for (const dir of r.workDirs) t.false(existsSync(dir), `${dir} was left behind`);
    // The drill passes settings to its runbooks explicitly: its own environment is untouched.
    t.is(process.env.PGHOST, undefined);
    t.is(process.env.AWS_ACCESS_KEY_ID, undefined);
  },
);

test.serial(
  "with archiving slowed down the crash loses every commit since the base backup and the drill exits 'objectives missed'",
  async (t) => {
    const lines: string[] = [];
    // archive_timeout 1 s would archive within about a second; each archive-push 30 s late archives nothing.
    const result = await drill(
      t,
      { archiveTimeoutSeconds: 1, archiveDelaySeconds: 30, objective: { rpoMinutes: 0.03 } },
      lines,
    );
    t.is(result.exitCode, 3, `${result.report.failure}\n${lines.join("\n")}`);
    const r = result.report;
    t.is(r.verdict, "objectives_missed");
    t.is(r.crash!.back, 0);
    t.is(r.crash!.lost, r.crash!.acknowledged);
    t.true(r.crash!.lost > 0);
    t.true(r.rpo!.achievedSeconds > 0.03 * 60, `RPO ${r.rpo!.achievedSeconds} s`);
    t.false(r.rpo!.met);
    t.true(r.rto!.met, "recovered and verified: only the RPO is missed");
    t.regex(result.markdown, /RECOVERED and verified, but objectives missed/);
    t.regex(result.markdown, /\| RPO: data lost \| .* \| 0\.03 min \| \*\*no\*\* \|/);
  },
);

test.serial("with WAL streamed by pg_receivewal the same crash loses (almost) nothing", async (t) => {
  const lines: string[] = [];
  const result = await drill(t, { streaming: "pg_receivewal" }, lines);
  t.is(result.exitCode, 0, `${result.report.failure}\n${lines.join("\n")}`);
  const r = result.report;
  t.is(r.wal.streaming, "pg_receivewal");
  const c = r.crash!;
  t.true(c.ok, c.problems.join("; "));
  t.true(c.acknowledged > 100);
  // Asynchronous streaming: at most the commits of the last milliseconds, one per writer.
  t.true(c.lost <= 2, `${c.lost} lost`);
  t.true(r.rpo!.achievedSeconds < 1, `RPO ${r.rpo!.achievedSeconds} s`);
  t.true(r.measured!.phases.streamLag !== undefined);
});

test.serial("a DELETE without WHERE is undone: exactly the rows committed before it are back", async (t) => {
  const lines: string[] = [];
  const result = await drill(t, { scenario: "bad-data" }, lines);
  t.is(result.exitCode, 0, `${result.report.failure}\n${lines.join("\n")}`);
  const b = result.report.badData!;
  t.true(b.ok, b.problems.join("; "));
  t.is(b.statement, "DELETE FROM payments");
  t.regex(b.xid, /^\d+$/);
  t.true(b.paymentsBefore > 800, "the seeded payments and the writers' before it");
  t.is(b.paymentsBack, b.paymentsBefore);
  t.deepEqual(b.missingBefore, []);
  t.deepEqual(b.presentAfter, []);
  t.true(b.commitsAfterStatement >= 10, `${b.commitsAfterStatement} sales after the statement`);
  t.true(b.rpoSeconds < 1, "the recovery point is just before the statement");
  t.is(result.report.crash, null);
});

test("the drill's arguments are validated with messages naming the value", (t) => {
  t.throws(() => parseDrillArgs(["--scale", "0"]), {
    message: /invalid --scale 0: expected a number greater than 0 and at most 10000/,
  });
  t.throws(() => parseDrillArgs(["--scenario", "flood"]), {
    message: 'invalid --scenario "flood": expected crash or bad-data',
  });
  t.throws(() => parseDrillArgs(["--streaming", "wal-g"]), {
    message: 'invalid --streaming "wal-g": expected off or pg_receivewal',
  });
  t.throws(() => parseDrillArgs(["--archive-timeout", "0"]), {
    message: 'invalid --archive-timeout "0": expected an integer from 1 to 3600',
  });
  t.throws(() => parseDrillArgs(["--rate", "many"]), {
    message: 'invalid --rate "many": expected a number from 1 to 5000',
  });
  t.throws(() => parseDrillArgs(["--nope"]), { message: /Unknown option '--nope'/ });
  const ok = parseDrillArgs(["--scale", "2", "--keep", "--scenario", "bad-data"]);
  t.is(ok.scale, 2);
  t.true(ok.keep);
  t.is(ok.scenario, "bad-data");
  t.is(ok.writeSeconds, 20);
  t.is(ok.streaming, undefined, "the stack config decides unless given");
  t.is(parseDrillArgs([]).scenario, "crash");
  t.throws(() => parseDrillArgs(["--scale", "abc"]), {
    message: 'invalid --scale "abc": expected a number greater than 0 and at most 10000',
  });
});

test("each default the drill's --help prints is the one it uses", (t) => {
  const usage = drillUsage();
  const withDefaults = Object.entries(DRILL_OPTIONS).filter(
    (entry): entry is [string, (typeof entry)[1] & { default: string | number }] => "default" in entry[1],
  );
  t.true(withDefaults.length >= 5);
  for (const [name, option] of withDefaults) {
    t.regex(usage, new RegExp(`--${name} .*\\(default ${option.default}\\)`, "s"), `--${name} in --help`);
    t.deepEqual(parseDrillArgs(["--" + name, String(option.default)]), parseDrillArgs([]), `--${name} unchanged`);
  }
  t.not(parseDrillArgs(["--write-seconds", "7"]).writeSeconds, parseDrillArgs([]).writeSeconds, "the test can fail");
});
