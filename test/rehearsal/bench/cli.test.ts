import test from "ava";
import { $ } from "zx";

test("bad input stops the bench before it starts anything, naming the value", async (t) => {
  const r = await $({ quiet: true, nothrow: true })`npx tsx rehearsal/bench/run.ts --size lots`;
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /bench: --size "lots" is not a size: expected a number with an optional unit/);
  t.notRegex(r.stderr, /seeding/);
});

test("--help prints the options and exits 0", async (t) => {
  const r = await $({ quiet: true, nothrow: true })`npx tsx rehearsal/bench/run.ts --help`;
  t.is(r.exitCode, 0);
  t.regex(r.stdout, /--quick {2,}tiny dataset/);
  t.regex(r.stdout, /--only <ids>/);
});
