import test from "ava";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import type { BenchResults } from "../../../rehearsal/bench/bench-results.ts";

// Runs the bench's quick mode once, end to end, into a temp results dir (the README is left
// alone). It proves every suite runs or says why it cannot; it asserts no timings.
test("the quick bench runs every suite and writes a results file with its cases", async (t) => {
  // Six suites, each starting its own servers: about two minutes on 2 cores.
  t.timeout(8 * 60_000);
  const dir = await mkdtemp(join(tmpdir(), "bench-quick-test-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await $({ quiet: true, nothrow: true })`npx tsx rehearsal/bench/run.ts --quick --results-dir ${dir}`;
  t.is(r.exitCode, 0, r.stderr.split("\n").slice(-20).join("\n"));
  const results = JSON.parse(await readFile(join(dir, "quick.json"), "utf8")) as BenchResults;
  t.true(results.options.quick);
  t.deepEqual(
    results.suites.map((s) => s.id),
    ["floor", "logical", "verify", "pitr", "failover", "drill"],
  );
  t.true(results.dataset!.rows.tickets > 0);
  for (const s of results.suites) {
    t.is(s.skipped, undefined, `${s.id} ran`);
    t.true(s.cases.length > 0, `${s.id} has cases`);
    for (const c of s.cases) {
      t.is(c.error, undefined, `${c.id} did not fail`);
      t.true(c.samples.length >= 1 && c.seconds > 0, `${c.id} has a sample`);
    }
  }
  const floor = results.suites.find((s) => s.id === "floor")!;
  t.deepEqual(
    floor.cases.map((c) => c.id),
    ["floor.tar", "floor.untar", "floor.pg_basebackup"],
  );
  t.regex(r.stdout, /### 2\. The floor/);
  const ratioIds = results.suites.flatMap((s) => s.ratios.map((x) => x.id));
  for (const id of [
    "logical.plan_vs_ours_backup",
    "pitr.posix_vs_untar",
    "verify.not_in_vs_ours",
    "failover.overhead_vs_ideal",
    "drill.total",
  ]) {
    t.true(ratioIds.includes(id), `ratio ${id} is reported`);
  }
  const drill = results.suites.find((s) => s.id === "drill")!.cases[0]!;
  t.true(Object.keys(drill.phases ?? {}).length >= 5, "the drill's phases are read from its report");
});
