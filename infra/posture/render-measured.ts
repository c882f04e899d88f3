/**
 * The measured side of the posture report: the self-managed path's estimate and what the
 * calibration file says (runs recorded, figures they replaced, drift), as terminal lines and as
 * Markdown; and the summary `--calibrate` prints. Pure.
 */
import type { Figure, FigureId } from "./figures.ts";
import type { CalibrationRun } from "./calibration.ts";
import { DRIFT_THRESHOLD, PHASES } from "./calibration.ts";
import { formatMinutes, type PostureReport } from "./model.ts";

function selfManagedLine(r: PostureReport): string | null {
  const s = r.selfManaged;
  if (!s) return null;
  const p = s.phasesMinutes;
  const kinds = new Map<string, string[]>();
  for (const id of s.figures) kinds.set(r.figures[id].kind, [...(kinds.get(r.figures[id].kind) ?? []), id]);
  return (
    `Self-managed path (the pgBackRest runbooks \`npm run drill\` rehearses; not the declared RDS path, no verdict): ` +
    `RTO ${formatMinutes(s.rtoMinutes)} to verified${s.rtoRangeMinutes ? ` (range ${formatMinutes(s.rtoRangeMinutes.low)}–${formatMinutes(s.rtoRangeMinutes.high)}, point ${formatMinutes(s.rtoRangeMinutes.estimate)}, from ${s.rtoRangeMinutes.basis})` : ""}, ${formatMinutes(s.readyForWritesMinutes)} to ready for writes ` +
    `(decision ${formatMinutes(p.decision)} + overhead ${formatMinutes(p.overhead)} + restore ${formatMinutes(p.restore)} + redo ${formatMinutes(p.redo)}, then verify ${formatMinutes(p.verify)}); ` +
    `worst-case RPO ${formatMinutes(s.rpoMinutes)} (${s.rpoBasis}). ${s.description}. ` +
    `Figures ${[...kinds].map(([k, ids]) => `${k}: ${ids.join(", ")}`).join("; ")}.`
  );
}

function driftLines(r: PostureReport): string[] {
  return r.calibration.drift.map(
    (d) =>
      `DRIFT: ${PHASES[d.phase].label} measured ${d.measured} ${d.unit} by ${d.runId} (${d.date.slice(0, 10)}), the figures then in use predicted ${d.predicted} ${d.unit} (${d.percent > 0 ? "+" : ""}${d.percent} %, beyond ±${DRIFT_THRESHOLD * 100} %): check the machine or the change, and recalibrate`,
  );
}

/** The RDS path's figures by how much to trust them: which a recorded run measured, which are still assumed. */
function rdsLine(r: PostureReport): string {
  const ids = (Object.keys(r.figures) as FigureId[]).filter((id) => id.startsWith("rds"));
  const by = (kind: string) => ids.filter((id) => r.figures[id].kind === kind);
  const part = (kind: string, label: string) => (by(kind).length ? `${label} ${by(kind).join(", ")}` : `${label} none`);
  return `RDS path figures: ${part("measured", "measured")}; ${part("assumed", "assumed")}; ${part("documented", "documented")} (record a point-in-time-restore --engine rds or dr-test report: npm run posture -- --calibrate <report.json>).`;
}

function rangeLines(r: PostureReport): string[] {
  const c = r.calibration;
  const checks = c.rangeChecks.checked
    ? [
        `RTO ranges checked: ${c.rangeChecks.inside} of ${c.rangeChecks.checked} recorded drills achieved an RTO inside the range they printed.`,
      ]
    : [];
  const m = c.rangeMiss;
  return [
    ...checks,
    ...(m
      ? [
          `OUTSIDE RANGE: ${m.runId} (${m.date.slice(0, 10)}) achieved an RTO of ${m.achievedSeconds} s, outside the ${m.lowSeconds}–${m.highSeconds} s it printed (point ${m.estimateSeconds} s): the spread now counts it; check the machine's load or the change`,
        ]
      : []),
  ];
}

function calibrationLine(r: PostureReport): string {
  const c = r.calibration;
  if (c.runs.length === 0)
    return "Calibration: no run recorded in infra/posture/calibration.json; every non-documented figure is assumed (record one: npm run posture -- --calibrate <drill-report.json>).";
  return `Calibration: ${c.runs.length} run${c.runs.length === 1 ? "" : "s"} recorded in infra/posture/calibration.json (latest ${c.runs.at(-1)!.runId}, ${c.runs.at(-1)!.date.slice(0, 10)}); measured figures in use: ${c.measured.join(", ") || "none"}.`;
}

/** Lines for the terminal table. */
export function measuredTableLines(r: PostureReport): string[] {
  const line = selfManagedLine(r);
  return ["", ...(line ? [line] : []), calibrationLine(r), rdsLine(r), ...rangeLines(r), ...driftLines(r)];
}

/** Markdown for the pull-request comment. */
export function measuredMarkdownLines(r: PostureReport): string[] {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const line = selfManagedLine(r);
  return [
    "",
    ...(line ? [esc(line), ""] : []),
    esc(calibrationLine(r)),
    "",
    esc(rdsLine(r)),
    ...rangeLines(r).map((d) => `\n${d.startsWith("OUTSIDE") ? "> ⚠️ " : ""}${esc(d)}`),
    ...driftLines(r).map((d) => `\n> ⚠️ ${esc(d)}`),
  ];
}

const show = (f: Figure) => `${f.value} ${f.unit} (${f.kind})`;

/** What `--calibrate` prints after recording a run. */
export function formatCalibrated(
  run: CalibrationRun,
  changed: { id: FigureId; before: Figure; after: Figure }[],
  file: string,
): string {
  const lines = [
    `Recorded ${run.source} run ${run.runId} (${run.date}${run.scale === null ? "" : `, scale ${run.scale}`}; ${run.detail}) in ${file}.`,
    `Phases measured: ${Object.keys(run.phases).join(", ")}.`,
    ...(run.recordedTimings ? [`Timings: ${run.recordedTimings}.`] : []),
    ...(run.rtoCheck
      ? [
          run.rtoCheck.inRange
            ? `RTO ${run.rtoCheck.achievedSeconds} s: inside the range it printed (${run.rtoCheck.lowSeconds}–${run.rtoCheck.highSeconds} s).`
            : `OUTSIDE RANGE: RTO ${run.rtoCheck.achievedSeconds} s, outside the ${run.rtoCheck.lowSeconds}–${run.rtoCheck.highSeconds} s it printed (point ${run.rtoCheck.estimateSeconds} s); recorded, and the spread now counts it.`,
        ]
      : []),
  ];
  if (changed.length) {
    lines.push("Figures now in use:");
    for (const c of changed) lines.push(`  ${c.id}: ${show(c.before)} → ${show(c.after)}`);
  } else lines.push("No figure changed (the measurement matches, or no estimate uses it yet).");
  if (run.drift.length) {
    for (const d of run.drift)
      lines.push(
        `DRIFT: ${PHASES[d.phase].label}: measured ${d.measured} ${d.unit}, the figures in use predicted ${d.predicted} ${d.unit} (${d.percent > 0 ? "+" : ""}${d.percent} %, beyond ±${DRIFT_THRESHOLD * 100} %). The posture report says so until a later run of that phase agrees.`,
      );
  } else lines.push(`No drift beyond ±${DRIFT_THRESHOLD * 100} % against the figures in use.`);
  return lines.join("\n");
}
