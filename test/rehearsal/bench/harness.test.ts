import test from "ava";
import { interleave, median, summarise, type Case } from "../../../rehearsal/bench/harness.ts";

test("the median of an odd count is the middle value and of an even count the mean of the two", (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.throws(() => median([]), { message: "median of an empty list: at least one value is needed" });
});

test("cases run interleaved A, B, A, B with prepare and cleanup around each run", async (t) => {
  const log: string[] = [];
  const make = (id: string): Case => ({
    id,
    label: id,
    prepare: async () => void log.push(`prepare ${id}`),
    run: async () => {
      log.push(`run ${id}`);
      return { bytes: 10e6, seconds: id === "a" ? 2 : 1 };
    },
    cleanup: async () => void log.push(`cleanup ${id}`),
  });
  const results = await interleave([make("a"), make("b")], 2);
  t.deepEqual(
    log.filter((l) => l.startsWith("run")),
    ["run a", "run b", "run a", "run b"],
  );
  t.deepEqual(log.slice(0, 3), ["prepare a", "run a", "cleanup a"]);
  t.is(results[0]!.seconds, 2);
  t.is(results[0]!.mbPerSec, 5);
  t.is(results[1]!.mbPerSec, 10);
});

test("a failed repetition is left out of the median and cleanup still runs", async (t) => {
  let n = 0;
  let cleanups = 0;
  const flaky: Case = {
    id: "flaky",
    label: "flaky",
    run: async () => {
      n++;
      if (n === 2) throw new Error("boom");
      return { seconds: n };
    },
    cleanup: async () => void cleanups++,
  };
  const errors: string[] = [];
  const [r] = await interleave([flaky], 3, (e) => e.error && errors.push(e.error.message));
  t.deepEqual(
    r!.samples.map((s) => s.seconds),
    [1, 3],
  );
  t.is(r!.seconds, 2);
  t.is(cleanups, 3);
  t.deepEqual(errors, ["boom"]);
  t.is(r!.error, undefined);
});

test("a case whose every repetition fails carries the error", async (t) => {
  const [r] = await interleave(
    [
      {
        id: "x",
        label: "x",
        run: async () => {
          throw new Error("no server");
        },
      },
    ],
    2,
  );
  t.is(r!.error, "no server");
  t.true(Number.isNaN(r!.seconds));
});

test("phases and metrics are reported as medians per key", (t) => {
  const r = summarise("d", "drill", [
    { seconds: 10, phases: { seed: 2, restore: 6 } },
    { seconds: 12, phases: { seed: 4, restore: 7 } },
    { seconds: 11, phases: { seed: 3, restore: 5 } },
  ]);
  t.deepEqual(r.phases, { seed: 3, restore: 6 });
  t.is(r.seconds, 11);
});
