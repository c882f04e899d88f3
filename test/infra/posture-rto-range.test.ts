/**
 * The RTO estimate as a range: taken from the calibration drills' spread around the model and
 * the load each ran under; a drill records its load and whether it landed inside the range it
 * printed; only drills of the current recovery method count.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { BASE_FIGURES, type Figure, type FigureId } from "../../infra/posture/figures.ts";
import {
  calibrationSummary,
  currentRuns,
  figuresInUse,
  RECOVERY_METHOD,
  recordRun,
  type Calibration,
  type CalibrationRun,
} from "../../infra/posture/calibration.ts";
import { runFromReport } from "../../infra/posture/calibration-sources.ts";
import { achievedSeconds, inRange, predictedSeconds, rtoRange, rtoSpread } from "../../infra/posture/rto-range.ts";
import { estimateSelfManaged } from "../../infra/posture/self-managed.ts";

const root = new URL("../../", import.meta.url).pathname;
const drillText = readFileSync(join(root, "test/helpers/fixtures", "drill-report.json"), "utf8");

/** A drill run at `gb` GB that took `factor` × the model's time, at `load` per core. */
function drill(i: number, gb: number, factor: number, load: number | null, method = RECOVERY_METHOD): CalibrationRun {
  const b = gb * 1e9;
  // Seconds the assumed figures predict for each phase, times the factor.
  const f = (id: FigureId) => BASE_FIGURES[id].value;
  return {
    source: "drill",
    runId: `drill-2026120${i}t000000-aaaaaa`,
    date: `2026-12-0${i}T00:00:00.000Z`,
    scale: gb * 190,
    detail: "crash",
    recordedAt: `2026-12-0${i}T00:00:00.000Z`,
    ...(load === null ? {} : { loadPerCore: load }),
    method,
    phases: {
      restore: { bytes: b, seconds: (f("selfManagedRestoreFixed") + b / (f("selfManagedRestoreRate") * 1e6)) * factor },
      overhead: {
        bytes: b,
        seconds: (f("selfManagedRecoveryOverhead") + b / (f("selfManagedRecoveryOverheadRate") * 1e6)) * factor,
      },
      verify: { bytes: b, seconds: (f("selfManagedVerifyFixed") + b / (f("selfManagedVerifyRate") * 1e6)) * factor },
    },
    drift: [],
  };
}

const base = BASE_FIGURES as Record<FigureId, Figure>;
const cal = (runs: CalibrationRun[]): Calibration => ({ calibrationVersion: 1, runs });

test("the model's prediction and a drill's achieved recovery are read from its measured phases", (t) => {
  const r = drill(1, 1, 2, 0.5);
  t.is(Math.round(achievedSeconds(r.phases)! * 1000), Math.round(2 * predictedSeconds(r.phases, base)! * 1000));
  t.is(predictedSeconds({ restore: r.phases.restore }, base), null, "no whole recovery, no prediction");
});

test("the range follows the load the drills ran under, and holds every drill of the spread", (t) => {
  // Twice as slow at load 2 per core as at load 0: achieved ÷ model = 1 + 0.5 × load.
  const runs = [
    drill(1, 0.1, 1, 0),
    drill(2, 0.5, 1.5, 1),
    drill(3, 2, 2, 2),
    drill(4, 0.1, 1.05, 0),
    drill(5, 2, 1.5, 1),
  ];
  const spread = rtoSpread(cal(runs), base)!;
  t.is(spread.runs, 5);
  t.is(Math.round(spread.slope * 100) / 100, 0.5);
  t.true(spread.low <= 1 && spread.high >= 1);
  t.true(spread.high < 1.1, "the drills lie close to the line: a narrow range");
  const quiet = rtoRange(10, spread, 0)!;
  const busy = rtoRange(10, spread, 2)!;
  t.true(busy.seconds > quiet.seconds * 1.8, "a loaded machine: a longer estimate");
  t.true(quiet.low <= quiet.seconds && quiet.seconds <= quiet.high, "the point estimate inside");
  t.regex(busy.basis, /spread of 5 calibration drills at loads 0\.00–2\.00 per core/);
  t.true(inRange(busy.seconds, busy));
  t.false(inRange(busy.high + 0.01, busy));
});

test("without two drills of the current method there is no range, and older methods do not count", (t) => {
  t.is(rtoSpread(cal([drill(1, 1, 1, 0)]), base), null);
  const old = [drill(1, 1, 5, 0, "promoted-at-target"), drill(2, 1, 6, 1, "promoted-at-target")];
  const runs = [...old, drill(3, 1, 1, 0)];
  t.deepEqual(
    currentRuns(cal(runs)).map((r) => r.runId),
    [runs[2]!.runId],
  );
  t.is(rtoSpread(cal(runs), base), null, "the old drills' spread is not this method's");
  const inUse = figuresInUse(BASE_FIGURES, cal(runs));
  t.regex(inUse.selfManagedRestoreRate!.source, new RegExp(runs[2]!.runId));
  t.notRegex(inUse.selfManagedRestoreRate!.source, /2026120[12]/);
});

test("the estimate carries its range; the posture's is at the drills' middle load", (t) => {
  const spread = rtoSpread(cal([drill(1, 0.1, 1, 0.5), drill(2, 2, 1.2, 0.5), drill(3, 0.5, 0.9, 0.5)]), base);
  const e = estimateSelfManaged(
    {
      backupBytes: 1e9,
      databaseBytes: 1e9,
      walBytes: 1e8,
      archiveTimeoutSeconds: 60,
      streaming: "off",
      spread,
      loadPerCore: 0.5,
    },
    base,
  );
  t.truthy(e.rto.range);
  t.true(e.rto.range!.low < e.rto.range!.seconds && e.rto.range!.seconds < e.rto.range!.high);
  t.is(
    estimateSelfManaged(
      { backupBytes: 1e9, databaseBytes: 1e9, walBytes: 1e8, archiveTimeoutSeconds: 60, streaming: "off" },
      base,
    ).rto.range,
    null,
  );
});

test("a drill report records its load per core and whether its RTO fell in the range it printed", (t) => {
  const r = JSON.parse(drillText);
  r.recoveryMethod = RECOVERY_METHOD;
  r.machine = { cpus: 2, loadAverage: [3, 2, 1] };
  r.rto = { ...r.rto, achievedSeconds: 4, range: { seconds: 2.5, low: 2, high: 3 } };
  const run = runFromReport(JSON.stringify(r), "drill-report.json");
  t.is(run.loadPerCore, 1.5);
  t.is(run.method, RECOVERY_METHOD);
  t.deepEqual(run.rtoCheck, {
    estimateSeconds: 2.5,
    lowSeconds: 2,
    highSeconds: 3,
    achievedSeconds: 4,
    inRange: false,
  });
  const { calibration } = recordRun(BASE_FIGURES, cal([]), { ...run, recordedAt: "2026-12-08T00:00:00.000Z" });
  const summary = calibrationSummary(calibration, base);
  t.is(summary.rangeMiss?.runId, r.runId, "the posture report says the latest drill fell outside its range");
  t.deepEqual(summary.rangeChecks, { checked: 1, inside: 0 });
});
