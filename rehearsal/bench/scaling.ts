/**
 * `npm run bench -- --scaling [--sizes 0.1GiB,0.5GiB,2GiB] [--reps 3] [--drills 4]`: the recovery
 * paths at three database sizes — the floor (tar/untar), pgBackRest's full backup, PITR to "ready
 * for writes" and to "verified" now and as before (side by side, the same backup, WAL and T), the
 * repository's compression (backup time and size, restore time) — and `--drills` runs of `npm run
 * drill` at each size, whose RTO range (printed before its disaster, from the committed
 * calibration) is set beside what it achieved. Each size seeds its own database; everything it
 * starts is stopped and removed, also on failure.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { serverVersion, thisMachine } from "./machine.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { interleave, type Progress } from "./harness.ts";
import { createDataset, type Dataset } from "./dataset.ts";
import { floorCases, floorTeardown } from "./floor.ts";
import { pitrCase, preparePitr } from "./pitr.ts";
import { drillCase } from "./drill.ts";
import type { BenchContext } from "./bench-context.ts";
import { compressionBackups, compressionRestoreCases, compressionRows } from "./compression.ts";
import { serviceUserIds } from "../../runbooks/postgres/cluster.ts";
import { BASE_FIGURES } from "../../infra/posture/figures.ts";
import {
  DEFAULT_CALIBRATION_FILE,
  readCalibration,
  recordRun,
  writeCalibration,
} from "../../infra/posture/calibration.ts";
import { runFromReport } from "../../infra/posture/calibration-sources.ts";
import { useCalibration } from "../../infra/posture/figures.ts";
import type { ScalingResults, SizeResult } from "./scaling-report.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** WAL each PITR repetition replays, as a share of the database (256 MiB at 1 GiB, as the full run). */
const PITR_WAL_SHARE = 0.25;
/**
 * How long each drill's writers sell (quick: a few seconds). 30 s, not past one archive_timeout
 * as before: twelve drills must fit in one run on a shared machine; the RPO estimate is exact
 * either way (nothing archived: every commit since the base backup is lost, as predicted).
 */
const DRILL_WRITE_SECONDS = { full: 30, quick: 3 };

async function oneSize(
  ctx: BenchContext,
  targetBytes: number,
  progress: Progress,
  o: { reportsDir: string | undefined; postgres: (d: Dataset) => Promise<void> },
): Promise<SizeResult> {
  const reps = ctx.options.reps;
  ctx.log(`── seeding about ${(targetBytes / 1024 ** 3).toFixed(2)} GiB …`);
  const d = await createDataset(targetBytes);
  const dir = await mkdtemp(join(ctx.workDir, "size-"));
  await chmod(dir, 0o711);
  let measured: Omit<SizeResult, "drill">;
  try {
    await o.postgres(d);
    const floor = await interleave(floorCases(d, dir).slice(0, 2), reps, progress);
    await floorTeardown(d, dir);
    const setup = await preparePitr(d, {
      dir: join(dir, "pgbackrest"),
      stanza: "bench-scaling",
      repo: { type: "posix", path: join(dir, "pgbackrest", "repo") },
      walBytes: Math.round(d.dbBytes * PITR_WAL_SHARE),
    });
    // One sample: every further full backup would expire (repo1-retention-full) the one PITR restores.
    const pgbackrestBackup = {
      id: "pgbackrest.backup",
      label: "pgBackRest full backup",
      samples: [{ seconds: setup.backupSeconds, bytes: setup.backupBytes }],
      seconds: setup.backupSeconds,
      bytes: setup.backupBytes,
      mbPerSec: setup.backupBytes / 1e6 / setup.backupSeconds,
    };
    // The path before and after, side by side: the same backup, the same WAL, the same T.
    const pitr = await interleave(
      [
        pitrCase(d, () => setup, { id: "ours.pitr_posix", label: "PITR (posix), now", workDir: dir }),
        pitrCase(d, () => setup, {
          id: "ours.pitr_posix_before",
          label: "PITR (posix), as before",
          workDir: dir,
          variant: "before",
        }),
      ],
      reps,
      progress,
    );
    const compressionDir = join(dir, "compression");
    await mkdir(compressionDir, { recursive: true });
    const ids = await serviceUserIds("postgres");
    if (ids) await chown(compressionDir, ids.uid, ids.gid);
    const backups = await compressionBackups(setup.cfg, compressionDir);
    const restores = await interleave(compressionRestoreCases(setup.cfg, compressionDir), reps, progress);
    measured = {
      targetBytes,
      dataset: { dbBytes: d.dbBytes, dataDirBytes: d.dataDirBytes, scale: d.scale, seedSeconds: d.seedSeconds },
      pitrWalBytes: setup.walBytes,
      cases: [...floor, pgbackrestBackup, ...pitr, ...restores],
      compression: compressionRows(backups, restores),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await d.server.destroy();
  }
  return { ...measured, drill: null, drills: [] };
}

/**
 * One drill at `scale`, whose report (its range and what it achieved) is kept in `reportsDir`
 * and then recorded in the committed calibration (`--calibrate`): the next drill's range counts it.
 */
async function drillAt(scale: number, writeSeconds: number, progress: Progress, reportsDir: string | undefined) {
  const [r] = await interleave(
    [
      drillCase(REPO_ROOT, {
        id: "drill",
        label: `npm run drill --scale ${scale}`,
        args: ["--scale", String(scale), "--write-seconds", String(writeSeconds)],
        ...(reportsDir ? { keepReportsIn: reportsDir } : {}),
      }),
    ],
    1,
    progress,
  );
  return { scale, runId: null, error: r!.error ?? null, metrics: r!.metrics ?? {} };
}

/** Records a drill's report in the calibration file, as `npm run posture -- --calibrate` does. */
function calibrateFrom(reportFile: string, log: (line: string) => void): void {
  try {
    const run = runFromReport(readFileSync(reportFile, "utf8"), reportFile);
    const file = DEFAULT_CALIBRATION_FILE;
    const next = recordRun(BASE_FIGURES, readCalibration(file), { ...run, recordedAt: new Date().toISOString() });
    writeCalibration(file, next.calibration);
    log(
      `── calibrated from ${run.runId}${next.run.rtoCheck ? (next.run.rtoCheck.inRange ? " (inside its range)" : " (OUTSIDE its range)") : ""}`,
    );
  } catch (error) {
    log(`── not calibrated from ${reportFile}: ${(error as Error).message}`);
  }
}

export async function runScaling(
  ctx: BenchContext,
  sizes: number[],
  progress: Progress,
  o: { reportsDir?: string; record?: boolean; partial?: (r: ScalingResults) => Promise<void> } = {},
): Promise<ScalingResults> {
  const results: ScalingResults = {
    name: ctx.options.name,
    startedAt: new Date().toISOString(),
    finishedAt: "",
    machine: { ...thisMachine(), loadAverage: loadavg() },
    reps: ctx.options.reps,
    calibrationRuns: useCalibration().runs.map((r) => r.runId),
    sizes: [],
  };
  const postgres = async (d: Dataset) => {
    if (results.machine.postgres) return;
    results.machine.postgres = await serverVersion(d.server);
  };
  for (const bytes of sizes) {
    results.sizes.push(await oneSize(ctx, bytes, progress, { reportsDir: o.reportsDir, postgres }));
    await o.partial?.(results);
  }
  // The drills seed and serve their own databases; round after round over the sizes, each
  // recorded before the next, so every range comes from the drills before it (never its own).
  const writeSeconds = ctx.options.quick ? DRILL_WRITE_SECONDS.quick : DRILL_WRITE_SECONDS.full;
  for (let round = 0; round < ctx.options.drills; round++)
    for (const size of results.sizes) {
      const before = new Set(o.reportsDir && existsSync(o.reportsDir) ? readdirSync(o.reportsDir) : []);
      const d = await drillAt(size.dataset.scale, writeSeconds, progress, o.reportsDir);
      size.drills!.push(d);
      size.drill ??= d;
      const added = o.reportsDir ? readdirSync(o.reportsDir).filter((f) => !before.has(f)) : [];
      if (o.record && o.reportsDir && added[0]) calibrateFrom(join(o.reportsDir, added[0]), ctx.log);
      await o.partial?.(results);
    }
  results.finishedAt = new Date().toISOString();
  return results;
}
