/**
 * RDS helpers shared by the database runbooks: describe, restore settings, waits, checks, and
 * creates that happen once (`createInstanceOnce`, `createSnapshotOnce`): after a lost answer the
 * instance or snapshot is looked up before the call is sent again.
 */
import { sendIdempotent } from "../lib/aws.ts";
import { waiterTiming } from "./waiters.ts";
import {
  DBInstanceNotFoundFault,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type CopyDBSnapshotCommand,
  type CreateDBSnapshotCommand,
  type DBSnapshot,
  type RestoreDBInstanceFromDBSnapshotCommand,
  type RestoreDBInstanceToPointInTimeCommand,
  waitUntilDBInstanceAvailable,
  waitUntilDBSnapshotAvailable,
  type DBInstance,
  type RDSClient,
  type Tag,
} from "@aws-sdk/client-rds";
import type { DatabaseOutputs } from "../../contract/stack-outputs.ts";
import type { RestoreWindow } from "../lib/restore-engine.ts";

/** An instance by identifier, or undefined when RDS says it does not exist. */
export async function describeInstance(
  rds: RDSClient,
  id: string,
  abortSignal?: AbortSignal,
): Promise<DBInstance | undefined> {
  try {
    const res = await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }),
      abortSignal ? { abortSignal } : {},
    );
    return res.DBInstances?.[0];
  } catch (error) {
    if (
      error instanceof DBInstanceNotFoundFault ||
      (error as { name?: string }).name === "DBInstanceNotFoundFault" ||
      (error as { name?: string }).name === "DBInstanceNotFound"
    )
      return undefined;
    throw error;
  }
}

/** A snapshot by identifier, or undefined. */
export async function describeSnapshot(rds: RDSClient, id: string): Promise<DBSnapshot | undefined> {
  try {
    return (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))).DBSnapshots?.[0];
  } catch (error) {
    if ((error as { name?: string }).name === "DBSnapshotNotFoundFault") return undefined;
    throw error;
  }
}

/**
 * Sends a restore that creates instance `id`, once: a retry after a lost answer finds the
 * instance and takes it as the answer. Returns the created instance's status.
 */
export async function createInstanceOnce(
  rds: RDSClient,
  command: RestoreDBInstanceToPointInTimeCommand | RestoreDBInstanceFromDBSnapshotCommand,
  id: string,
): Promise<string> {
  const res = await sendIdempotent(rds, command, async () => {
    const i = await describeInstance(rds, id);
    return i ? { DBInstance: i, $metadata: {} } : undefined;
  });
  return (res as { DBInstance?: DBInstance }).DBInstance?.DBInstanceStatus ?? "unknown";
}

/** Sends a snapshot create or copy that makes snapshot `id`, once (see createInstanceOnce). */
export async function createSnapshotOnce(
  rds: RDSClient,
  command: CreateDBSnapshotCommand | CopyDBSnapshotCommand,
  id: string,
): Promise<void> {
  await sendIdempotent(rds, command, async () => ((await describeSnapshot(rds, id)) ? { $metadata: {} } : undefined));
}

/** Settings a restored instance must share with its source (from outputs, else the source). */
export interface RestoreSettings {
  DBInstanceClass: string;
  DBSubnetGroupName: string;
  VpcSecurityGroupIds: string[];
  DBParameterGroupName: string;
  MultiAZ: boolean;
}

export function settingsFromInstance(i: DBInstance): RestoreSettings {
  return {
    DBInstanceClass: i.DBInstanceClass!,
    DBSubnetGroupName: i.DBSubnetGroup?.DBSubnetGroupName ?? "",
    VpcSecurityGroupIds: (i.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).sort(),
    DBParameterGroupName: i.DBParameterGroups?.[0]?.DBParameterGroupName ?? "",
    MultiAZ: i.MultiAZ ?? false,
  };
}

export function settingsFromOutputs(db: DatabaseOutputs, multiAZ = true): RestoreSettings {
  return {
    DBInstanceClass: db.instanceClass,
    DBSubnetGroupName: db.subnetGroupName,
    VpcSecurityGroupIds: [...db.securityGroupIds].sort(),
    DBParameterGroupName: db.parameterGroupName,
    MultiAZ: multiAZ,
  };
}

/** Throws listing every setting of `instance` that differs from `expected`, and any public or unencrypted instance. */
export function checkInstance(instance: DBInstance, expected: RestoreSettings): void {
  const actual = settingsFromInstance(instance);
  const problems: string[] = [];
  for (const key of Object.keys(expected) as (keyof RestoreSettings)[]) {
    if (JSON.stringify(actual[key]) !== JSON.stringify(expected[key]))
      problems.push(`${key} is ${JSON.stringify(actual[key])}, expected ${JSON.stringify(expected[key])}`);
  }
  if (instance.PubliclyAccessible) problems.push("PubliclyAccessible is true, expected false");
  if (!instance.StorageEncrypted) problems.push("StorageEncrypted is false, expected true");
  if (instance.DBInstanceStatus !== "available")
    problems.push(`status is ${instance.DBInstanceStatus}, expected available`);
  if (problems.length) throw new Error(`${instance.DBInstanceIdentifier} does not match: ${problems.join("; ")}`);
}

/** `<base>-<tag>-<yyyymmddhhmmss>`, a valid RDS identifier (≤ 63 chars, letter first, no "--"). */
export function restoredIdentifier(base: string, tag: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const suffix = `-${tag}-${stamp}`;
  const head = base
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 63 - suffix.length)
    .replace(/-$/, "");
  return `${head || "db"}${suffix}`;
}

export function tags(runbook: string, runId: string, extra: Record<string, string> = {}): Tag[] {
  return Object.entries({
    "eventchain:restored-by": runbook,
    "eventchain:run-id": runId,
    "eventchain:managed-by": "runbook (not Pulumi)",
    ...extra,
  }).map(([Key, Value]) => ({ Key, Value }));
}

export async function waitInstanceAvailable(
  rds: RDSClient,
  id: string,
  maxWaitMinutes: number,
  signal?: AbortSignal,
): Promise<void> {
  await waitUntilDBInstanceAvailable(
    { client: rds, ...waiterTiming(maxWaitMinutes, 15, 60, signal) },
    { DBInstanceIdentifier: id },
  );
}

export async function waitSnapshotAvailable(
  rds: RDSClient,
  id: string,
  maxWaitMinutes: number,
  signal?: AbortSignal,
): Promise<void> {
  await waitUntilDBSnapshotAvailable(
    { client: rds, ...waiterTiming(maxWaitMinutes, 15, 60, signal) },
    { DBSnapshotIdentifier: id },
  );
}

/**
 * The restorable window of a running instance. Latest: the instance's LatestRestorableTime.
 * Earliest: its automated backups' RestoreWindow.EarliestTime when RDS reports it; otherwise
 * the later of the instance's creation and now − retention (the retention bound RDS enforces).
 */
export async function restoreWindowOf(
  rds: RDSClient,
  instance: DBInstance,
  now: Date = new Date(),
): Promise<RestoreWindow> {
  const id = instance.DBInstanceIdentifier!;
  if (!instance.LatestRestorableTime) {
    throw new Error(
      `${id} reports no LatestRestorableTime: automated backups are off (BackupRetentionPeriod ${instance.BackupRetentionPeriod ?? 0}) or not yet taken`,
    );
  }
  let earliest: Date | undefined;
  const backups = await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: id }));
  for (const b of backups.DBInstanceAutomatedBackups ?? []) {
    const e = b.RestoreWindow?.EarliestTime;
    if (e && (!earliest || e < earliest)) earliest = e;
  }
  if (!earliest) {
    const retentionStart = new Date(now.getTime() - (instance.BackupRetentionPeriod ?? 0) * 86_400_000);
    const created = instance.InstanceCreateTime ?? retentionStart;
    earliest = created > retentionStart ? created : retentionStart;
  }
  return { earliest, latest: instance.LatestRestorableTime, source: id };
}

/** Where a database-recovery restore starts from. */
export type RestorePoint =
  | {
      method: "source-instance";
      sourceInstanceId: string;
      restoreTime: string;
      recoveryPointAt: string;
      recoveryPointSource: string;
    }
  | {
      method: "retained-backups";
      sourceDbiResourceId: string;
      restoreTime: string;
      recoveryPointAt: string;
      recoveryPointSource: string;
    };

/**
 * The latest restorable point of the stack's database: the instance's LatestRestorableTime,
 * or — when the instance is gone — its retained automated backups' RestoreWindow.LatestTime
 * (kept because instances are deleted with `deleteAutomatedBackups: false`).
 */
export async function latestRestorePoint(
  rds: RDSClient,
  instanceId: string,
  resourceId: string | null,
): Promise<RestorePoint> {
  const instance = await describeInstance(rds, instanceId);
  if (instance?.LatestRestorableTime) {
    const t = instance.LatestRestorableTime.toISOString();
    return {
      method: "source-instance",
      sourceInstanceId: instanceId,
      restoreTime: t,
      recoveryPointAt: t,
      recoveryPointSource: `latest restorable time of ${instanceId}`,
    };
  }
  if (!resourceId)
    throw new Error(
      `${instanceId} ${instance ? "reports no LatestRestorableTime" : "does not exist"} and the outputs name no resourceId to find its retained automated backups`,
    );
  const res = await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: resourceId }));
  const latest = (res.DBInstanceAutomatedBackups ?? [])
    .filter((b) => b.DbiResourceId === resourceId && b.RestoreWindow?.LatestTime)
    .map((b) => b.RestoreWindow!.LatestTime!)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  if (!latest)
    throw new Error(
      `${instanceId} ${instance ? "reports no LatestRestorableTime" : "does not exist"} and no retained ` +
        `automated backups with a restore window were found for ${resourceId}: restore from the newest ` +
        `snapshot instead`,
    );
  const t = latest.toISOString();
  return {
    method: "retained-backups",
    sourceDbiResourceId: resourceId,
    restoreTime: t,
    recoveryPointAt: t,
    recoveryPointSource: `latest restorable time of the retained automated backups of ${instanceId}`,
  };
}
