/**
 * What both roles declare (alert topic, locked vault, backup bucket) and the pieces of the
 * outputs contract they share; the types the role builders use.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load.ts";
import { OUTPUTS_CONTRACT_VERSION, type StackOutputs } from "../../contract/stack-outputs.ts";
import { Alerts } from "../components/alerts.ts";
import { BackupBucket } from "../components/backup-bucket.ts";
import { BACKUP_PREFIXES } from "../../contract/backup-prefixes.ts";
import { Vault } from "../components/vault.ts";

/** `T` with every level allowed to be a Pulumi Input. */
export type Lifted<T> = T extends (infer U)[]
  ? pulumi.Input<Lifted<U>[]>
  : T extends object
    ? pulumi.Input<{ [K in keyof T]: Lifted<T[K]> }>
    : pulumi.Input<T>;
export type StackOutputsInput = { [K in keyof StackOutputs]: Lifted<StackOutputs[K]> };

/** Error-rate alarm names (`ErrorRateAlarm`, declared by each role in its region; the runbooks only enable their actions). */
export const ERROR_RATE_ALARM = {
  dr: "EventChain-DR-HighErrorRate",
  primary: "EventChain-Primary-HighErrorRate",
} as const;

export interface Context {
  c: StackConfig;
  opts: pulumi.CustomResourceOptions;
  peerProvider: aws.Provider;
  accountId: pulumi.Output<string>;
}

export function common(ctx: Context) {
  const { c } = ctx;
  const alerts = new Alerts(
    "alerts",
    { emails: c.alerts.emails, httpsEndpoints: c.alerts.httpsEndpoints, accountId: ctx.accountId },
    ctx.opts,
  );
  const vault = new Vault(
    "vault",
    {
      vaultName: `eventchain-${c.region}`,
      lockMode: c.backup.vaultLock.mode,
      minRetentionDays: c.backup.vaultLock.minRetentionDays,
      maxRetentionDays: c.backup.vaultLock.maxRetentionDays,
      changeableForDays: c.backup.vaultLock.changeableForDays,
    },
    ctx.opts,
  );
  const bucket = new BackupBucket(
    "backups",
    {
      retentionDays: c.backup.bucketRetentionDays,
      objectLockDays: c.backup.objectLockDays,
      region: c.region,
      accountId: ctx.accountId,
    },
    ctx.opts,
  );
  const base = {
    contractVersion: OUTPUTS_CONTRACT_VERSION,
    stack: c.stack,
    role: c.role,
    region: c.region,
    peerStack: c.peerStack,
    peerRegion: c.peerRegion,
    objectives: c.objectives,
    classification: c.classification,
  } as const;
  const backup = (planId: pulumi.Input<string> | null) => ({
    bucketName: bucket.bucketName,
    bucketArn: bucket.arn,
    kmsKeyArn: bucket.kmsKey.arn,
    prefixes: { ...BACKUP_PREFIXES },
    retentionDays: { ...c.backup.bucketRetentionDays },
    vaultName: vault.vault.name,
    vaultArn: vault.vault.arn,
    planId,
  });
  const cache = (replicationGroupId: pulumi.Input<string> | null, primaryEndpoint: pulumi.Input<string> | null) => ({
    replicationGroupId,
    primaryEndpoint,
    transitEncryption: true,
    snapshotRetentionDays: c.cache.snapshotRetentionDays,
    snapshotWindow: c.cache.snapshotWindow,
  });
  const database = {
    port: c.database.port,
    dbName: c.database.dbName,
    engineVersion: c.database.engineVersion,
    instanceClass: c.database.instanceClass,
    // What RDS keeps: with point-in-time recovery off there are no automated backups at all.
    backupRetentionDays: c.database.pointInTimeRecovery ? c.database.backupRetentionDays : 0,
    pointInTimeRecovery: c.database.pointInTimeRecovery,
  };
  const ecrRepositories = [...c.codeAndImages.repositories, c.logicalBackups.repository];
  return { alerts, vault, bucket, base, backup, cache, database, ecrRepositories };
}
