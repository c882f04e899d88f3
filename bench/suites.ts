/**
 * The six suites: each assembles its cases from the bench modules and the project's own
 * runbook code, runs them interleaved, and returns its cases and ratios. A suite whose project
 * code is not there yet says so ("not run: …") instead of measuring a stand-in.
 */
import { join } from "node:path";
import { Writable } from "node:stream";
import { preparePitr, pitrCase } from "./pitr.ts";
import { startTlsFront } from "./tls-front.ts";
import { drillCase } from "./drill.ts";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
import { S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
import { main } from "../runbooks/lib/cli.ts";
import type { Runbook } from "../runbooks/lib/types.ts";
import { failoverCase, FAILOVER_DELAYS } from "./failover.ts";
import type { BenchOptions, SuiteId } from "./options.ts";
import { interleave, type CaseResult, type Progress } from "./harness.ts";
import type { Dataset } from "./dataset.ts";
import type { SuiteResult } from "./report.ts";
import { ratio, value } from "./report.ts";
import { floorCases, floorTeardown, FLOOR_TAR, FLOOR_UNTAR } from "./floor.ts";
import { planCases, emulatorCliEnv, PLAN_BACKUP, PLAN_RESTORE } from "./plan-pipeline.ts";
import { planNotInCase, notInPlanShapes, PLAN_NOT_IN, OURS_ANTI_JOIN, OURS_PLAN_ANTI_JOINS, antiJoinCase, planAntiJoinCase } from "./integrity.ts";
import { oursLogicalCases, OURS_BACKUP, OURS_RESTORE } from "./ours-logical.ts";
import { DB_NAME } from "./dataset.ts";
import { startMoto, type MotoServer } from "../runbooks/local/moto.ts";

export interface BenchContext {
  options: BenchOptions;
  workDir: string;
  /** Run last-in first-out at the end, also on failure. */
  cleanups: (() => Promise<void>)[];
  log: (message: string) => void;
  dataset?: Dataset;
  moto?: MotoServer;
  bucket?: string;
  /** Results of suites already run (ratios across suites use them). */
  done?: Map<SuiteId, SuiteResult>;
}

export type SuiteRunner = (ctx: BenchContext, progress: Progress) => Promise<SuiteResult>;

const BUCKET = "eventchain-bench-backups";
const PGBACKREST_BUCKET = "eventchain-bench-pgbackrest";

/** How the bench calls region-failover: fail over prod to dr, confirmed, primary assumed down. */
export const FAILOVER_ARGV = ["--stack", "prod", "--yes", "--force"];

/** The emulator, started once per bench run, with the backup bucket. Placeholder credentials only. */
export async function ensureMoto(ctx: BenchContext): Promise<{ moto: MotoServer; bucket: string }> {
  if (ctx.moto && ctx.bucket) return { moto: ctx.moto, bucket: ctx.bucket };
  // The bench talks to the emulator only: pin the SDK's default chain to its placeholders.
  Object.assign(process.env, emulatorCliEnv(), { AWS_REGION: "us-east-1" });
  const moto = await startMoto();
  ctx.cleanups.push(() => moto.stop());
  const s3 = new S3Client({ region: "us-east-1", endpoint: moto.endpoint, forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  } finally {
    s3.destroy();
  }
  ctx.moto = moto;
  ctx.bucket = BUCKET;
  return { moto, bucket: BUCKET };
}

/** Imports an optional project module; undefined when it is not there yet. */
export async function optionalImport<T>(specifier: string): Promise<T | undefined> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(specifier.replace(/^\.\.\//, ""))) return undefined;
    throw error;
  }
}

const floorSuite: SuiteRunner = async (ctx, progress) => {
  const d = ctx.dataset!;
  try {
    const cases = await interleave(floorCases(d, ctx.workDir), ctx.options.reps, progress);
    const [tar, untar, base] = cases;
    return {
      id: "floor",
      title: "",
      cases,
      ratios: [ratio("floor.basebackup_vs_tar", "pg_basebackup ÷ tar", base, tar), ratio("floor.untar_vs_tar", "untar ÷ tar", untar, tar)],
      notes: [`tar and pg_basebackup copy the whole data directory (${(d.dataDirBytes / 1e6).toFixed(0)} MB, WAL included); page cache warm; no fsync.`],
    };
  } finally {
    await floorTeardown(d, ctx.workDir);
  }
};

const logicalSuite: SuiteRunner = async (ctx, progress) => {
  const d = ctx.dataset!;
  const { moto, bucket } = await ensureMoto(ctx);
  const [planBackupCase, planRestoreCase] = planCases(d, { endpoint: moto.endpoint, bucket }, ctx.workDir);
  const ours = oursLogicalCases(d, { endpoint: moto.endpoint, bucket });
  ctx.cleanups.push(async () => ours.close?.());
  const [oursBackupCase, oursRestoreCase] = ours;
  const cases = [planBackupCase!, oursBackupCase!, planRestoreCase!, oursRestoreCase!];
  for (const c of cases) c.floor = c.id.endsWith("backup") ? FLOOR_TAR : FLOOR_UNTAR;
  const results = await interleave(cases, ctx.options.reps, progress);
  const floor = ctx.done?.get("floor")?.cases ?? [];
  const tar = floor.find((c) => c.id === FLOOR_TAR);
  const untar = floor.find((c) => c.id === FLOOR_UNTAR);
  const get = (id: string) => results.find((c) => c.id === id);
  return {
    id: "logical",
    title: "",
    cases: results,
    ratios: [
      ratio("logical.plan_vs_ours_backup", "plan's dump+gzip+upload ÷ our verified backup", get(PLAN_BACKUP), get(OURS_BACKUP), { op: ">=", value: 2 }),
      ratio("logical.ours_backup_vs_tar", "our verified backup ÷ tar floor", get(OURS_BACKUP), tar, { op: "<=", value: 2 }),
      ratio("logical.plan_backup_vs_tar", "plan's backup ÷ tar floor", get(PLAN_BACKUP), tar),
      ratio("logical.plan_vs_ours_restore", "plan's restore ÷ our restore", get(PLAN_RESTORE), get(OURS_RESTORE)),
      ratio("logical.ours_restore_vs_untar", "our logical restore ÷ untar floor", get(OURS_RESTORE), untar),
      ratio("logical.plan_restore_vs_untar", "plan's restore ÷ untar floor", get(PLAN_RESTORE), untar),
    ],
    notes: [
      "MB/s = pg_database_size of the seeded database ÷ seconds, the same numerator for every logical path.",
      "Both upload to and download from the same moto S3 bucket on loopback (moto's CPU is part of both figures).",
    ],
  };
};

const verifySuite: SuiteRunner = async (ctx, progress) => {
  const d = ctx.dataset!;
  const timeout = ctx.options.quick ? 30 : 120;
  const notIn = planNotInCase(d, timeout);
  const results = await interleave([notIn, antiJoinCase(d), planAntiJoinCase(d)], ctx.options.reps, progress);
  const get = (id: string) => results.find((c) => c.id === id);
  const client = await d.server.client(DB_NAME);
  let shapes: Record<string, string>;
  try {
    shapes = await notInPlanShapes(client);
  } finally {
    await client.end();
  }
  const bound = notIn.timedOut() ? "lower" : undefined;
  const notes = [
    `NOT IN runs under a ${timeout} s statement timeout at the server's default work_mem (4 MB, hash_mem_multiplier 2).`,
    `PostgreSQL's plan for each NOT IN: ${Object.entries(shapes).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    "Ours does more work than the plan: table presence and counts, every declared foreign key (6) and the plan's three checks, all as NOT EXISTS anti-joins.",
  ];
  if (notIn.timedOut()) notes.push(`NOT IN timed out: ${notIn.timedOut()}; its time and the ratios are lower bounds.`);
  return {
    id: "verify",
    title: "",
    cases: results,
    ratios: [
      ratio("verify.not_in_vs_ours", "plan's NOT IN checks ÷ our whole integrity check", get(PLAN_NOT_IN), get(OURS_ANTI_JOIN), { op: ">=", value: 10 }, bound),
      ratio("verify.not_in_vs_anti_join", "the same three checks: NOT IN ÷ anti-join", get(PLAN_NOT_IN), get(OURS_PLAN_ANTI_JOINS), undefined, bound),
    ],
    notes,
  };
};

/** WAL written between the base backup and T: the fixed amount every PITR repetition replays. */
export const PITR_WAL_BYTES = { quick: 16 * 1024 ** 2, full: 256 * 1024 ** 2 };

/** The PITR suite: posix repository (the judged figure), then the S3 repository on moto behind stunnel. */
const pitrSuite: SuiteRunner = async (ctx, progress) => {
  const d = ctx.dataset!;
  const walBytes = ctx.options.quick ? PITR_WAL_BYTES.quick : PITR_WAL_BYTES.full;
  const notes: string[] = [];
  const cases: CaseResult[] = [];
  const posixDir = join(ctx.workDir, "pgbackrest-posix");
  const posix = await preparePitr(d, { dir: posixDir, stanza: "bench-posix", repo: { type: "posix", path: join(posixDir, "repo") }, walBytes });
  notes.push(
    `posix repository: full backup (lz4, 2 processes) ${posix.backupSeconds.toFixed(2)} s for ${(posix.backupBytes / 1e6).toFixed(0)} MB ` +
      `(${(posix.backupBytes / 1e6 / posix.backupSeconds).toFixed(0)} MB/s); ${(posix.walBytes / 1e6).toFixed(0)} MB of WAL from the backup's end to T.`,
  );
  cases.push(...(await interleave([pitrCase(d, () => posix, { id: "ours.pitr_posix", label: "ours: PITR from a posix pgBackRest repository", workDir: ctx.workDir })], ctx.options.reps, progress)));

  // S3 repository: pgBackRest speaks HTTPS only; moto is plain HTTP, so stunnel goes in front.
  const { moto } = await ensureMoto(ctx);
  const tls = await startTlsFront(moto.port);
  ctx.cleanups.push(() => tls.stop());
  const s3 = new S3Client({ region: "us-east-1", endpoint: moto.endpoint, forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: PGBACKREST_BUCKET }));
  } finally {
    s3.destroy();
  }
  // The emulator's placeholder keys reach archive-push through the server's environment
  // (the server restarts inside enableArchiving); never written to a file.
  Object.assign(process.env, { PGBACKREST_REPO1_S3_KEY: "test", PGBACKREST_REPO1_S3_KEY_SECRET: "test" });
  const s3Dir = join(ctx.workDir, "pgbackrest-s3");
  const onS3 = await preparePitr(d, {
    dir: s3Dir,
    stanza: "bench-s3",
    repo: { type: "s3", bucket: PGBACKREST_BUCKET, endpoint: "localhost", port: tls.port, region: "us-east-1", path: "/pgbackrest", caFile: tls.caFile, uriStyle: "path", keyType: "shared" },
    walBytes,
  });
  notes.push(
    `S3 repository on moto (stunnel, TCP_NODELAY): full backup ${onS3.backupSeconds.toFixed(2)} s (${(onS3.backupBytes / 1e6 / onS3.backupSeconds).toFixed(0)} MB/s); ` +
      "moto's own CPU bounds this figure on 2 cores, so it is reported, not judged.",
  );
  cases.push(...(await interleave([pitrCase(d, () => onS3, { id: "ours.pitr_s3", label: "ours: PITR from the S3 repository on moto", workDir: ctx.workDir })], ctx.options.reps, progress)));

  const untar = ctx.done?.get("floor")?.cases.find((c) => c.id === FLOOR_UNTAR);
  const planRestore = ctx.done?.get("logical")?.cases.find((c) => c.id === PLAN_RESTORE);
  const get = (id: string) => cases.find((c) => c.id === id);
  const walRate = (id: string) => get(id)?.metrics?.walMBps ?? null;
  for (const c of cases) {
    const redo = c.metrics?.redoSeconds;
    const replay = c.phases?.["start + WAL replay + promote"];
    if (redo !== undefined && replay !== undefined) {
      notes.push(`${c.label}: PostgreSQL's redo (restore_command fetches + replay) took ${redo.toFixed(2)} s of the ${replay.toFixed(2)} s start + replay + promote phase.`);
    }
  }
  notes.push("MB/s = bytes of the restored cluster (pgBackRest's backup size) ÷ seconds; WAL MB/s = WAL bytes ÷ PostgreSQL's logged redo time.");
  return {
    id: "pitr",
    title: "",
    cases,
    ratios: [
      ratio("pitr.posix_vs_untar", "PITR (posix repo) ÷ untar floor", get("ours.pitr_posix"), untar, { op: "<=", value: 1.25 }),
      ratio("pitr.plan_restore_vs_posix", "plan's logical restore ÷ PITR (posix repo)", planRestore, get("ours.pitr_posix"), { op: ">=", value: 5 }),
      value(
        "pitr.plan_restore_vs_pgbackrest_restore",
        "plan's logical restore ÷ pgBackRest's restore phase alone (no replay, no verify)",
        planRestore && !planRestore.error && get("ours.pitr_posix")?.phases?.["pgbackrest restore"]
          ? planRestore.seconds / get("ours.pitr_posix")!.phases!["pgbackrest restore"]!
          : null,
        "×",
      ),
      ratio("pitr.s3_vs_untar", "PITR (S3 repo on moto) ÷ untar floor", get("ours.pitr_s3"), untar),
      value("pitr.posix_wal_rate", "WAL replayed, posix repo", walRate("ours.pitr_posix"), "MB/s"),
      value("pitr.s3_wal_rate", "WAL replayed, S3 repo", walRate("ours.pitr_s3"), "MB/s"),
    ],
    notes,
  };
};

/** The failover suite: region-failover (developer B) behind the delaying proxy. */
const failoverSuite: SuiteRunner = async (ctx, progress) => {
  const mod = await optionalImport<{ runbook: Runbook<unknown> }>("../runbooks/region-failover.ts");
  if (!mod) return { id: "failover", title: "", cases: [], ratios: [], notes: [], skipped: "runbooks/region-failover.ts (developer B) is not there yet" };
  const { moto } = await ensureMoto(ctx);
  const { seedStacks } = await import("../test/helpers/aws-seed.ts");
  const holds = ctx.options.quick ? { dbMs: 2000, ecsMs: 1500, dnsMs: 1000 } : { dbMs: 30_000, ecsMs: 20_000, dnsMs: 5000 };
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const c = failoverCase(
    moto.endpoint,
    {
      reset: () => moto.reset(),
      seed: async (endpoint) => (await seedStacks(endpoint)).file,
      run: async (argv, endpoint, out) => {
        const r = await main(mod.runbook, { argv, aws: { endpoint, maxAttempts: 1 }, ask: null, stdout: out, stderr: out });
        return { exitCode: r.exitCode, ...(r.report ? { report: r.report } : {}) };
      },
      dependencies: async (argv, endpoint) => {
        const r = await main(mod.runbook, { argv: [...argv, "--dry-run"], aws: { endpoint, maxAttempts: 1 }, ask: null, stdout: quiet, stderr: quiet });
        if (!r.plan) throw new Error(`region-failover --dry-run gave no plan (exit ${r.exitCode}): ${r.message}`);
        return new Map(r.plan.map((p) => [p.id, p.dependsOn]));
      },
      argv: FAILOVER_ARGV,
    },
    holds,
  );
  ctx.cleanups.push(() => c.close());
  const [result] = await interleave([c], ctx.options.reps, progress);
  const m = result!.metrics ?? {};
  const overhead = m.overheadVsIdealPercent ?? null;
  return {
    id: "failover",
    title: "",
    cases: [result!],
    ratios: [
      value("failover.overhead_vs_ideal", "total over the critical path with perfect polling", overhead, "%", { op: "<=", value: 10 }),
      value("failover.overhead_vs_measured", "total over the critical path of the measured steps (orchestration only)", m.overheadVsCriticalPathPercent ?? null, "%"),
      value("failover.polling_lag", "polling lag, summed over the waits (readiness noticed late)", m.pollingLagSeconds ?? null, "s"),
      value("failover.parallel_gain", "sequential sum of steps over the critical path", m.sequentialSeconds && m.criticalPathSeconds ? m.sequentialSeconds / m.criticalPathSeconds : null, "×"),
    ],
    notes: [
      `Injected latencies (ms): ${Object.entries(FAILOVER_DELAYS).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
      `Holds: the restored DB instance reports \`creating\` for ${holds.dbMs / 1000} s after the restore call, the DR services no running task for ${holds.ecsMs / 1000} s after the scale-up, the DNS change PENDING for ${holds.dnsMs / 1000} s.`,
      `Critical path (last run): ${c.criticalSteps().join(" → ")}; steps off it ran side by side with it.`,
      `Medians: total ${result!.seconds.toFixed(2)} s, critical path ${m.criticalPathSeconds?.toFixed(2)} s, with perfect polling ${m.idealCriticalPathSeconds?.toFixed(2)} s, all steps in sequence ${m.sequentialSeconds?.toFixed(2)} s; ${m.apiCalls} API calls.`,
    ],
  };
};

/** The drill suite: `npm run drill` end to end, phases and their shares. */
const drillSuite: SuiteRunner = async (ctx, progress) => {
  const [result] = await interleave([drillCase(REPO_ROOT)], ctx.options.reps, progress);
  const phases = result!.phases ?? {};
  const sum = Object.values(phases).reduce((a, b) => a + b, 0);
  return {
    id: "drill",
    title: "",
    cases: [result!],
    ratios: [value("drill.total", "npm run drill, end to end", result!.error ? null : result!.seconds, "s", { op: "<=", value: 60 })],
    notes: [
      `Phases add up to ${sum.toFixed(1)} s of the ${Number.isFinite(result!.seconds) ? result!.seconds.toFixed(1) : "–"} s wall time; the rest is npm, tsx and Node start-up and the drill's cleanup.`,
      "The drill starts its own PostgreSQL, Redis and moto; it shares the machine with the bench's idle servers.",
    ],
  };
};


export const SUITE_RUNNERS: Record<SuiteId, SuiteRunner> = {
  floor: floorSuite,
  logical: logicalSuite,
  pitr: pitrSuite,
  verify: verifySuite,
  failover: failoverSuite,
  drill: drillSuite,
};
