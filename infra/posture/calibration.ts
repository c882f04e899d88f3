/**
 * The calibration file (`calibration.json`, committed): the phases drills and real runs measured,
 * one entry per run with its id, date and scale, and the figures they put in use in place of the
 * assumed ones (`figures.ts`). Pure functions over the file's content, plus one reader and one
 * writer; reading reports to record is `calibration-sources.ts`, the command is `cli.ts
 * --calibrate`.
 *
 * How measurements become figures, per phase (`PHASES`):
 * - `linear` phases (restore, verification, the other recovery steps) take `fixed + bytes / rate`:
 *   a robust (Theil–Sen) line through every recorded run at two sizes or more, or, with one size
 *   only, a rate through the origin (the whole time counted as proportional to size: an
 *   overestimate at larger sizes);
 * - `ratio` phases (WAL redo) take `bytes / rate` over all runs;
 * - `median` phases take the median of the runs' values.
 * Only the latest `RECENT_RUNS` runs of each phase count (the machine's conditions change). A new
 * run whose phase differs from what the figures in use predict by more than 25 % is recorded with
 * that drift, and the posture report says so.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";
import type { Figure, FigureId } from "./figures.ts";

export const DEFAULT_CALIBRATION_FILE = new URL("./calibration.json", import.meta.url).pathname;

/** A measurement further than this from what the figures in use predict is flagged. */
export const DRIFT_THRESHOLD = 0.25;

/**
 * Figures come from the latest this many runs that measured each phase: a machine's conditions
 * change (a shared one's load above all), and what it does now is what the next drill meets.
 * Older runs stay recorded and cited.
 */
export const RECENT_RUNS = 5;

/**
 * A redo shorter than this is not timed, only rounded (PostgreSQL logs centiseconds, and a
 * switched segment's unused tail counts in its LSN distance): such runs set no redo rate.
 */
export const MIN_REDO_SECONDS = 0.2;

/** Whether a run's phase is a measurement the figures may use. */
const usable = (phase: PhaseId, p: MeasuredPhases) =>
  p[phase] !== undefined && (phase !== "redo" || p.redo!.seconds >= MIN_REDO_SECONDS);

export const PHASE_IDS = [
  "restore",
  "redo",
  "overhead",
  "verify",
  "archivePush",
  "walRate",
  "streamLag",
  "rdsRestore",
  "logicalRestoreVerify",
] as const;
export type PhaseId = (typeof PHASE_IDS)[number];

const positive = (what: string) => z.number(`${what}: expected a number`).positive(`${what}: expected a number > 0`);
const nonNegative = (what: string) =>
  z.number(`${what}: expected a number`).nonnegative(`${what}: expected a number ≥ 0`);

const bytesSeconds = z.strictObject({ bytes: positive("bytes"), seconds: positive("seconds") });
export const phasesSchema = z.strictObject({
  restore: bytesSeconds.optional(),
  redo: bytesSeconds.optional(),
  overhead: bytesSeconds.optional(),
  verify: bytesSeconds.optional(),
  archivePush: z.strictObject({ seconds: nonNegative("seconds") }).optional(),
  walRate: z.strictObject({ bytesPerSecond: positive("bytesPerSecond") }).optional(),
  streamLag: z.strictObject({ seconds: nonNegative("seconds") }).optional(),
  rdsRestore: z.strictObject({ minutes: positive("minutes") }).optional(),
  logicalRestoreVerify: z.strictObject({ minutes: positive("minutes") }).optional(),
});
export type MeasuredPhases = z.infer<typeof phasesSchema>;

const driftSchema = z.strictObject({
  phase: z.enum(PHASE_IDS),
  predicted: z.number(),
  measured: z.number(),
  unit: z.enum(["seconds", "MB/s", "minutes"]),
  percent: z.number(),
});
export type Drift = z.infer<typeof driftSchema>;

/** A drill's printed RTO range beside what it achieved (`rto-range.ts`). */
const rtoCheckSchema = z.strictObject({
  estimateSeconds: positive("estimateSeconds"),
  lowSeconds: positive("lowSeconds"),
  highSeconds: positive("highSeconds"),
  achievedSeconds: positive("achievedSeconds"),
  inRange: z.boolean(),
});
export type RtoCheck = z.infer<typeof rtoCheckSchema>;

const runSchema = z.strictObject({
  source: z.enum(["drill", "point-in-time-restore", "dr-test"]),
  runId: z.string().min(1),
  date: z.iso.datetime({ offset: true }),
  scale: z.number().positive().nullable(),
  detail: z.string(),
  recordedAt: z.iso.datetime({ offset: true }),
  /** The 1-minute load average ÷ cores when the run estimated its recovery (a shared machine's). */
  loadPerCore: nonNegative("loadPerCore").nullable().optional(),
  /** Whether the RTO it achieved fell inside the range it printed. */
  rtoCheck: rtoCheckSchema.nullable().optional(),
  /** Timings recorded from a real run, replayed against an emulator (the RDS path in tests). */
  recordedTimings: z.string().optional(),
  /**
   * How the drill recovered (`RECOVERY_METHOD`): only drills of the method the latest drill used
   * set the self-managed figures and their spread; earlier ones stay recorded and cited.
   */
  method: z.string().optional(),
  phases: phasesSchema,
  drift: z.array(driftSchema),
});
export type CalibrationRun = z.infer<typeof runSchema>;

const fileSchema = z.strictObject({
  calibrationVersion: z.literal(1, "calibrationVersion: expected 1"),
  runs: z.array(runSchema),
});
export type Calibration = z.infer<typeof fileSchema>;

/** A report or calibration file that cannot be used; nothing was changed. */
export class CalibrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CalibrationError";
  }
}

/** Zod issues as `path: message` lines. */
export function issueLines(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`)
    .join("; ");
}

/** Reads and validates a calibration file. @throws CalibrationError naming the file and the problem. */
export function readCalibration(file: string, o: { missingOk?: boolean } = {}): Calibration {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && o.missingOk) return { calibrationVersion: 1, runs: [] };
    throw new CalibrationError(`calibration file ${file} cannot be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CalibrationError(`calibration file ${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw new CalibrationError(`calibration file ${file} is malformed: ${issueLines(parsed.error)}`);
  return parsed.data;
}

/** Writes the file whole or not at all (a temp file renamed over it). */
export function writeCalibration(file: string, calibration: Calibration): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(calibration, null, 2) + "\n");
  renameSync(tmp, file);
}

type Model = "linear" | "ratio" | "median";
interface PhaseSpec {
  model: Model;
  /** For linear: [fixed, rate]; ratio: [rate]; median: the figures its value sets. */
  figures: FigureId[];
  label: string;
}

/** Which figures each measured phase sets, and how. */
export const PHASES: Record<PhaseId, PhaseSpec> = {
  restore: {
    model: "linear",
    figures: ["selfManagedRestoreFixed", "selfManagedRestoreRate"],
    label: "pgBackRest restore",
  },
  redo: { model: "ratio", figures: ["selfManagedRedoRate"], label: "WAL redo" },
  overhead: {
    model: "linear",
    figures: ["selfManagedRecoveryOverhead", "selfManagedRecoveryOverheadRate"],
    label: "recovery overhead",
  },
  verify: {
    model: "linear",
    figures: ["selfManagedVerifyFixed", "selfManagedVerifyRate"],
    label: "verification",
  },
  archivePush: { model: "median", figures: ["selfManagedArchivePush"], label: "archive-push of a segment" },
  walRate: { model: "median", figures: ["selfManagedWalRate"], label: "WAL written under load" },
  streamLag: { model: "median", figures: ["selfManagedStreamLag"], label: "WAL streaming lag" },
  rdsRestore: {
    model: "median",
    figures: ["rdsRestoreProvisioning", "rdsPitrLogReplay"],
    label: "RDS restore → available",
  },
  logicalRestoreVerify: { model: "median", figures: [], label: "logical restore + verification (dr-test)" },
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 3) => Number(x.toPrecision(digits));

/**
 * Pure: `seconds = fixed + bytes / bytesPerSecond` through points; see the module doc. The line
 * is Theil–Sen's (the median of the slopes between every two runs at different sizes, then the
 * median intercept): one run on a loaded machine moves it far less than a least-squares line.
 */
export function fitLinear(points: { bytes: number; seconds: number }[]): {
  fixedSeconds: number;
  bytesPerSecond: number;
  sizes: number;
} {
  // Sizes within 10 % of each other count as one (a seeded database varies by a few pages).
  const differ = (a: number, b: number) => Math.max(a, b) > Math.min(a, b) * 1.1;
  const sorted = points.map((p) => p.bytes).sort((a, b) => a - b);
  const sizes = sorted.filter((b, i) => i === 0 || differ(b, sorted[i - 1]!)).length;
  const through = () => ({
    fixedSeconds: 0,
    bytesPerSecond:
      points.reduce((a, p) => a + p.bytes * p.bytes, 0) / points.reduce((a, p) => a + p.bytes * p.seconds, 0),
    sizes,
  });
  if (sizes < 2) return through();
  const slopes: number[] = [];
  for (const [i, a] of points.entries())
    for (const b of points.slice(i + 1))
      if (differ(a.bytes, b.bytes)) slopes.push((b.seconds - a.seconds) / (b.bytes - a.bytes));
  const slope = median(slopes);
  const intercept = median(points.map((p) => p.seconds - slope * p.bytes));
  if (!(slope > 0) || intercept < 0) return through();
  return { fixedSeconds: intercept, bytesPerSecond: 1 / slope, sizes };
}

const cite = (runs: CalibrationRun[]) => {
  const ids = runs.map(
    (r) => `${r.runId} (${r.date.slice(0, 10)}, ${r.scale === null ? "" : `scale ${r.scale}, `}${r.detail})`,
  );
  const shown = ids.length > 3 ? [...ids.slice(-3), `and ${ids.length - 3} earlier`] : ids;
  return `${shown.join("; ")} — infra/posture/calibration.json`;
};

/**
 * How the drill's recovery runs now: pgBackRest restore on every core, WAL fetched ahead of
 * replay, held read-only at the stop, verified side by side with `pg_promote()`.
 */
export const RECOVERY_METHOD = "held-verified";

/** Pure: the runs that count: every non-drill run, and the drills of the latest drill's method. */
export function currentRuns(calibration: Calibration): CalibrationRun[] {
  const method = calibration.runs.filter((r) => r.source === "drill").pop()?.method;
  return calibration.runs.filter((r) => r.source !== "drill" || r.method === method);
}

/** Pure: the figures the recorded runs put in use (only those some run measured). */
export function figuresInUse(
  base: Record<FigureId, Figure>,
  calibration: Calibration,
): Partial<Record<FigureId, Figure>> {
  const out: Partial<Record<FigureId, Figure>> = {};
  const set = (id: FigureId, value: number, how: string, runs: CalibrationRun[]) => {
    out[id] = { ...base[id], value: round(value), kind: "measured", source: `measured: ${how} of ${cite(runs)}` };
  };
  for (const phase of PHASE_IDS) {
    const spec = PHASES[phase];
    const all = currentRuns(calibration).filter((r) => usable(phase, r.phases));
    const runs = all.slice(-RECENT_RUNS);
    if (runs.length === 0 || spec.figures.length === 0) continue;
    if (spec.model === "linear") {
      const points = runs.map((r) => r.phases[phase] as { bytes: number; seconds: number });
      const fit = fitLinear(points);
      const how =
        fit.sizes >= 2
          ? `Theil–Sen line over ${points.length} runs at ${fit.sizes} sizes`
          : `one size only, so no fixed part separable (rate through the origin) over ${points.length} run${points.length === 1 ? "" : "s"}`;
      set(spec.figures[0]!, fit.fixedSeconds, how, runs);
      set(spec.figures[1]!, fit.bytesPerSecond / 1e6, how, runs);
    } else if (spec.model === "ratio") {
      const points = runs.map((r) => r.phases[phase] as { bytes: number; seconds: number });
      const rate = points.reduce((a, p) => a + p.bytes, 0) / points.reduce((a, p) => a + p.seconds, 0) / 1e6;
      set(
        spec.figures[0]!,
        rate,
        `total bytes ÷ total seconds over ${points.length} run${points.length === 1 ? "" : "s"}`,
        runs,
      );
    } else if (phase === "rdsRestore") {
      const minutes = median(runs.map((r) => r.phases.rdsRestore!.minutes));
      set(
        "rdsRestoreProvisioning",
        minutes,
        `median restore call → available (log replay included) of ${runs.length} run${runs.length === 1 ? "" : "s"}`,
        runs,
      );
      set("rdsPitrLogReplay", 0, "included in rdsRestoreProvisioning's measured restore → available", runs);
    } else {
      const values = runs.map((r) => medianValue(phase, r.phases));
      set(spec.figures[0]!, median(values), `median of ${values.length} run${values.length === 1 ? "" : "s"}`, runs);
    }
  }
  return out;
}

/** The value a median phase records, in its figure's unit. */
function medianValue(phase: PhaseId, p: MeasuredPhases): number {
  if (phase === "walRate") return p.walRate!.bytesPerSecond / 1e6;
  if (phase === "logicalRestoreVerify") return p.logicalRestoreVerify!.minutes;
  if (phase === "rdsRestore") return p.rdsRestore!.minutes;
  return (p[phase] as { seconds: number }).seconds;
}

/**
 * Pure: what the figures in use predict for a measured phase, beside what was measured; null when
 * a figure it needs is not measured yet (a measurement replacing an assumption is no drift).
 */
export function predictPhase(
  phase: PhaseId,
  measured: MeasuredPhases,
  figures: Record<FigureId, Figure>,
): Omit<Drift, "percent"> | null {
  const spec = PHASES[phase];
  if (spec.figures.length === 0 || spec.figures.some((id) => figures[id].kind !== "measured")) return null;
  const f = (id: FigureId) => figures[id].value;
  const m = measured[phase];
  if (m === undefined || !usable(phase, measured)) return null;
  if (spec.model === "linear") {
    const x = m as { bytes: number; seconds: number };
    const [fixed, rate] = spec.figures as [FigureId, FigureId];
    return { phase, predicted: f(fixed) + x.bytes / (f(rate) * 1e6), measured: x.seconds, unit: "seconds" };
  }
  if (spec.model === "ratio") {
    const x = m as { bytes: number; seconds: number };
    return { phase, predicted: x.bytes / (f(spec.figures[0]!) * 1e6), measured: x.seconds, unit: "seconds" };
  }
  if (phase === "rdsRestore")
    return {
      phase,
      predicted: f("rdsRestoreProvisioning") + f("rdsPitrLogReplay"),
      measured: measured.rdsRestore!.minutes,
      unit: "minutes",
    };
  return {
    phase,
    predicted: f(spec.figures[0]!),
    measured: medianValue(phase, measured),
    unit: phase === "walRate" ? "MB/s" : "seconds",
  };
}

/** Pure: every phase of `measured` that differs from the prediction by more than the threshold. */
export function driftOf(measured: MeasuredPhases, figures: Record<FigureId, Figure>): Drift[] {
  const out: Drift[] = [];
  for (const phase of PHASE_IDS) {
    const p = predictPhase(phase, measured, figures);
    if (!p || p.predicted <= 0) continue;
    const percent = (p.measured / p.predicted - 1) * 100;
    if (Math.abs(percent) > DRIFT_THRESHOLD * 100)
      out.push({
        ...p,
        predicted: round(p.predicted, 4),
        measured: round(p.measured, 4),
        percent: Math.round(percent),
      });
  }
  return out;
}

/**
 * Pure: `calibration` with `run` recorded (its drift against the figures in use before it filled
 * in), and the figures that changed. @throws CalibrationError when the run is already recorded.
 */
export function recordRun(
  base: Record<FigureId, Figure>,
  calibration: Calibration,
  run: Omit<CalibrationRun, "drift">,
): { calibration: Calibration; run: CalibrationRun; changed: { id: FigureId; before: Figure; after: Figure }[] } {
  const existing = calibration.runs.find((r) => r.runId === run.runId && r.source === run.source);
  if (existing)
    throw new CalibrationError(
      `${run.source} run ${run.runId} is already recorded (at ${existing.recordedAt}): each run counts once; nothing was changed`,
    );
  const before = { ...base, ...figuresInUse(base, calibration) } as Record<FigureId, Figure>;
  const recorded: CalibrationRun = { ...run, drift: driftOf(run.phases, before) };
  const next: Calibration = { calibrationVersion: 1, runs: [...calibration.runs, recorded] };
  const after = { ...base, ...figuresInUse(base, next) } as Record<FigureId, Figure>;
  const changed = (Object.keys(after) as FigureId[])
    .filter((id) => after[id].value !== before[id].value || after[id].kind !== before[id].kind)
    .map((id) => ({ id, before: before[id], after: after[id] }));
  return { calibration: next, run: recorded, changed };
}

/** Pure: the drift of the latest run that measured each phase (what the posture report flags). */
export function currentDrift(calibration: Calibration): (Drift & { runId: string; date: string })[] {
  const out: (Drift & { runId: string; date: string })[] = [];
  for (const phase of PHASE_IDS) {
    const latest = currentRuns(calibration)
      .filter((r) => usable(phase, r.phases))
      .pop();
    const d = latest?.drift.find((x) => x.phase === phase);
    if (latest && d) out.push({ ...d, runId: latest.runId, date: latest.date });
  }
  return out;
}

/** Pure: the latest recorded drill whose achieved RTO fell outside the range it printed, if it is the latest check. */
export function latestRangeMiss(calibration: Calibration): (RtoCheck & { runId: string; date: string }) | null {
  const latest = calibration.runs.filter((r) => r.rtoCheck).pop();
  return latest?.rtoCheck && !latest.rtoCheck.inRange
    ? { ...latest.rtoCheck, runId: latest.runId, date: latest.date }
    : null;
}

export interface CalibrationSummary {
  /** Runs recorded in the calibration file. */
  runs: { source: string; runId: string; date: string; scale: number | null; detail: string }[];
  /** Figures in use that drills measured. */
  measured: FigureId[];
  /** The latest measurement of a phase that differs from the figures then in use by more than 25 %. */
  drift: (Drift & { runId: string; date: string })[];
  /** The latest drill's RTO outside the range it printed (null: inside, or none checked). */
  rangeMiss: (RtoCheck & { runId: string; date: string }) | null;
  /** Drills whose achieved RTO was checked against their printed range, and how many fell inside. */
  rangeChecks: { checked: number; inside: number };
}

/** Pure: what the posture report says of the calibration. */
export function calibrationSummary(calibration: Calibration, figures: Record<FigureId, Figure>): CalibrationSummary {
  return {
    runs: calibration.runs.map(({ source, runId, date, scale, detail }) => ({ source, runId, date, scale, detail })),
    measured: (Object.keys(figures) as FigureId[]).filter((id) => figures[id].kind === "measured"),
    drift: currentDrift(calibration),
    rangeMiss: latestRangeMiss(calibration),
    rangeChecks: {
      checked: calibration.runs.filter((r) => r.rtoCheck).length,
      inside: calibration.runs.filter((r) => r.rtoCheck?.inRange).length,
    },
  };
}
