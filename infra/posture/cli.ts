/**
 * `npm run posture -- --stack prod [--json | --markdown] [--calibration-file <f>]`
 * `npm run posture -- --calibrate <report.json> [--calibration-file <f>]`
 *
 * Offline (no cloud, no Pulumi CLI): evaluates the program for the stack and its peer with the
 * committed config, and prints every classified system's tier, objective, protecting mechanisms,
 * worst-case RPO, estimated RTO and verdict for an in-region failure and a regional disaster,
 * and the self-managed path's estimate from the figures in use.
 * `--calibrate` records what a drill's (or a point-in-time-restore's or dr-test's) report
 * measured in the calibration file (default infra/posture/calibration.json) and says which
 * figures it replaced and where it drifted; a report it cannot use changes nothing.
 * Exit status: 0 when every system meets its tier (or the run was recorded), 1 when any misses
 * it, 2 on bad usage, config, report or calibration file (nothing is evaluated or written then).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BASE_FIGURES, useCalibration } from "./figures.ts";
import {
  CalibrationError,
  DEFAULT_CALIBRATION_FILE,
  readCalibration,
  recordRun,
  writeCalibration,
} from "./calibration.ts";
import { runFromReport } from "./calibration-sources.ts";
import { formatCalibrated } from "./render-measured.ts";
import { postureOf } from "./stack.ts";
import { renderJson, renderMarkdown, renderTable } from "./render.ts";

const USAGE =
  "usage: npm run posture -- --stack <prod|dr> [--json | --markdown] [--calibration-file <file>]\n" +
  "       npm run posture -- --calibrate <report.json> [--recorded-timings <where they come from>] [--calibration-file <file>]";

/** Records `reportFile` in `calibrationFile`; returns what to print. @throws CalibrationError. */
function calibrate(reportFile: string, calibrationFile: string, recordedTimings?: string): string {
  let text: string;
  try {
    text = readFileSync(reportFile, "utf8");
  } catch (error) {
    throw new CalibrationError(`cannot read ${reportFile}: ${(error as Error).message}`);
  }
  const run = runFromReport(text, reportFile);
  if (recordedTimings !== undefined) {
    if (run.source === "drill")
      throw new CalibrationError(
        `--recorded-timings "${recordedTimings}" is for a runbook run against an emulator (point-in-time-restore --engine rds, dr-test); ${reportFile} is a drill, which measures itself`,
      );
    if (!/\S.{4,}/.test(recordedTimings) || recordedTimings.length > 300)
      throw new CalibrationError(
        `--recorded-timings "${recordedTimings}" is not allowed: expected where the timings come from, 5 to 300 characters (e.g. the AWS run they were recorded from)`,
      );
  }
  const calibration = readCalibration(calibrationFile);
  const {
    calibration: next,
    run: recorded,
    changed,
  } = recordRun(BASE_FIGURES, calibration, {
    ...run,
    ...(recordedTimings !== undefined
      ? { recordedTimings, detail: `${run.detail} (recorded timings: ${recordedTimings})` }
      : {}),
    recordedAt: new Date().toISOString(),
  });
  writeCalibration(calibrationFile, next);
  return formatCalibrated(recorded, changed, calibrationFile);
}

async function main(): Promise<number> {
  let values: {
    stack?: string;
    json?: boolean;
    markdown?: boolean;
    help?: boolean;
    calibrate?: string;
    "recorded-timings"?: string;
    "calibration-file"?: string;
  };
  try {
    ({ values } = parseArgs({
      options: {
        stack: { type: "string", short: "s" },
        json: { type: "boolean" },
        markdown: { type: "boolean" },
        calibrate: { type: "string" },
        "recorded-timings": { type: "string" },
        "calibration-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const calibrationFile = resolve(values["calibration-file"] ?? DEFAULT_CALIBRATION_FILE);
  if (values.calibrate !== undefined) {
    if (values.stack || values.json || values.markdown) {
      console.error(`--calibrate records a report; it takes no --stack, --json or --markdown\n${USAGE}`);
      return 2;
    }
    try {
      console.log(calibrate(values.calibrate, calibrationFile, values["recorded-timings"]));
      return 0;
    } catch (error) {
      if (!(error instanceof CalibrationError)) throw error;
      console.error(`not recorded: ${error.message}\n${calibrationFile} is unchanged.`);
      return 2;
    }
  }
  if (values["recorded-timings"] !== undefined) {
    console.error(`--recorded-timings goes with --calibrate\n${USAGE}`);
    return 2;
  }
  if (!values.stack) {
    console.error(`--stack is required (prod or dr)\n${USAGE}`);
    return 2;
  }
  if (values.json && values.markdown) {
    console.error(`--json and --markdown exclude each other\n${USAGE}`);
    return 2;
  }
  try {
    useCalibration(calibrationFile);
  } catch (error) {
    console.error(`the figures in use cannot be read: ${(error as Error).message}`);
    return 2;
  }
  let report;
  try {
    report = await postureOf(values.stack);
  } catch (error) {
    console.error(`posture of stack "${values.stack}" could not be evaluated:\n${(error as Error).message}`);
    return 2;
  }
  console.log(values.json ? renderJson(report) : values.markdown ? renderMarkdown(report) : renderTable(report));
  return report.verdict === "met" ? 0 : 1;
}

process.exitCode = await main();
