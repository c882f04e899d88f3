import test from "ava";
import { growthOf } from "../../../rehearsal/bench/growth.ts";
import { parseBenchArgs, parseSizes } from "../../../rehearsal/bench/options.ts";
import { meets } from "../../../rehearsal/bench/bench-results.ts";
import { drillMetrics } from "../../../rehearsal/bench/drill.ts";
import {
  growthByPath,
  mergeScaling,
  pitrFloor,
  renderScaling,
  SCALING_END,
  SCALING_START,
  type ScalingResults,
} from "../../../rehearsal/bench/scaling-report.ts";
import { summarise } from "../../../rehearsal/bench/harness.ts";

const GiB = 1024 ** 3;

test("growth: seconds per GiB is the slope, the power-fit exponent says how it bends", (t) => {
  const linear = growthOf([
    { gib: 0.1, seconds: 1 },
    { gib: 0.5, seconds: 5 },
    { gib: 2, seconds: 20 },
  ]);
  t.is(Math.round(linear.secondsPerGiB! * 100) / 100, 10);
  t.is(Math.round(linear.exponent! * 100) / 100, 1);
  // A fixed 3 s part dominates the small sizes: the exponent drops below 1.
  const fixed = growthOf([
    { gib: 0.1, seconds: 4 },
    { gib: 0.5, seconds: 8 },
    { gib: 2, seconds: 23 },
  ]);
  t.true(fixed.exponent! < 0.7, String(fixed.exponent));
  t.deepEqual(growthOf([{ gib: 1, seconds: 2 }]), {
    secondsPerGiB: null,
    exponent: null,
    points: [{ gib: 1, seconds: 2 }],
  });
});

test("--scaling takes two to five ascending sizes, and --sizes needs it", (t) => {
  t.deepEqual(parseSizes("0.1GiB,0.5GiB,2GiB"), [0.1 * GiB, 0.5 * GiB, 2 * GiB].map(Math.round));
  t.throws(() => parseSizes("1GiB"), { message: /expected 2 to 5 sizes separated by commas/ });
  t.throws(() => parseSizes("1GiB,512MiB"), { message: /expected ascending sizes/ });
  t.throws(() => parseSizes("1GiB,lots"), { message: /--size "lots" is not a size/ });
  const o = parseBenchArgs(["--scaling"], "/r");
  t.true(o.scaling);
  t.is(o.name, "scaling");
  t.is(o.sizes.length, 3);
  t.throws(() => parseBenchArgs(["--sizes", "1GiB,2GiB"], "/r"), {
    message: "--sizes goes with --scaling (the three-size run)",
  });
});

test("an estimate is judged good within 0.75–1.25 of what was achieved", (t) => {
  const target = { op: "between", value: 0.75, upper: 1.25 } as const;
  t.true(meets(1.2, target));
  t.true(meets(0.75, target));
  t.false(meets(1.3, target));
  t.false(meets(0.5, target));
});

test("the drill's estimate and achieved figures are read from its report", (t) => {
  const m = drillMetrics({
    verdict: "objectives_met",
    phases: [{ name: "x", seconds: 1, ok: true }],
    rto: {
      readyForWritesSeconds: 8,
      achievedSeconds: 10,
      estimateReadyForWritesSeconds: 7,
      estimateSeconds: 9,
      ratio: 0.9,
    },
    rpo: { achievedSeconds: 14.2, estimateSeconds: 14, worstCaseSeconds: 60.1, ratio: 0.99 },
    crash: { acknowledged: 7000, lost: 1400 },
    measured: { databaseBytes: GiB },
  });
  t.deepEqual(m, {
    phases: 1,
    rtoEstimate: 9,
    rtoAchieved: 10,
    rtoRatio: 0.9,
    readyEstimate: 7,
    readyAchieved: 8,
    rpoEstimate: 14,
    rpoAchieved: 14.2,
    rpoRatio: 0.99,
    rpoWorstCase: 60.1,
    acknowledged: 7000,
    lost: 1400,
    databaseBytes: GiB,
  });
});

function results(): ScalingResults {
  const size = (gib: number, untar: number, redo: number, ready: number, verified: number, verify: number) => ({
    targetBytes: gib * GiB,
    dataset: { dbBytes: gib * GiB, dataDirBytes: gib * GiB * 1.1, scale: gib * 190, seedSeconds: 1 },
    pitrWalBytes: gib * 0.25 * GiB,
    cases: [
      summarise("floor.untar", "untar", [{ seconds: untar }]),
      {
        ...summarise("ours.pitr_posix", "PITR", [
          {
            seconds: verified,
            phases: { verify },
            metrics: { redoSeconds: redo, readyForWritesSeconds: ready, verifiedSeconds: verified },
          },
        ]),
      },
    ],
    drill: {
      scale: gib * 190,
      runId: null,
      error: null,
      metrics: { rtoEstimate: 10 * gib, rtoAchieved: 9 * gib, rtoRatio: 1.11, rpoRatio: 2, databaseBytes: gib * GiB },
    },
  });
  return {
    name: "scaling",
    startedAt: "2026-12-01T10:00:00Z",
    finishedAt: "2026-12-01T10:40:00Z",
    machine: { cpus: 2, cpuModel: "cpu", memGiB: 24, node: "v24", postgres: "PostgreSQL 15", loadAverage: [3, 2, 1] },
    reps: 3,
    calibrationRuns: ["drill-20261201t094459-d6136b"],
    sizes: [size(0.5, 1.2, 0.5, 2.5, 3.0, 0.5), size(2, 5, 2, 8, 9.5, 1.5)],
  };
}

test("the PITR floor is untar plus PostgreSQL's logged redo, and both milestones are set against it", (t) => {
  const p = pitrFloor(results().sizes[1]!);
  t.is(p.floor, 7);
  t.is(Math.round(p.readyRatio! * 100) / 100, 1.14);
  t.is(Math.round(p.verifiedRatio! * 100) / 100, 1.36);
  t.is(Math.round(p.verifyShare! * 100) / 100, 0.16);
  const g = growthByPath(results()).find((x) => x.id === "pitr.verified")!;
  t.is(Math.round(g.secondsPerGiB! * 100) / 100, 4.33);
});

test("the README section shows every size, the growth, the PITR floor now and before, the compression trade-off and each drill against its range", (t) => {
  const r = results();
  const big = r.sizes[1]!;
  big.cases.push(
    summarise("ours.pitr_posix_before", "PITR before", [
      { seconds: 14, metrics: { redoSeconds: 4, readyForWritesSeconds: 11, verifiedSeconds: 14 } },
    ]),
  );
  big.compression = [
    { compression: "lz4", backupSeconds: 10, repoBytes: 1.4e9, restoreSeconds: 4 },
    { compression: "none", backupSeconds: 9, repoBytes: 2.1e9, restoreSeconds: 3.8 },
  ];
  big.drills = [
    big.drill!,
    {
      scale: 380,
      runId: null,
      error: null,
      metrics: { rangeLow: 10, rangeHigh: 14, rtoEstimate: 12, rtoAchieved: 15, databaseBytes: 2 * GiB },
    },
  ];
  big.drill!.metrics = { ...big.drill!.metrics, rangeLow: 15, rangeHigh: 21, rtoEstimate: 18, loadPerCore: 1.5 };
  const md = renderScaling(r);
  t.regex(
    md,
    /\| PITR to verified, now \(witnesses and integrity checks side by side with the promotion\) \| 3.00 \| 9.50 \| 4.33 \| [\d.]+ \|/,
  );
  t.regex(
    md,
    /\| 2.00 GiB \| 537 MB \| 5.00 s \| 4.00 → 2.00 s \| 134 → 268 \| 7.00 s \| 8.00 s \| 1.14× \| 9.50 s \| 1.36× \(\*\*missed\*\*\) \| 2.00× \| – s; \+1.50 s \(16 %, \*\*missed\*\*\) \|/,
  );
  t.regex(md, /\| 2.00 GiB \| none \| 9.00 s \| 2100 MB \| 3.80 s \| 0.95 \|/);
  t.regex(md, /\| 2.00 GiB \(380\) \| 1.50 \| 15.00–21.00 s \(18.00\) \| 18.00 s \| yes \| ±17 % \|/);
  t.regex(md, /\| 2.00 GiB \(380\) \| – \| 10.00–14.00 s \(12.00\) \| 15.00 s \| \*\*no\*\* \| ±17 % \|/);
  t.regex(md, /\*\*1 of 2 drills achieved an RTO inside the range they printed\*\*/);
  t.regex(md, /latest drill-20261201t094459-d6136b/);
  const merged = mergeScaling(`# B\n\n${SCALING_START}\nold\n${SCALING_END}\nafter\n`, md);
  t.true(merged.includes(md) && merged.endsWith("after\n") && !merged.includes("old"));
});
