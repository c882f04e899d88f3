/**
 * What the dr-readiness job (runbooks/check-dr-readiness.ts) and the stacks agree on: the job's
 * id, the restore testing plan it validates (by name), and the backup paths whose heartbeat it
 * records (`BackupSucceeded` with Job = the path id; infra/components/heartbeats.ts alarms on them).
 */

/** The readiness job's id (its own heartbeat and failure alarm use it as the Job dimension). */
export const DR_READINESS_JOB = "dr-readiness";

/**
 * The restore testing plan's name for a stack (AWS allows letters, digits and underscores): the
 * dr stack declares it, check-dr-readiness finds it by this name (ListRestoreTestingPlans).
 */
export const restoreTestingPlanName = (stack: string) =>
  `eventchain_${stack.replace(/[^A-Za-z0-9]/g, "_")}_restore_test`;

/** Paths whose success check-dr-readiness verifies and records; the restore tests' in the DR region. */
export const VERIFIED_PATH_IDS = [
  "aws-backup-dr-copies",
  "elasticache-snapshots",
  "ecr-replication",
  "restore-tests",
] as const;
export type VerifiedPathId = (typeof VERIFIED_PATH_IDS)[number];

/** The path whose heartbeat lives in the DR region (recorded under the dr stack). */
export const DR_REGION_PATH: VerifiedPathId = "restore-tests";
