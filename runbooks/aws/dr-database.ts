/**
 * Restoring the primary database in the DR region: from the automated backups replicated
 * there (latest restorable time), or failing that from the newest snapshot COPIED there.
 * (The plan looked for snapshots in the DR region that nothing had copied.)
 */
import {
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBSnapshotsCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBSnapshot,
  type RDSClient,
} from "@aws-sdk/client-rds";
import { errorMessage } from "../lib/errors.ts";
import type { Logger } from "../lib/types.ts";
import { tags, type RestoreSettings } from "./rds.ts";

export type RecoverySource =
  | {
      method: "replicated-backups";
      automatedBackupsArn: string;
      restoreTime: string;
      earliest: string | null;
      recoveryPointAt: string;
      recoveryPointSource: string;
    }
  | {
      method: "copied-snapshot";
      snapshotId: string;
      snapshotArn: string | null;
      recoveryPointAt: string;
      recoveryPointSource: string;
    };

/** Picks the best source in the DR region; throws when there is none. */
export async function findRecoverySource(
  rds: RDSClient,
  region: string,
  sourceInstanceId: string,
  replicatedBackupsArn: string | null,
  log: Logger,
): Promise<RecoverySource> {
  if (replicatedBackupsArn) {
    try {
      const res = await rds.send(
        new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceAutomatedBackupsArn: replicatedBackupsArn }),
      );
      const b = (res.DBInstanceAutomatedBackups ?? []).find((x) => x.RestoreWindow?.LatestTime);
      if (b?.RestoreWindow?.LatestTime) {
        const latest = b.RestoreWindow.LatestTime.toISOString();
        return {
          method: "replicated-backups",
          automatedBackupsArn: b.DBInstanceAutomatedBackupsArn ?? replicatedBackupsArn,
          restoreTime: latest,
          earliest: b.RestoreWindow.EarliestTime?.toISOString() ?? null,
          recoveryPointAt: latest,
          recoveryPointSource: `latest restorable time of the automated backups replicated to ${region}`,
        };
      }
      log.warn(
        `no replicated automated backups with a restore window in ${region} (${replicatedBackupsArn}); falling back to the newest copied snapshot`,
      );
    } catch (error) {
      log.warn(
        `cannot read replicated automated backups in ${region}: ${errorMessage(error)}; falling back to the newest copied snapshot`,
      );
    }
  }
  const snaps: DBSnapshot[] = [];
  let marker: string | undefined;
  do {
    const res = await rds.send(
      new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: sourceInstanceId, Marker: marker }),
    );
    snaps.push(...(res.DBSnapshots ?? []));
    marker = res.Marker;
  } while (marker);
  const usable = snaps
    .filter((s) => s.Status === "available" && s.DBInstanceIdentifier === sourceInstanceId)
    .map((s) => ({ s, at: s.OriginalSnapshotCreateTime ?? s.SnapshotCreateTime }))
    .filter((x): x is { s: DBSnapshot; at: Date } => x.at instanceof Date)
    .sort((a, b) => b.at.getTime() - a.at.getTime());
  const newest = usable[0];
  if (!newest) {
    throw new Error(
      `nothing to restore ${sourceInstanceId} from in ${region}: no replicated automated backups${replicatedBackupsArn ? ` (${replicatedBackupsArn})` : ""} and no available snapshot copied there; check backup replication with the posture report`,
    );
  }
  return {
    method: "copied-snapshot",
    snapshotId: newest.s.DBSnapshotIdentifier!,
    snapshotArn: newest.s.DBSnapshotArn ?? null,
    recoveryPointAt: newest.at.toISOString(),
    recoveryPointSource: `snapshot ${newest.s.DBSnapshotIdentifier} copied to ${region}`,
  };
}

/**
 * Starts the restore of `source` into `targetId` with the DR stack's settings; private and
 * deletion-protected. Encryption follows the source: replicated backups and copied snapshots are
 * already encrypted with the DR region's key (chosen when replication/copy was set up).
 */
export async function restoreInRegion(
  rds: RDSClient,
  source: RecoverySource,
  targetId: string,
  settings: RestoreSettings,
  runbook: string,
  runId: string,
): Promise<string> {
  const common = {
    ...settings,
    PubliclyAccessible: false,
    DeletionProtection: true,
    CopyTagsToSnapshot: true,
    Tags: tags(runbook, runId, { "eventchain:restored-from": source.method }),
  };
  if (source.method === "replicated-backups") {
    const res = await rds.send(
      new RestoreDBInstanceToPointInTimeCommand({
        SourceDBInstanceAutomatedBackupsArn: source.automatedBackupsArn,
        TargetDBInstanceIdentifier: targetId,
        RestoreTime: new Date(source.restoreTime),
        ...common,
      }),
    );
    return res.DBInstance?.DBInstanceStatus ?? "unknown";
  }
  const res = await rds.send(
    new RestoreDBInstanceFromDBSnapshotCommand({
      DBSnapshotIdentifier: source.snapshotArn ?? source.snapshotId,
      DBInstanceIdentifier: targetId,
      ...common,
    }),
  );
  return res.DBInstance?.DBInstanceStatus ?? "unknown";
}
