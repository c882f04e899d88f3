import test from "ava";
import {
  ratio,
  meets,
  mergeIntoReadme,
  renderMarkdown,
  README_START,
  README_END,
  type BenchResults,
} from "../../../rehearsal/bench/bench-results.ts";
import { summarise } from "../../../rehearsal/bench/harness.ts";

const c = (id: string, seconds: number, bytes?: number, floor?: string) => {
  const r = summarise(id, id, [{ seconds, ...(bytes ? { bytes } : {}) }]);
  return floor ? { ...r, floor } : r;
};

test("a ratio is how many times longer the first case takes, checked against its target", (t) => {
  const r = ratio("x", "plan ÷ ours", c("plan", 10), c("ours", 4), { op: ">=", value: 2 });
  t.is(r.value, 2.5);
  t.true(r.met);
  t.false(ratio("y", "ours ÷ floor", c("ours", 4), c("floor", 2), { op: "<=", value: 1.25 }).met);
});

test("a missing or failed side gives no value and no verdict", (t) => {
  const failed = summarise("f", "f", [], "no server");
  const r = ratio("x", "x", c("a", 1), failed, { op: "<=", value: 2 });
  t.is(r.value, null);
  t.is(r.met, null);
  t.is(meets(null, { op: ">=", value: 1 }), null);
});

test("a lower bound proves a minimum met but never proves it missed", (t) => {
  t.true(ratio("x", "x", c("a", 30), c("b", 1), { op: ">=", value: 10 }, "lower").met);
  t.is(ratio("x", "x", c("a", 5), c("b", 1), { op: ">=", value: 10 }, "lower").met, null);
});

test("the table shows medians, throughput, multiples of the floor and verdicts", (t) => {
  const results: BenchResults = {
    name: "t",
    startedAt: "2026-11-24T17:00:00Z",
    finishedAt: "2026-11-24T17:20:00Z",
    machine: { cpus: 2, cpuModel: "cpu", memGiB: 23, node: "v20", postgres: "PostgreSQL 15" },
    options: { quick: false, sizeBytes: 1, reps: 1 },
    suites: [
      { id: "floor", title: "Floor", cases: [c("floor.tar", 2, 700e6)], ratios: [], notes: [] },
      {
        id: "logical",
        title: "Logical",
        cases: [c("ours.backup", 5, 700e6, "floor.tar")],
        ratios: [ratio("r", "ours ÷ tar", c("ours.backup", 5), c("floor.tar", 2), { op: "<=", value: 2 })],
        notes: ["a note"],
      },
      { id: "drill", title: "Drill", cases: [], ratios: [], notes: [], skipped: "npm run drill is not there yet" },
    ],
  };
  const md = renderMarkdown(results);
  t.regex(md, /\| floor\.tar \| 2\.00 s \| 350 \|/);
  t.regex(md, /\| ours\.backup \| 5\.00 s \| 140 \| 2\.50× tar \| 5\.00 \|/);
  t.regex(md, /\| ours ÷ tar \| 2\.50× \| ≤ 2× \| \*\*no\*\* \|/);
  t.regex(md, /Not run: npm run drill is not there yet/);
});

test("the README block is replaced between its markers and appended when absent", (t) => {
  const before = `# Bench\n\nintro\n\n${README_START}\nold\n${README_END}\n\nanalysis\n`;
  const after = mergeIntoReadme(before, "new\n");
  t.is(after, `# Bench\n\nintro\n\n${README_START}\nnew\n${README_END}\n\nanalysis\n`);
  t.is(mergeIntoReadme("# Bench\n", "x\n"), `# Bench\n\n${README_START}\nx\n${README_END}\n`);
});

test("a timed-out case is shown as a lower bound", (t) => {
  const notIn = summarise("plan.not_in", "NOT IN", [{ seconds: 120.4, metrics: { timedOut: 1 } }]);
  const md = renderMarkdown({
    name: "t",
    startedAt: "2026-11-24T17:00:00Z",
    finishedAt: "2026-11-24T17:20:00Z",
    machine: { cpus: 2, cpuModel: "cpu", memGiB: 23, node: "v20", postgres: "PostgreSQL 15" },
    options: { quick: false, sizeBytes: 1, reps: 1 },
    suites: [{ id: "verify", title: "Verify", cases: [notIn], ratios: [], notes: [] }],
  });
  t.regex(md, /\| NOT IN \| > 120 s \(timed out\) \|/);
});
