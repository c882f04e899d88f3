/**
 * The reports `npm run posture -- --calibrate <report.json>` accepts, and the phases each
 * measured: the drill's `drill-report.json` (reportVersion 2, the self-managed path), and the
 * runbook reports (`report.json`, schemaVersion 1) of point-in-time-restore with the RDS engine
 * (restore → available) and of dr-test (the logical restore and its verification). Anything
 * else is refused with a message naming what it is and what is wrong; nothing is recorded then.
 */
import { z } from "zod";
import { CalibrationError, issueLines, phasesSchema, type CalibrationRun, type MeasuredPhases } from "./calibration.ts";

const drillReport = z.object({
  reportVersion: z.literal(2),
  runId: z.string().min(1, "runId: expected the drill's run id"),
  recoveryMethod: z.string().optional(),
  startedAt: z.iso.datetime({ offset: true, message: "startedAt: expected an ISO 8601 time" }),
  scale: z.number("scale: expected a number").positive("scale: expected a number > 0"),
  scenario: z.enum(["crash", "bad-data"], "scenario: expected crash or bad-data"),
  verdict: z.string(),
  wal: z.object({
    archiveTimeoutSeconds: z.number(),
    streaming: z.enum(["off", "pg_receivewal"]),
  }),
  measured: z.object({
    databaseBytes: z.number().positive("measured.databaseBytes: expected a number > 0"),
    phases: phasesSchema,
  }),
  machine: z.object({ cpus: z.number().positive().optional(), loadAverage: z.array(z.number()).nullable() }).optional(),
  rto: z
    .object({
      achievedSeconds: z.number(),
      range: z.object({ seconds: z.number(), low: z.number(), high: z.number() }).nullable().optional(),
    })
    .nullable()
    .optional(),
});

const runbookReport = z.object({
  schemaVersion: z.literal(1),
  runId: z.string().min(1),
  runbook: z.string(),
  startedAt: z.iso.datetime({ offset: true }),
  verdict: z.string(),
  status: z.string(),
  steps: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      durationMs: z.number().nullable(),
      outputs: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});

const size = (bytes: number) =>
  bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;

/** Verdicts of runs that finished their recovery (a missed objective is still a measurement). */
const FINISHED = new Set(["objectives_met", "objectives_missed"]);

function describeForeign(json: unknown): string {
  if (json === null || typeof json !== "object" || Array.isArray(json))
    return `it is ${Array.isArray(json) ? "an array" : json === null ? "null" : `a ${typeof json}`}, not a report object`;
  const o = json as Record<string, unknown>;
  if ("suites" in o && "machine" in o)
    return "it is a bench results file (rehearsal/bench/results/*.json), not a run report: calibrate from the drill-report.json of a drill the bench ran";
  if ("systems" in o && "mechanisms" in o) return "it is a posture report: an estimate, not a measurement";
  if ("calibrationVersion" in o) return "it is a calibration file itself, not a run report";
  if (o.reportVersion === 1)
    return "it is a drill report of version 1, which measured no phases (run the drill again: version 2 reports carry them)";
  const keys = Object.keys(o).slice(0, 8);
  return `it has neither reportVersion 2 (a drill report from npm run drill) nor schemaVersion 1 (a runbook's report.json); its keys are ${keys.length ? keys.join(", ") : "(none)"}`;
}

function fromDrill(json: unknown, file: string): Omit<CalibrationRun, "drift" | "recordedAt"> {
  const parsed = drillReport.safeParse(json);
  if (!parsed.success) throw new CalibrationError(`${file} is a malformed drill report: ${issueLines(parsed.error)}`);
  const r = parsed.data;
  if (!FINISHED.has(r.verdict))
    throw new CalibrationError(
      `${file}: drill ${r.runId} did not finish its recovery (verdict ${r.verdict}): a failed run measures nothing reliable`,
    );
  const phases = r.measured.phases;
  if (Object.keys(phases).length === 0)
    throw new CalibrationError(`${file}: drill ${r.runId} recorded no measured phase`);
  const streaming = r.wal.streaming === "off" ? `archive_timeout ${r.wal.archiveTimeoutSeconds} s` : "WAL streaming";
  const load = r.machine?.loadAverage?.[0];
  const range = r.rto?.range;
  return {
    source: "drill",
    runId: r.runId,
    date: r.startedAt,
    scale: r.scale,
    detail: `${r.scenario}, ${streaming}, database ${size(r.measured.databaseBytes)}${load !== undefined ? `, load ${load.toFixed(1)}` : ""}`,
    ...(r.recoveryMethod ? { method: r.recoveryMethod } : {}),
    ...(load !== undefined && r.machine?.cpus ? { loadPerCore: Math.round((load / r.machine.cpus) * 100) / 100 } : {}),
    ...(range && r.rto && r.rto.achievedSeconds > 0
      ? {
          rtoCheck: {
            estimateSeconds: range.seconds,
            lowSeconds: range.low,
            highSeconds: range.high,
            achievedSeconds: r.rto.achievedSeconds,
            inRange: r.rto.achievedSeconds >= range.low && r.rto.achievedSeconds <= range.high,
          },
        }
      : {}),
    phases,
  };
}

function fromRunbook(json: unknown, file: string): Omit<CalibrationRun, "drift" | "recordedAt"> {
  const parsed = runbookReport.safeParse(json);
  if (!parsed.success) throw new CalibrationError(`${file} is a malformed runbook report: ${issueLines(parsed.error)}`);
  const r = parsed.data;
  if (r.status !== "succeeded" || !FINISHED.has(r.verdict))
    throw new CalibrationError(
      `${file}: ${r.runbook} run ${r.runId} did not succeed (status ${r.status}, verdict ${r.verdict}): a failed run measures nothing reliable`,
    );
  const step = (id: string) => {
    const s = r.steps.find((x) => x.id === id);
    if (!s || s.status !== "succeeded" || s.durationMs === null)
      throw new CalibrationError(
        `${file}: ${r.runbook} run ${r.runId} has no succeeded step "${id}" with a duration (its status: ${s?.status ?? "absent"})`,
      );
    return s;
  };
  let phases: MeasuredPhases;
  let detail: string;
  if (r.runbook === "point-in-time-restore") {
    const restore = step("restore");
    if (restore.outputs && "dataDir" in restore.outputs)
      throw new CalibrationError(
        `${file}: a point-in-time-restore of the pgbackrest engine: calibrate the self-managed figures from the drill's drill-report.json, which carries the sizes they need`,
      );
    const minutes = (restore.durationMs! + step("wait-ready").durationMs!) / 60_000;
    phases = { rdsRestore: { minutes } };
    detail = "RDS point-in-time restore, restore call → available";
  } else if (r.runbook === "dr-test") {
    phases = { logicalRestoreVerify: { minutes: step("database").durationMs! / 60_000 } };
    detail = "dr-test: logical restore into a scratch database and verification";
  } else {
    throw new CalibrationError(
      `${file} is a report of the ${r.runbook} runbook: only point-in-time-restore and dr-test reports (and drill reports) carry recovery phases the posture model uses`,
    );
  }
  return {
    source: r.runbook as CalibrationRun["source"],
    runId: r.runId,
    date: r.startedAt,
    scale: null,
    detail,
    phases,
  };
}

/**
 * Pure: the run a report's text measured. @throws CalibrationError naming the file and what is
 * wrong: not JSON, a foreign document, a malformed or unfinished report.
 */
export function runFromReport(text: string, file: string): Omit<CalibrationRun, "drift" | "recordedAt"> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CalibrationError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const o = (json ?? {}) as Record<string, unknown>;
  if (typeof json === "object" && json !== null && o.reportVersion === 2) return fromDrill(json, file);
  if (typeof json === "object" && json !== null && o.schemaVersion === 1 && "runbook" in o)
    return fromRunbook(json, file);
  throw new CalibrationError(`${file} cannot be calibrated from: ${describeForeign(json)}`);
}
