import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Ajv } from "ajv";
import { $ } from "zx";
import { BASE_FIGURES } from "../../infra/posture/figures.ts";
import {
  CalibrationError,
  figuresInUse,
  fitLinear,
  recordRun,
  type Calibration,
} from "../../infra/posture/calibration.ts";
import { runFromReport } from "../../infra/posture/calibration-sources.ts";

const root = new URL("../../", import.meta.url).pathname;
const fixture = (name: string) => join(root, "test/helpers/fixtures", name);
/** A drill report recorded from a real `npm run drill` (scale 1, crash, archive_timeout 60 s). */
const drillText = readFileSync(fixture("drill-report.json"), "utf8");
const drillJson = () => JSON.parse(drillText);
const EMPTY: Calibration = { calibrationVersion: 1, runs: [] };
const recordedAt = "2026-12-01T12:00:00.000Z";

/** The recorded report, as another run measured 30 % slower in its restore phase. */
function drifted(): string {
  const r = drillJson();
  r.runId = "drill-20261202t090000-abcdef";
  r.measured.phases.restore.seconds = Math.round(r.measured.phases.restore.seconds * 1.3 * 1000) / 1000;
  return JSON.stringify(r);
}

test("a line through runs at two sizes separates the fixed part from the rate; one size gives a rate through the origin", (t) => {
  const two = fitLinear([
    { bytes: 1e8, seconds: 1.5 },
    { bytes: 5e8, seconds: 3.5 },
  ]);
  t.is(Math.round(two.fixedSeconds * 1000) / 1000, 1);
  t.is(Math.round(two.bytesPerSecond / 1e6), 200);
  t.is(two.sizes, 2);
  const one = fitLinear([{ bytes: 1e8, seconds: 2 }]);
  t.deepEqual(one, { fixedSeconds: 0, bytesPerSecond: 5e7, sizes: 1 });
});

test("a recorded drill report replaces the assumed figures it covers and cites its run", (t) => {
  const run = runFromReport(drillText, "drill-report.json");
  t.is(run.source, "drill");
  t.is(run.runId, drillJson().runId);
  t.is(run.scale, 1);
  const { calibration, changed, run: recorded } = recordRun(BASE_FIGURES, EMPTY, { ...run, recordedAt });
  t.is(calibration.runs.length, 1);
  t.deepEqual(recorded.drift, [], "replacing an assumption is no drift");
  const ids = changed.map((c) => c.id);
  for (const id of ["selfManagedRestoreRate", "selfManagedRecoveryOverhead", "selfManagedVerifyRate"] as const) {
    t.true(ids.includes(id), id);
  }
  const inUse = figuresInUse(BASE_FIGURES, calibration);
  const rate = inUse.selfManagedRestoreRate!;
  t.is(rate.kind, "measured");
  t.is(BASE_FIGURES.selfManagedRestoreRate.kind, "assumed");
  const p = drillJson().measured.phases.restore;
  t.is(rate.value, Number((p.bytes / p.seconds / 1e6).toPrecision(3)));
  t.regex(
    rate.source,
    new RegExp(`^measured: .*${run.runId} \\(.*scale 1, crash.*\\) — infra/posture/calibration\\.json$`),
  );
  t.is(inUse.rdsRestoreProvisioning, undefined, "a local drill measures nothing of RDS");
});

test("a measurement 30 % away from the figure in use is flagged as drift; the same run twice is refused", (t) => {
  const first = recordRun(BASE_FIGURES, EMPTY, { ...runFromReport(drillText, "a.json"), recordedAt });
  const second = recordRun(BASE_FIGURES, first.calibration, { ...runFromReport(drifted(), "b.json"), recordedAt });
  const d = second.run.drift.find((x) => x.phase === "restore");
  t.truthy(d, JSON.stringify(second.run.drift));
  t.is(d!.percent, 30);
  t.is(d!.unit, "seconds");
  t.true(d!.measured > d!.predicted);
  t.throws(() => recordRun(BASE_FIGURES, second.calibration, { ...runFromReport(drifted(), "b.json"), recordedAt }), {
    instanceOf: CalibrationError,
    message:
      /drill run drill-20261202t090000-abcdef is already recorded \(at .*\): each run counts once; nothing was changed/,
  });
});

test("malformed and foreign reports are refused with a message naming what is wrong", (t) => {
  const refuse = (text: string, message: RegExp) =>
    t.throws(() => runFromReport(text, "r.json"), { instanceOf: CalibrationError, message });
  refuse("{ not json", /^r\.json is not JSON: /);
  refuse("[1, 2]", /r\.json cannot be calibrated from: it is an array, not a report object/);
  refuse(readFileSync(join(root, "package.json"), "utf8"), /its keys are name, version, private/);
  refuse(readFileSync(join(root, "rehearsal/bench/results/full.json"), "utf8"), /it is a bench results file/);
  refuse(
    JSON.stringify({ stack: "prod", systems: [], mechanisms: [] }),
    /it is a posture report: an estimate, not a measurement/,
  );
  refuse(JSON.stringify({ ...drillJson(), reportVersion: 1 }), /a drill report of version 1, which measured no phases/);
  refuse(
    JSON.stringify({ ...drillJson(), verdict: "failed" }),
    /did not finish its recovery \(verdict failed\): a failed run measures nothing reliable/,
  );
  const negative = drillJson();
  negative.measured.phases.restore.seconds = -3;
  refuse(
    JSON.stringify(negative),
    /malformed drill report: measured\.phases\.restore\.seconds: seconds: expected a number > 0/,
  );
  const extra = drillJson();
  extra.measured.phases.teleport = { seconds: 1 };
  refuse(JSON.stringify(extra), /malformed drill report: measured\.phases: Unrecognized key: "teleport"/);
  const rds = JSON.parse(readFileSync(fixture("rds-pitr-report.json"), "utf8"));
  refuse(
    JSON.stringify({ ...rds, runbook: "backup-database" }),
    /report of the backup-database runbook: only point-in-time-restore and dr-test reports/,
  );
  refuse(
    JSON.stringify({ ...rds, status: "failed", verdict: "failed" }),
    /did not succeed \(status failed, verdict failed\)/,
  );
  const local = structuredClone(rds);
  local.steps[1].outputs = { dataDir: "/tmp/x/data" };
  refuse(
    JSON.stringify(local),
    /a point-in-time-restore of the pgbackrest engine: calibrate the self-managed figures from the drill's drill-report\.json/,
  );
});

test("the recorded RDS point-in-time restore report has the runbook report's shape and measures restore → available", (t) => {
  const schema = JSON.parse(readFileSync(join(root, "runbooks/lib/report.schema.json"), "utf8"));
  const validate = new Ajv({
    allErrors: true,
    strict: true,
    formats: { "date-time": (s: string) => !Number.isNaN(Date.parse(s)) },
  }).compile(schema);
  const text = readFileSync(fixture("rds-pitr-report.json"), "utf8");
  t.true(validate(JSON.parse(text)), JSON.stringify(validate.errors));
  const run = runFromReport(text, "rds.json");
  t.is(run.source, "point-in-time-restore");
  t.is(Math.round(run.phases.rdsRestore!.minutes * 100) / 100, 21.82); // restore 1.9 s + wait-ready 21.8 min
  const inUse = figuresInUse(BASE_FIGURES, recordRun(BASE_FIGURES, EMPTY, { ...run, recordedAt }).calibration);
  t.is(inUse.rdsRestoreProvisioning!.value, 21.8);
  t.is(inUse.rdsRestoreProvisioning!.kind, "measured");
  t.is(inUse.rdsPitrLogReplay!.value, 0);
  t.regex(inUse.rdsPitrLogReplay!.source, /included in rdsRestoreProvisioning's measured restore → available/);
});

test("a dr-test report records its logical restore and verification, which no estimate uses yet", (t) => {
  const rds = JSON.parse(readFileSync(fixture("rds-pitr-report.json"), "utf8"));
  const drTest = {
    ...rds,
    runbook: "dr-test",
    runId: "dr-test-20261111t060000-0f0f0f",
    steps: [{ id: "database", title: "Restore and verify", status: "succeeded", durationMs: 90_000, attempts: 1 }],
  };
  const run = runFromReport(JSON.stringify(drTest), "dr.json");
  t.deepEqual(run.phases, { logicalRestoreVerify: { minutes: 1.5 } });
  const { changed } = recordRun(BASE_FIGURES, EMPTY, { ...run, recordedAt });
  t.deepEqual(changed, []);
  const noDatabase = { ...drTest, steps: [{ id: "dns", status: "succeeded", durationMs: 1, attempts: 1 }] };
  t.throws(() => runFromReport(JSON.stringify(noDatabase), "dr.json"), {
    message: /has no succeeded step "database" with a duration \(its status: absent\)/,
  });
});

// The command line, end to end, on a copy of the calibration file.
function calibrationCopy(t: ExecutionContext): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "calibration-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "calibration.json");
  writeFileSync(file, JSON.stringify(EMPTY));
  return { dir, file };
}
const posture = (...args: string[]) => $({ cwd: root, nothrow: true, quiet: true })`node infra/posture/cli.ts ${args}`;

test("npm run posture -- --calibrate records a drill report, and the posture report then cites the measured figures and the drift", async (t) => {
  const { dir, file } = calibrationCopy(t);
  const rec = await posture("--calibrate", fixture("drill-report.json"), "--calibration-file", file);
  t.is(rec.exitCode, 0, rec.stderr);
  t.regex(rec.stdout, /^Recorded drill run drill-\d{8}t\d{6}-[0-9a-f]{6} \(.*scale 1; crash, archive_timeout 60 s/);
  t.regex(rec.stdout, /selfManagedRestoreRate: 150 MB\/s \(assumed\) → [\d.]+ MB\/s \(measured\)/);
  const runId = drillJson().runId as string;
  const md = await posture("--stack", "prod", "--markdown", "--calibration-file", file);
  t.is(md.exitCode, 0, md.stderr);
  t.regex(md.stdout, new RegExp(`\\| selfManagedRestoreRate \\| [\\d.]+ MB/s \\| measured \\| measured: .*${runId}`));
  t.regex(
    md.stdout,
    /\| selfManagedRedoRate \| 100 MB\/s \| assumed \|/,
    "what the drill did not measure stays assumed",
  );
  t.regex(md.stdout, /Self-managed path .*RTO [\d.]+ (h|min)[\d. min]* to verified/);
  t.regex(md.stdout, /Calibration: 1 run recorded/);
  t.notRegex(md.stdout, /DRIFT/);

  writeFileSync(join(dir, "drifted.json"), drifted());
  const again = await posture("--calibrate", join(dir, "drifted.json"), "--calibration-file", file);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(
    again.stdout,
    /DRIFT: pgBackRest restore: measured [\d.]+ seconds, the figures in use predicted [\d.]+ seconds \(\+30 %, beyond ±25 %\)/,
  );
  const table = await posture("--stack", "prod", "--calibration-file", file);
  t.regex(
    table.stdout,
    /DRIFT: pgBackRest restore measured [\d.]+ seconds by drill-20261202t090000-abcdef .*\(\+30 %, beyond ±25 %\)/,
  );
  const json = JSON.parse((await posture("--stack", "prod", "--json", "--calibration-file", file)).stdout);
  t.is(json.calibration.runs.length, 2);
  t.deepEqual(
    json.calibration.drift.map((d: { phase: string }) => d.phase),
    ["restore"],
  );
});

test("a malformed or foreign report is refused with exit 2 and the calibration file is left unchanged", async (t) => {
  const { dir, file } = calibrationCopy(t);
  await posture("--calibrate", fixture("drill-report.json"), "--calibration-file", file);
  const before = readFileSync(file);
  const broken = join(dir, "broken.json");
  writeFileSync(broken, drillText.slice(0, 200));
  for (const [report, message] of [
    [broken, /not recorded: .*broken\.json is not JSON/],
    [join(root, "rehearsal/bench/results/full.json"), /not recorded: .*it is a bench results file/],
    [fixture("drill-report.json"), /not recorded: drill run .* is already recorded/],
    [join(dir, "missing.json"), /not recorded: cannot read .*missing\.json/],
  ] as const) {
    const r = await posture("--calibrate", report, "--calibration-file", file);
    t.is(r.exitCode, 2, report);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /calibration\.json is unchanged\./);
    t.deepEqual(readFileSync(file), before, `${report} changed the calibration file`);
  }
  writeFileSync(file, '{"calibrationVersion": 2, "runs": []}');
  const bad = await posture("--stack", "prod", "--calibration-file", file);
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /calibration file .* is malformed: calibrationVersion: calibrationVersion: expected 1/);
});

test("a real RDS restore recorded from its runbook report replaces the assumed RDS provisioning and log replay", async (t) => {
  const { file } = calibrationCopy(t);
  const assumed = JSON.parse((await posture("--stack", "prod", "--json", "--calibration-file", file)).stdout);
  const rec = await posture("--calibrate", fixture("rds-pitr-report.json"), "--calibration-file", file);
  t.is(rec.exitCode, 0, rec.stderr);
  const measured = JSON.parse((await posture("--stack", "prod", "--json", "--calibration-file", file)).stdout);
  const restore = (r: { mechanisms: { id: string; restoreMinutes: number }[] }) =>
    r.mechanisms.find((m) => m.id === "rds-pitr")!.restoreMinutes;
  t.is(restore(assumed), 38.7); // 15 provisioning + 13.7 hydration of 100 GiB + 10 log replay, assumed
  t.is(restore(measured), 35.5); // 21.8 measured restore → available (replay included) + 13.7 hydration
  t.is(measured.figures.rdsRestoreProvisioning.kind, "measured");
  t.regex(measured.figures.rdsRestoreProvisioning.source, /point-in-time-restore-20261110t031502-4a9c1e/);
});

test("an RDS restore run against the emulator is recorded with the timings it replayed, and the posture report names which RDS figures are measured and which assumed", async (t) => {
  const { file } = calibrationCopy(t);
  const before = await posture("--stack", "prod", "--calibration-file", file);
  t.regex(before.stdout, /RDS path figures: measured none; assumed [^;]*rdsRestoreProvisioning[^;]*rdsPitrLogReplay/);
  // The emulator answers at once; the step durations of this report are those of a recorded AWS
  // restore (RDS events of the real run), replayed by the fault proxy's holds.
  const drill = await posture(
    "--calibrate",
    fixture("drill-report.json"),
    "--recorded-timings",
    "RDS events of a real restore",
    "--calibration-file",
    file,
  );
  t.is(drill.exitCode, 2);
  t.regex(
    drill.stderr,
    /--recorded-timings .* is for a runbook run against an emulator .* a drill, which measures itself/,
  );
  const rec = await posture(
    "--calibrate",
    fixture("rds-pitr-report.json"),
    "--recorded-timings",
    "RDS events of restore eventchain-prod-db-pitr, us-west-2, 2026-11-10, held by the fault proxy",
    "--calibration-file",
    file,
  );
  t.is(rec.exitCode, 0, rec.stderr);
  t.regex(rec.stdout, /Timings: RDS events of restore eventchain-prod-db-pitr/);
  const after = await posture("--stack", "prod", "--calibration-file", file);
  t.regex(
    after.stdout,
    /RDS path figures: measured rdsRestoreProvisioning, rdsPitrLogReplay; assumed rdsCrossRegionLogCopyLag/,
  );
  const json = JSON.parse((await posture("--stack", "prod", "--json", "--calibration-file", file)).stdout);
  t.regex(
    json.figures.rdsRestoreProvisioning.source,
    /recorded timings: RDS events of restore eventchain-prod-db-pitr/,
  );
  const bad = await posture("--stack", "prod", "--recorded-timings", "x", "--calibration-file", file);
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /--recorded-timings goes with --calibrate/);
});
