/**
 * Restoring the primary database in the DR region from the newest point among every source there:
 * the automated backups replicated there (latest restorable time), the DR vault's AWS Backup
 * recovery points (the copies the primary's backup plan makes; also visible to RDS as snapshots
 * of type "awsbackup"), and snapshots copied there by hand. Only DR-region APIs are called.
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
import {
  ListRecoveryPointsByBackupVaultCommand,
  type BackupClient,
  type RecoveryPointByBackupVault,
} from "@aws-sdk/client-backup";
import { errorMessage } from "../lib/errors.ts";
import type { Logger } from "../lib/types.ts";
import { tags, type RestoreSettings } from "./rds.ts";

interface SourceCommon {
  recoveryPointAt: string;
  recoveryPointSource: string;
  /** Every source looked at and what it held, one line each (the report says which won and why). */
  considered?: string[];
}

export type RecoverySource =
  | (SourceCommon & {
      method: "replicated-backups";
      automatedBackupsArn: string;
      restoreTime: string;
      earliest: string | null;
    })
  | (SourceCommon & {
      method: "copied-snapshot" | "aws-backup";
      snapshotId: string;
      snapshotArn: string | null;
      /** The AWS Backup recovery point (method aws-backup, when the Backup API answered). */
      recoveryPointArn?: string;
      vaultName?: string;
    });

export interface FindSourceInput {
  rds: RDSClient;
  /** AWS Backup in the DR region, with the DR vault; omit to skip recovery points. */
  backup?: { client: BackupClient; vaultName: string };
  region: string;
  sourceInstanceId: string;
  /** ARN of the primary instance (AWS Backup recovery points name it as their resource). */
  sourceInstanceArn: string | null;
  replicatedBackupsArn: string | null;
  log: Logger;
}

type Candidate = { at: Date; source: RecoverySource };

// Long on purpose: one block per recovery source the DR region may hold, each read and weighed the same way.
/** Picks the newest point among every source in the DR region; throws when there is none. */
export async function findRecoverySource(input: FindSourceInput): Promise<RecoverySource> {
  const { rds, region, sourceInstanceId, log } = input;
  const considered: string[] = [];
  const candidates: Candidate[] = [];

  let replicated: Candidate | undefined;
  let unreadable = false;
  try {
    replicated = await replicatedBackups(input);
  } catch (error) {
    unreadable = true;
    log.warn(
      `cannot read replicated automated backups in ${region}: ${errorMessage(error)}; looking at the other sources`,
    );
    considered.push(`replicated automated backups: unreadable (${errorMessage(error)})`);
  }
  if (replicated) {
    candidates.push(replicated);
    considered.push(`replicated automated backups: restorable up to ${replicated.at.toISOString()}`);
  } else if (!unreadable && input.replicatedBackupsArn) {
    log.warn(
      `no replicated automated backups with a restore window in ${region} (${input.replicatedBackupsArn}); looking at the other sources`,
    );
    considered.push(`replicated automated backups: none with a restore window (${input.replicatedBackupsArn})`);
  } else if (!unreadable) {
    considered.push("replicated automated backups: none declared");
  }

  const [snapshots, points] = await Promise.all([
    listSnapshots(rds, sourceInstanceId).catch((error) => {
      log.warn(`cannot list snapshots of ${sourceInstanceId} in ${region}: ${errorMessage(error)}`);
      considered.push(`snapshots in ${region}: unreadable (${errorMessage(error)})`);
      return [] as DBSnapshot[];
    }),
    input.backup
      ? listRecoveryPoints(input.backup.client, input.backup.vaultName).catch((error) => {
          log.warn(
            `cannot list AWS Backup recovery points in vault ${input.backup!.vaultName} (${region}): ${errorMessage(error)}`,
          );
          considered.push(`AWS Backup vault ${input.backup!.vaultName}: unreadable (${errorMessage(error)})`);
          return undefined;
        })
      : Promise.resolve(undefined),
  ]);

  const byArn = new Map(snapshots.filter((s) => s.DBSnapshotArn).map((s) => [s.DBSnapshotArn!, s]));
  const claimed = new Set<string>();
  if (points && input.backup) {
    const mine = points.filter((p) => p.Status === "COMPLETED" && isOf(p.ResourceArn, input));
    considered.push(
      `AWS Backup vault ${input.backup.vaultName}: ${mine.length} completed recovery point(s) of ${sourceInstanceId}`,
    );
    for (const p of mine) {
      const snap = byArn.get(p.RecoveryPointArn ?? "");
      const at = (snap && snapshotTime(snap)) ?? p.CreationDate;
      if (!p.RecoveryPointArn || !(at instanceof Date)) continue;
      claimed.add(p.RecoveryPointArn);
      candidates.push({
        at,
        source: {
          method: "aws-backup",
          snapshotId: p.RecoveryPointArn,
          snapshotArn: p.RecoveryPointArn,
          recoveryPointArn: p.RecoveryPointArn,
          vaultName: input.backup.vaultName,
          recoveryPointAt: at.toISOString(),
          recoveryPointSource: `AWS Backup recovery point ${p.RecoveryPointArn} in vault ${input.backup.vaultName} (${region})`,
        },
      });
    }
  }
  const usable = snapshots.filter(
    (s) => s.Status === "available" && s.DBInstanceIdentifier === sourceInstanceId && snapshotTime(s),
  );
  const viaRds = usable.filter((s) => s.SnapshotType === "awsbackup" && !claimed.has(s.DBSnapshotArn ?? ""));
  const copied = usable.filter((s) => s.SnapshotType !== "awsbackup" && !claimed.has(s.DBSnapshotArn ?? ""));
  considered.push(
    `AWS Backup snapshots seen by RDS in ${region}: ${usable.filter((s) => s.SnapshotType === "awsbackup").length}`,
  );
  considered.push(`snapshots copied to ${region}: ${copied.length} available`);
  for (const s of viaRds)
    candidates.push({
      at: snapshotTime(s)!,
      source: {
        method: "aws-backup",
        snapshotId: s.DBSnapshotIdentifier!,
        snapshotArn: s.DBSnapshotArn ?? null,
        recoveryPointAt: snapshotTime(s)!.toISOString(),
        recoveryPointSource: `AWS Backup snapshot ${s.DBSnapshotIdentifier} (${region}, listed by RDS)`,
      },
    });
  for (const s of copied)
    candidates.push({
      at: snapshotTime(s)!,
      source: {
        method: "copied-snapshot",
        snapshotId: s.DBSnapshotIdentifier!,
        snapshotArn: s.DBSnapshotArn ?? null,
        recoveryPointAt: snapshotTime(s)!.toISOString(),
        recoveryPointSource: `snapshot ${s.DBSnapshotIdentifier} copied to ${region}`,
      },
    });

  // Newest point first; on a tie, point-in-time restore, then AWS Backup, then a hand copy.
  const rank = { "replicated-backups": 0, "aws-backup": 1, "copied-snapshot": 2 } as const;
  candidates.sort((a, b) => b.at.getTime() - a.at.getTime() || rank[a.source.method] - rank[b.source.method]);
  const best = candidates[0];
  if (!best) {
    throw new Error(
      `nothing to restore ${sourceInstanceId} from in ${region}: no replicated automated ` +
        `backups${input.replicatedBackupsArn ? ` (${input.replicatedBackupsArn})` : ""}, no AWS Backup ` +
        `recovery point${input.backup ? ` in vault ${input.backup.vaultName}` : ""} and no available ` +
        `snapshot copied there (${considered.join("; ")}); check backup replication with the posture report`,
    );
  }
  return { ...best.source, considered };
}

async function replicatedBackups(input: FindSourceInput): Promise<Candidate | undefined> {
  if (!input.replicatedBackupsArn) return undefined;
  const res = await input.rds.send(
    new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceAutomatedBackupsArn: input.replicatedBackupsArn }),
  );
  const b = (res.DBInstanceAutomatedBackups ?? []).find((x) => x.RestoreWindow?.LatestTime);
  if (!b?.RestoreWindow?.LatestTime) return undefined;
  const latest = b.RestoreWindow.LatestTime.toISOString();
  return {
    at: b.RestoreWindow.LatestTime,
    source: {
      method: "replicated-backups",
      automatedBackupsArn: b.DBInstanceAutomatedBackupsArn ?? input.replicatedBackupsArn,
      restoreTime: latest,
      earliest: b.RestoreWindow.EarliestTime?.toISOString() ?? null,
      recoveryPointAt: latest,
      recoveryPointSource: `latest restorable time of the automated backups replicated to ${input.region}`,
    },
  };
}

/** Manual (copied) and AWS Backup snapshots of the instance in this region. */
async function listSnapshots(rds: RDSClient, instanceId: string): Promise<DBSnapshot[]> {
  const out = new Map<string, DBSnapshot>();
  for (const SnapshotType of ["manual", "awsbackup"]) {
    let marker: string | undefined;
    do {
      const res = await rds.send(
        new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: instanceId, SnapshotType, Marker: marker }),
      );
      for (const s of res.DBSnapshots ?? []) out.set(s.DBSnapshotArn ?? s.DBSnapshotIdentifier ?? "", s);
      marker = res.Marker;
    } while (marker);
  }
  return [...out.values()];
}

async function listRecoveryPoints(backup: BackupClient, vaultName: string): Promise<RecoveryPointByBackupVault[]> {
  const out: RecoveryPointByBackupVault[] = [];
  let token: string | undefined;
  do {
    const res = await backup.send(
      new ListRecoveryPointsByBackupVaultCommand({
        BackupVaultName: vaultName,
        ByResourceType: "RDS",
        NextToken: token,
      }),
    );
    out.push(...(res.RecoveryPoints ?? []));
    token = res.NextToken;
  } while (token);
  return out;
}

/** When the data in a snapshot is from: the original's creation time for a copy. */
const snapshotTime = (s: DBSnapshot): Date | undefined => s.OriginalSnapshotCreateTime ?? s.SnapshotCreateTime;

/** A recovery point of the primary instance: its ARN, or (ARN unknown) its identifier. */
function isOf(resourceArn: string | undefined, input: FindSourceInput): boolean {
  if (!resourceArn) return false;
  return input.sourceInstanceArn
    ? resourceArn === input.sourceInstanceArn
    : resourceArn.endsWith(`:db:${input.sourceInstanceId}`);
}

/**
 * Starts the restore of `source` into `targetId` with the DR stack's settings; private and
 * deletion-protected. Encryption follows the source: replicated backups, AWS Backup copies and
 * copied snapshots are already encrypted with the DR region's key.
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
