import test from "ava";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDrillArgs } from "../../runbooks/drill.ts";
import { runDrill } from "../../runbooks/drill/run.ts";

function stateDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "drill-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Drills run one at a time: each sets the libpq and emulator variables of this process.
for (const disaster of ["delete-datadir", "drop-table"] as const) {
  test.serial(
    `the drill recovers from ${disaster} to T, verifies, reports RTO/RPO met and leaves nothing behind`,
    async (t) => {
      const lines: string[] = [];
      const result = await runDrill({
        scale: 0.1,
        disaster,
        keep: false,
        stateDir: stateDir(t),
        json: false,
        log: (l) => lines.push(l),
      });
      t.is(result.exitCode, 0, `${result.report.failure}\n${lines.join("\n")}`);
      const r = result.report;
      t.is(r.verdict, "objectives_met");
      t.deepEqual(r.objective, { system: "primary-database", tier: "critical", rtoMinutes: 60, rpoMinutes: 15 });
      t.true(r.rto!.met);
      t.true(r.rpo!.met);
      t.true(r.rows!.ok);
      t.true(r.rows!.committedUpToT > 0 && r.rows!.committedAfterT > 0);
      t.deepEqual(r.rows!.unexpected, []);
      t.true(r.verification.logicalBackup!.ok && r.verification.recoveredDatabase!.ok);
      t.regex(result.markdown, /PASSED: recovered, verified, RTO and RPO within the objective/);
      t.regex(result.markdown, /\| RTO \(incident → recovered and verified\) \| 60 min \| [\d.]+ s \| yes \|/);
      t.true(existsSync(result.reportPaths!.json));
      t.deepEqual(JSON.parse(readFileSync(result.reportPaths!.json, "utf8")).verdict, "objectives_met");
      t.is(r.workDirs.length, 2);
      for (const dir of r.workDirs) t.false(existsSync(dir), `${dir} was left behind`);
      t.is(process.env.PGHOST, undefined);
    },
  );
}

test("the drill's arguments are validated with messages naming the value", (t) => {
  t.throws(() => parseDrillArgs(["--scale", "0"]), {
    message: /invalid --scale 0: expected a number greater than 0 and at most 10000/,
  });
  t.throws(() => parseDrillArgs(["--disaster", "flood"]), {
    message: 'invalid --disaster "flood": expected delete-datadir or drop-table',
  });
  t.throws(() => parseDrillArgs(["--nope"]), { message: /Unknown option '--nope'/ });
  const ok = parseDrillArgs(["--scale", "2", "--keep"]);
  t.is(ok.scale, 2);
  t.true(ok.keep);
  t.is(ok.disaster, "delete-datadir");
});
