/**
 * How sure the self-managed RTO estimate is: a range taken from the calibration drills
 * themselves. For each recent drill that measured the whole recovery, the model's prediction
 * with the figures in use is set beside what it achieved (restore + redo + other steps +
 * verification); the ratio achieved ÷ predicted is fitted against the load per core that drill
 * ran under (Theil–Sen, never downward), and the spread of the ratios around that line gives the
 * range. The estimate at a load is the model's × the line at that load, inside [low, high].
 * Pure.
 */
import type { Figure, FigureId } from "./figures.ts";
import { currentRuns, type Calibration, type CalibrationRun } from "./calibration.ts";

/** The recent drills whose spread the range is taken from. */
export const SPREAD_RUNS = 12;

export interface RtoSpread {
  /** Drills the spread is taken from, and the loads per core they ran under. */
  runs: number;
  loads: { min: number; max: number } | null;
  /** achieved ÷ predicted = intercept + slope × load per core. */
  intercept: number;
  slope: number;
  /** The lowest and highest achieved ÷ line among those drills (low ≤ 1 ≤ high). */
  low: number;
  high: number;
}

export interface RtoRange {
  /** The point estimate: the model's, corrected for the load. */
  seconds: number;
  low: number;
  high: number;
  /** The load per core it was corrected for (null: none known). */
  loadPerCore: number | null;
  basis: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Pure: the model's seconds for a drill's measured sizes, with `figures`. */
export function predictedSeconds(p: CalibrationRun["phases"], figures: Record<FigureId, Figure>): number | null {
  if (!p.restore || !p.overhead || !p.verify) return null;
  const f = (id: FigureId) => figures[id].value;
  return (
    f("selfManagedRecoveryOverhead") +
    p.overhead.bytes / (f("selfManagedRecoveryOverheadRate") * 1e6) +
    f("selfManagedRestoreFixed") +
    p.restore.bytes / (f("selfManagedRestoreRate") * 1e6) +
    (p.redo ? p.redo.bytes / (f("selfManagedRedoRate") * 1e6) : 0) +
    f("selfManagedVerifyFixed") +
    p.verify.bytes / (f("selfManagedVerifyRate") * 1e6)
  );
}

/** Pure: what a drill's recovery took to "verified", by its measured phases. */
export function achievedSeconds(p: CalibrationRun["phases"]): number | null {
  if (!p.restore || !p.overhead || !p.verify) return null;
  return p.restore.seconds + (p.redo?.seconds ?? 0) + p.overhead.seconds + p.verify.seconds;
}

/** Pure: the spread of the recent drills around the model (null when fewer than two measured the whole recovery). */
export function rtoSpread(calibration: Calibration, figures: Record<FigureId, Figure>): RtoSpread | null {
  const points = currentRuns(calibration)
    .filter((r) => r.source === "drill")
    .flatMap((r) => {
      const predicted = predictedSeconds(r.phases, figures);
      const achieved = achievedSeconds(r.phases);
      return predicted && achieved ? [{ q: achieved / predicted, load: r.loadPerCore ?? null }] : [];
    })
    .slice(-SPREAD_RUNS);
  if (points.length < 2) return null;
  const loaded = points.filter((p): p is { q: number; load: number } => p.load !== null);
  let slope = 0;
  if (loaded.length >= 3) {
    const slopes: number[] = [];
    for (const [i, a] of loaded.entries())
      for (const b of loaded.slice(i + 1))
        if (Math.abs(b.load - a.load) > 0.05) slopes.push((b.q - a.q) / (b.load - a.load));
    slope = slopes.length ? Math.max(0, median(slopes)) : 0;
  }
  // A drill without a recorded load counts at the median load of the others.
  const typical = loaded.length ? median(loaded.map((p) => p.load)) : 0;
  const at = (p: { load: number | null }) => p.load ?? typical;
  const intercept = median(points.map((p) => p.q - slope * at(p)));
  const residuals = points.map((p) => p.q / Math.max(0.05, intercept + slope * at(p)));
  return {
    runs: points.length,
    loads: loaded.length
      ? { min: Math.min(...loaded.map((p) => p.load)), max: Math.max(...loaded.map((p) => p.load)) }
      : null,
    intercept,
    slope,
    low: Math.min(1, ...residuals),
    high: Math.max(1, ...residuals),
  };
}

/** Pure: the range for a model estimate of `seconds` at `loadPerCore` (null: the drills' median load). */
export function rtoRange(seconds: number, spread: RtoSpread | null, loadPerCore: number | null): RtoRange | null {
  if (!spread) return null;
  const load = loadPerCore ?? (spread.loads ? (spread.loads.min + spread.loads.max) / 2 : 0);
  const factor = Math.max(0.05, spread.intercept + spread.slope * load);
  const point = seconds * factor;
  const r = (x: number) => Math.round(x * 100) / 100;
  const loads = spread.loads ? ` at loads ${spread.loads.min.toFixed(2)}–${spread.loads.max.toFixed(2)} per core` : "";
  return {
    seconds: r(point),
    low: r(point * spread.low),
    high: r(point * spread.high),
    loadPerCore: loadPerCore === null ? null : r(loadPerCore),
    basis: `the spread of ${spread.runs} calibration drills${loads} around the model (achieved ÷ model ${spread.intercept.toFixed(2)} + ${spread.slope.toFixed(2)} × load per core; ${loadPerCore === null ? "at their middle load" : `at ${load.toFixed(2)} per core now`})`,
  };
}

/** Pure: whether an achieved RTO lies in the printed range. */
export const inRange = (achieved: number, range: Pick<RtoRange, "low" | "high">): boolean =>
  achieved >= range.low && achieved <= range.high;
