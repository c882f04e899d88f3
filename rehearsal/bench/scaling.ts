/**
 * `npm run bench -- --scaling [--sizes 0.1GiB,0.5GiB,2GiB] [--reps 3]`: the same paths at three
 * database sizes — the floor (tar/untar), pgBackRest's full backup, our logical backup, PITR to
 * "ready for writes" and to "verified", verify-backup's integrity checks (now, and as they ran
 * before) — and `npm run drill` at each size, whose estimate (printed before its disaster, from
 * the committed calibration) is set beside what it achieved. Each size seeds its own database;
 * everything it starts is stopped and removed, also on failure.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { serverVersion, thisMachine } from "./machine.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { interleave, type Case, type Progress } from "./harness.ts";
import { createDataset, DB_NAME, type Dataset } from "./dataset.ts";
import { floorCases, floorTeardown } from "./floor.ts";
import { oursLogicalCases } from "./ours-logical.ts";
import { pitrCase, preparePitr } from "./pitr.ts";
import { drillCase } from "./drill.ts";
import { ensureMoto, type BenchContext } from "./bench-context.ts";
import { checkIntegrity, orphanQuery, PLAN_CHECKS } from "../../runbooks/postgres/integrity.ts";
import { useCalibration } from "../../infra/posture/figures.ts";
import type { ScalingResults, SizeResult } from "./scaling-report.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** WAL each PITR repetition replays, as a share of the database (256 MiB at 1 GiB, as the full run). */
const PITR_WAL_SHARE = 0.25;
/** The drill's writers run past one archive_timeout, so the disaster falls mid-cycle (quick: a few seconds). */
const DRILL_WRITE_SECONDS = { full: 75, quick: 3 };

/** The three ways of running the integrity checks, on the seeded database. */
function verifyCases(d: Dataset): Case[] {
  const check = (
    label: string,
    id: string,
    run: (c: Awaited<ReturnType<Dataset["server"]["client"]>>) => Promise<void>,
  ): Case => ({
    id,
    label,
    run: async () => {
      const client = await d.server.client(DB_NAME);
      try {
        await run(client);
      } finally {
        await client.end();
      }
    },
  });
  const passes = (checks: { ok: boolean; name: string; detail: string }[]) => {
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) throw new Error(`integrity failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
  };
  return [
    check("the checks as before", "verify.before", async (c) => {
      passes(await checkIntegrity(c));
      for (const fk of PLAN_CHECKS) await c.query(orphanQuery(fk)); // the plan's three ran a second time
    }),
    check("one at a time, each query once", "verify.one_by_one", async (c) => passes(await checkIntegrity(c))),
    check("two at a time, each query once", "verify.side_by_side", async (c) =>
      passes(await checkIntegrity(c, {}, { concurrency: 2, connect: () => d.server.client(DB_NAME) })),
    ),
  ];
}

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
    const { moto, bucket } = await ensureMoto(ctx);
    const logical = oursLogicalCases(d, { endpoint: moto.endpoint, bucket });
    const backup = await interleave([logical[0]!], reps, progress).finally(() => logical.close?.());
    const verify = await interleave(verifyCases(d), reps, progress);
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
    const pitr = await interleave(
      [pitrCase(d, () => setup, { id: "ours.pitr_posix", label: "PITR (posix)", workDir: dir })],
      reps,
      progress,
    );
    measured = {
      targetBytes,
      dataset: { dbBytes: d.dbBytes, dataDirBytes: d.dataDirBytes, scale: d.scale, seedSeconds: d.seedSeconds },
      pitrWalBytes: setup.walBytes,
      cases: [...floor, ...backup, pgbackrestBackup, ...verify, ...pitr],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await d.server.destroy();
  }
  // The drill seeds and serves its own database at the same scale; the bench's is gone by now.
  const writeSeconds = ctx.options.quick ? DRILL_WRITE_SECONDS.quick : DRILL_WRITE_SECONDS.full;
  return { ...measured, drill: await drillAt(measured.dataset.scale, writeSeconds, progress, o.reportsDir) };
}

/** One drill at `scale`, whose report (estimate and achieved) is kept in `reportsDir`. */
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

export async function runScaling(
  ctx: BenchContext,
  sizes: number[],
  progress: Progress,
  o: { reportsDir?: string } = {},
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
  for (const bytes of sizes)
    results.sizes.push(await oneSize(ctx, bytes, progress, { reportsDir: o.reportsDir, postgres }));
  results.finishedAt = new Date().toISOString();
  return results;
}
