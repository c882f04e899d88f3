/**
 * Each runbook page's step list is the code's: every list in runbooks/docs/ equals the table
 * generated from the runbook's steps (runbooks/lib/step-list.ts), every runbook has its page with
 * a list of each of its shapes, and a list edited by hand — or a step renamed in the code — fails.
 */
import test from "ava";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stepListMarkdown } from "../../runbooks/lib/step-list.ts";
import { stepFor } from "../../runbooks/lib/types.ts";
import { PAGES_DIR, pageDifferences, stepLists, writeStepLists } from "../helpers/runbook-pages.ts";
import { runbooks, SHAPES } from "../helpers/runbook-steps.ts";

test("every step list in the runbook pages matches the runbook's steps", (t) => {
  t.deepEqual(pageDifferences(), []);
});

test("every runbook's page lists its steps, once for each shape of its steps", (t) => {
  const lists = stepLists();
  const missing = runbooks.flatMap((r) => {
    const own = lists.filter((l) => l.page === `${r.name}.md` && l.runbook === r.name);
    const wanted = typeof r.steps === "function" ? (SHAPES[r.name] ?? [{}]) : [{}];
    return wanted
      .filter((given) => !own.some((l) => JSON.stringify(l.given) === JSON.stringify(given)))
      .map((given) => `${r.name}.md has no step list of ${r.name} ${JSON.stringify(given)}`);
  });
  t.deepEqual(missing, []);
  t.true(lists.length >= runbooks.length, `${lists.length} lists`);
});

test("a list edited by hand is named, and the writer puts the code's list back", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "step-lists-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(PAGES_DIR, dir, { recursive: true });
  const page = join(dir, "region-failover.md");
  const original = readFileSync(page, "utf8");
  // Someone documents the switch as depending on the targets only.
  const edited = original.replace(
    "| `verify-targets`, `wait-database` | moves traffic",
    "| `verify-targets` | moves traffic",
  );
  t.not(edited, original);
  writeFileSync(page, edited);
  t.deepEqual(pageDifferences(dir), [
    "region-failover.md: the step list of region-failover differs from the code (npm run docs:steps rewrites it)",
  ]);
  t.deepEqual(writeStepLists(dir), ["region-failover.md"]);
  t.is(readFileSync(page, "utf8"), original);
  t.deepEqual(pageDifferences(dir), []);
});

test("the generated list names each step, what it waits for and whether it asks first", (t) => {
  const step = stepFor<unknown>();
  const noop = { describe: () => [], run: async () => ({}) };
  const check = step({ ...noop, id: "check", title: "Check | it", dependsOn: [], readOnly: true, gate: true });
  const go = step({ ...noop, id: "go", title: "Go", dependsOn: [check], movesTraffic: true });
  const drop = step({ ...noop, id: "drop", title: "Drop", dependsOn: [], destructive: true, ungated: "own things" });
  t.is(
    stepListMarkdown([check, go, drop]),
    [
      "| # | step | what it does | after | kind |",
      "|---|---|---|---|---|",
      "| 1 | `check` | Check \\| it | — | gate (an assessment: runs before the preflight) |",
      "| 2 | `go` | Go | `check` | moves traffic: asks first |",
      "| 3 | `drop` | Drop | — | destructive: asks first; needs no gate: own things |",
      "",
    ].join("\n"),
  );
});
