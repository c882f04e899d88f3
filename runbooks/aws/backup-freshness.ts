/**
 * The backup paths whose success AWS publishes no metric we can alarm on with confidence, checked
 * by what they leave behind: the newest AWS Backup copy in the DR vault, the newest ElastiCache
 * automatic snapshot, the newest restore test of the DR copies that our validation passed. Each
 * check says whether the path is fresh; check-dr-readiness then publishes the path's heartbeat
 * (`EventChain/Backups BackupSucceeded`, Job = the path id), which infra/components/heartbeats.ts
 * alarms on in the region the job publishes in. The restore-test validation itself
 * (`PutRestoreValidationResult`) is here too: it is what makes a restore test count.
 */
import {
  BackupClient,
  ListRecoveryPointsByBackupVaultCommand,
  ListRestoreJobsCommand,
  ListRestoreTestingPlansCommand,
  PutRestoreValidationResultCommand,
  type RestoreJobsListMember,
} from "@aws-sdk/client-backup";
import { DescribeSnapshotsCommand, ElastiCacheClient } from "@aws-sdk/client-elasticache";
import { RDSClient } from "@aws-sdk/client-rds";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { AwsClients } from "./readiness-reads.ts";
import { describeInstance } from "./rds.ts";

/** One path's freshness: the newest success found and whether it is within `maxAgeMinutes`. */
export interface Freshness {
  path: string;
  /** False when the stack has no such path (no cache, no restore testing): neither drift nor heartbeat. */
  applies?: boolean;
  fresh: boolean;
  newest: string | null;
  detail: string;
}

const ageMinutes = (at: Date, now: Date) => Math.round((now.getTime() - at.getTime()) / 60_000);

function judge(path: string, newest: Date | undefined, maxAgeMinutes: number, now: Date, what: string): Freshness {
  if (!newest) return { path, fresh: false, newest: null, detail: `no ${what} found` };
  const age = ageMinutes(newest, now);
  return {
    path,
    fresh: age <= maxAgeMinutes,
    newest: newest.toISOString(),
    detail: `newest ${what} ${newest.toISOString()} (${age} min old; at most ${maxAgeMinutes} min allowed)`,
  };
}

/** The newest COMPLETED AWS Backup recovery point of prod's database in the DR vault (ListRecoveryPointsByBackupVault, DR region). */
export async function drCopyFreshness(
  aws: AwsClients,
  prod: StackOutputs,
  dr: StackOutputs,
  maxAgeMinutes: number,
  now: Date,
): Promise<Freshness> {
  const backup = aws(BackupClient, dr.region);
  let newest: Date | undefined;
  let NextToken: string | undefined;
  do {
    const r = await backup.send(
      new ListRecoveryPointsByBackupVaultCommand({
        BackupVaultName: dr.backup.vaultName,
        ByResourceType: "RDS",
        ...(prod.database.instanceArn ? { ByResourceArn: prod.database.instanceArn } : {}),
        NextToken,
      }),
    );
    for (const p of r.RecoveryPoints ?? [])
      if (
        p.Status === "COMPLETED" &&
        p.CreationDate &&
        (!prod.database.instanceArn || p.ResourceArn === prod.database.instanceArn) &&
        (!newest || p.CreationDate > newest)
      )
        newest = p.CreationDate;
    NextToken = r.NextToken;
  } while (NextToken);
  return judge(
    "aws-backup-dr-copies",
    newest,
    maxAgeMinutes,
    now,
    `completed copy in ${dr.backup.vaultName} (${dr.region})`,
  );
}

/** The newest ElastiCache automatic snapshot of prod's replication group (DescribeSnapshots, SnapshotSource system). */
export async function cacheSnapshotFreshness(
  aws: AwsClients,
  prod: StackOutputs,
  maxAgeMinutes: number,
  now: Date,
): Promise<Freshness> {
  const id = prod.cache.replicationGroupId;
  if (!id)
    return {
      path: "elasticache-snapshots",
      applies: false,
      fresh: false,
      newest: null,
      detail: "the stack names no replication group",
    };
  const ec = aws(ElastiCacheClient, prod.region);
  let newest: Date | undefined;
  let Marker: string | undefined;
  do {
    const r = await ec.send(new DescribeSnapshotsCommand({ ReplicationGroupId: id, SnapshotSource: "system", Marker }));
    for (const s of r.Snapshots ?? []) {
      if (s.SnapshotStatus && s.SnapshotStatus !== "available") continue;
      for (const n of s.NodeSnapshots ?? [])
        if (n.SnapshotCreateTime && (!newest || n.SnapshotCreateTime > newest)) newest = n.SnapshotCreateTime;
    }
    Marker = r.Marker;
  } while (Marker);
  return judge("elasticache-snapshots", newest, maxAgeMinutes, now, `automatic snapshot of ${id} (${prod.region})`);
}

/** The restore testing plan over the DR vault, by the name backup-plan.ts gives it; undefined when none. */
export async function drRestoreTestingPlanArn(
  aws: AwsClients,
  dr: StackOutputs,
  planName: string,
): Promise<string | undefined> {
  const backup = aws(BackupClient, dr.region);
  let NextToken: string | undefined;
  do {
    const r = await backup.send(new ListRestoreTestingPlansCommand({ NextToken }));
    const found = r.RestoreTestingPlans?.find((p) => p.RestoreTestingPlanName === planName);
    if (found) return found.RestoreTestingPlanArn;
    NextToken = r.NextToken;
  } while (NextToken);
  return undefined;
}

async function restoreJobs(backup: BackupClient, planArn: string): Promise<RestoreJobsListMember[]> {
  const out: RestoreJobsListMember[] = [];
  let NextToken: string | undefined;
  do {
    const r = await backup.send(
      new ListRestoreJobsCommand({ ByRestoreTestingPlanArn: planArn, ByStatus: "COMPLETED", NextToken }),
    );
    out.push(...(r.RestoreJobs ?? []));
    NextToken = r.NextToken;
  } while (NextToken);
  return out;
}

/** What our validation found for one restore test job, and what was reported back to AWS Backup. */
export interface Validation {
  restoreJobId: string;
  status: "SUCCESSFUL" | "FAILED" | "not reported";
  message: string;
}

/**
 * Our own verification of each completed restore test of the DR copies that has no validation
 * yet: the restored instance exists in the DR region, is available, runs prod's engine version,
 * is encrypted and holds prod's database name. The result goes back to AWS Backup
 * (`PutRestoreValidationResult`, DR region). A restored instance already deleted (its validation
 * window passed) is not reported: the job counts as unvalidated.
 */
export async function validateRestoreTests(
  aws: AwsClients,
  prod: StackOutputs,
  dr: StackOutputs,
  planArn: string,
  prodEngineVersion: string,
): Promise<Validation[]> {
  const backup = aws(BackupClient, dr.region);
  const rds = aws(RDSClient, dr.region);
  const out: Validation[] = [];
  for (const job of await restoreJobs(backup, planArn)) {
    if (!job.RestoreJobId || (job.ValidationStatus && job.ValidationStatus !== "VALIDATING")) continue;
    const id = job.CreatedResourceArn?.split(":db:")[1];
    const instance = id ? await describeInstance(rds, id) : undefined;
    if (!instance) {
      out.push({
        restoreJobId: job.RestoreJobId,
        status: "not reported",
        message: `restored instance ${id ?? "(none named)"} is gone from ${dr.region}`,
      });
      continue;
    }
    const problems = [
      instance.DBInstanceStatus !== "available" && `status ${instance.DBInstanceStatus}`,
      instance.EngineVersion !== prodEngineVersion &&
        `engine version ${instance.EngineVersion}, prod runs ${prodEngineVersion}`,
      instance.StorageEncrypted !== true && "storage not encrypted",
      instance.DBName !== prod.database.dbName &&
        `database name ${instance.DBName ?? "(none)"}, expected ${prod.database.dbName}`,
    ].filter((p): p is string => Boolean(p));
    const status = problems.length ? "FAILED" : "SUCCESSFUL";
    const message = problems.length
      ? `eventchain check-dr-readiness: ${problems.join("; ")}`
      : `eventchain check-dr-readiness: ${id} available, ${instance.EngineVersion}, encrypted, database ${instance.DBName}`;
    await backup.send(
      new PutRestoreValidationResultCommand({
        RestoreJobId: job.RestoreJobId,
        ValidationStatus: status,
        ValidationStatusMessage: message,
      }),
    );
    out.push({ restoreJobId: job.RestoreJobId, status, message });
  }
  return out;
}

/** The newest restore test of the plan whose validation passed (ours or an earlier run's). */
export async function restoreTestFreshness(
  aws: AwsClients,
  dr: StackOutputs,
  planArn: string | undefined,
  validated: Validation[],
  maxAgeMinutes: number,
  now: Date,
): Promise<Freshness> {
  if (!planArn)
    return {
      path: "restore-tests",
      fresh: false,
      newest: null,
      detail: `no restore testing plan over ${dr.backup.vaultName} in ${dr.region}`,
    };
  const passed = new Set(validated.filter((v) => v.status === "SUCCESSFUL").map((v) => v.restoreJobId));
  let newest: Date | undefined;
  for (const job of await restoreJobs(aws(BackupClient, dr.region), planArn)) {
    const ok =
      job.ValidationStatus === "SUCCESSFUL" || (job.RestoreJobId !== undefined && passed.has(job.RestoreJobId));
    const at = job.CompletionDate ?? job.CreationDate;
    if (ok && at && (!newest || at > newest)) newest = at;
  }
  return judge("restore-tests", newest, maxAgeMinutes, now, `validated restore test of the DR copies (${dr.region})`);
}
