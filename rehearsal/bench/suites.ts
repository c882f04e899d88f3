/**
 * The six suites: each assembles its cases from the bench modules and the project's own
 * runbook code, runs them interleaved, and returns its cases and ratios. Suites 3 and 5 live
 * in suite-pitr.ts and suite-failover.ts.
 */
import { fileURLToPath } from "node:url";
import type { SuiteId } from "./options.ts";
import { interleave } from "./harness.ts";
import { ratio, value } from "./bench-results.ts";
import { floorCases, floorTeardown, FLOOR_TAR, FLOOR_UNTAR } from "./floor.ts";
import { planCases, PLAN_BACKUP, PLAN_RESTORE } from "./plan-pipeline.ts";
import {
  planNotInCase,
  notInPlanShapes,
  PLAN_NOT_IN,
  OURS_ANTI_JOIN,
  OURS_PLAN_ANTI_JOINS,
  antiJoinCase,
  planAntiJoinCase,
  verifyBackupCase,
  verifyManyRelationsCase,
  MANY_RELATIONS_COPIES,
  OURS_VERIFY_BACKUP,
  OURS_VERIFY_MANY,
} from "./integrity.ts";
import { oursLogicalCases, OURS_BACKUP, OURS_RESTORE } from "./ours-logical.ts";
import { DB_NAME } from "./dataset.ts";
import { drillCase } from "./drill.ts";
import { ensureMoto, type SuiteRunner } from "./bench-context.ts";
import { pitrSuite } from "./suite-pitr.ts";
import { failoverSuite } from "./suite-failover.ts";

export type { BenchContext, SuiteRunner } from "./bench-context.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** An estimate counts as good within a quarter of what was achieved. */
export const ESTIMATE_TARGET = { op: "between", value: 0.75, upper: 1.25 } as const;

const floorSuite: SuiteRunner = async (ctx, progress) => {
  const d = ctx.dataset!;
  try {
    const cases = await interleave(floorCases(d, ctx.workDir), ctx.options.reps, progress);
    const [tar, untar, base] = cases;
    return {
      id: "floor",
      title: "",
      cases,
      ratios: [
        ratio("floor.basebackup_vs_tar", "pg_basebackup ÷ tar", base, tar),
        ratio("floor.untar_vs_tar", "untar ÷ tar", untar, tar),
      ],
      notes: [
        `tar and pg_basebackup copy the whole data directory (${(d.dataDirBytes / 1e6).toFixed(0)} MB, WAL included); page cache warm; no fsync.`,
      ],
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
      ratio(
        "logical.plan_vs_ours_backup",
        "plan's dump+gzip+upload ÷ our verified backup",
        get(PLAN_BACKUP),
        get(OURS_BACKUP),
        { op: ">=", value: 2 },
      ),
      ratio("logical.ours_backup_vs_tar", "our verified backup ÷ tar floor", get(OURS_BACKUP), tar, {
        op: "<=",
        value: 2,
      }),
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
  const { moto, bucket } = await ensureMoto(ctx);
  const s3 = { endpoint: moto.endpoint, bucket };
  const copies = ctx.options.quick ? MANY_RELATIONS_COPIES.quick : MANY_RELATIONS_COPIES.full;
  const results = await interleave(
    [notIn, antiJoinCase(d), planAntiJoinCase(d), verifyBackupCase(d, s3), verifyManyRelationsCase(d, s3, copies)],
    ctx.options.reps,
    progress,
  );
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
    `PostgreSQL's plan for each NOT IN: ${Object.entries(shapes)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}.`,
    "Ours does more work than the plan: every table read and counted, every declared foreign key (6) and the plan's three checks, all as NOT EXISTS anti-joins.",
    `verify-backup end to end reads the object back, restores it (pg_restore -j 2) into a scratch database, checks every table's count against the manifest, every key, owners and privileges, and drops it; the many-relations case is the foreign fixture with ${copies} more partitioned schemas (${14 + 6 * copies} tables, ${5 + 2 * copies} declared keys).`,
  ];
  if (notIn.timedOut()) notes.push(`NOT IN timed out: ${notIn.timedOut()}; its time and the ratios are lower bounds.`);
  return {
    id: "verify",
    title: "",
    cases: results,
    ratios: [
      ratio(
        "verify.not_in_vs_ours",
        "plan's NOT IN checks ÷ our whole integrity check",
        get(PLAN_NOT_IN),
        get(OURS_ANTI_JOIN),
        { op: ">=", value: 10 },
        bound,
      ),
      ratio(
        "verify.verify_backup_vs_checks",
        "verify-backup end to end ÷ its integrity checks alone",
        get(OURS_VERIFY_BACKUP),
        get(OURS_ANTI_JOIN),
      ),
      value(
        "verify.many_relations_per_100_tables",
        "verify-backup with many relations, per 100 tables",
        get(OURS_VERIFY_MANY)?.error ? null : (get(OURS_VERIFY_MANY)!.seconds * 100) / (14 + 6 * copies),
        "s",
      ),
      ratio(
        "verify.not_in_vs_anti_join",
        "the same three checks: NOT IN ÷ anti-join",
        get(PLAN_NOT_IN),
        get(OURS_PLAN_ANTI_JOINS),
        undefined,
        bound,
      ),
    ],
    notes,
  };
};

/** The drill suite: `npm run drill` end to end, phases and their shares. */
const drillSuite: SuiteRunner = async (ctx, progress) => {
  // Quick: a few seconds of writes only (the bench proves the path, it does not judge it).
  const args = ctx.options.quick ? ["--write-seconds", "3"] : [];
  const [result] = await interleave([drillCase(REPO_ROOT, { args })], ctx.options.reps, progress);
  const m = result!.metrics ?? {};
  const phases = result!.phases ?? {};
  const sum = Object.values(phases).reduce((a, b) => a + b, 0);
  return {
    id: "drill",
    title: "",
    cases: [result!],
    ratios: [
      value("drill.total", "npm run drill, end to end", result!.error ? null : result!.seconds, "s", {
        op: "<=",
        value: 60,
      }),
      value(
        "drill.rto_estimate_vs_achieved",
        "RTO (verified): estimate ÷ achieved",
        m.rtoRatio ?? null,
        "×",
        ESTIMATE_TARGET,
      ),
      value("drill.rpo_estimate_vs_achieved", "RPO: estimate ÷ achieved", m.rpoRatio ?? null, "×", ESTIMATE_TARGET),
    ],
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
