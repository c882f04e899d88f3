/** The `primary` role: the data stores, their backups and copies; reads the dr stack's outputs. */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { Context, StackOutputsInput } from "./common.ts";
import { common, ERROR_RATE_ALARM } from "./common.ts";
import { backupJobs } from "../components/backup-jobs.ts";
import { awsBackupPaths, BackupHeartbeats, jobPath } from "../components/heartbeats.ts";
import { BackupPlan } from "../components/backup-plan.ts";
import { Cache } from "../components/cache.ts";
import { Database } from "../components/database.ts";
import { EndpointHealthAlarm } from "../components/endpoint-health-alarm.ts";
import { ErrorRateAlarm, loadBalancerArnSuffix } from "../components/error-rate-alarm.ts";
import { PrimaryFence } from "../components/primary-fence.ts";
import { declaredFence, type DeclaredFence, type LiveDatabase } from "../../contract/fence-record.ts";
import { ImageReplication } from "../components/image-replication.ts";
import { cronJobName, KubernetesJobs } from "../components/kubernetes-jobs.ts";
import { LogicalBackups } from "../components/logical-backups.ts";
import { MediaReplication } from "../components/media-replication.ts";
import { BucketReplication } from "../components/replication.ts";

/**
 * The primary database as it is live, read at every preview and up: whether it exists
 * (`aws.rds.getInstances`), then its tags and security groups (`aws.rds.getInstance`). A read
 * that fails fails the program: an instance it could not read is never taken as not fenced.
 */
export function liveDatabase(
  identifier: string,
  provider: pulumi.ProviderResource | undefined,
): pulumi.Output<LiveDatabase | undefined> {
  return pulumi.output(readLiveDatabase(identifier, provider));
}

/** `liveDatabase`'s reads, as a promise. */
export async function readLiveDatabase(
  identifier: string,
  provider: pulumi.ProviderResource | undefined,
): Promise<LiveDatabase | undefined> {
  try {
    const found = await aws.rds.getInstances(
      { filters: [{ name: "db-instance-id", values: [identifier] }] },
      { provider },
    );
    if (!found.instanceIdentifiers.some((id) => id.toLowerCase() === identifier.toLowerCase())) return undefined;
    const instance = await aws.rds.getInstance({ dbInstanceIdentifier: identifier }, { provider });
    return { identifier, tags: instance.tags ?? {}, securityGroupIds: instance.vpcSecurityGroups ?? [] };
  } catch (error) {
    throw new Error(
      `cannot read whether ${identifier} is fenced (its tags and security groups): ${(error as Error).message}. Nothing is declared for it without knowing; fix the read and run again`,
      { cause: error },
    );
  }
}

/** The fence the program keeps declared (contract/fence-record.ts), from the live instance and the stack's fence group. */
function liveFence(
  stack: string,
  live: pulumi.Output<LiveDatabase | undefined>,
  fence: PrimaryFence,
): pulumi.Output<DeclaredFence | undefined> {
  // Not there (the first up): nothing to keep, and no wait for the fence group's id.
  return live.apply((l): pulumi.Output<DeclaredFence | undefined> =>
    l ? fence.securityGroup.id.apply((id) => declaredFence(stack, l, [id])) : pulumi.output(undefined),
  );
}

/** The peer (dr) stack's outputs, through a StackReference. */
function peerOutputs(c: StackConfig) {
  const name = c.peerStack.includes("/")
    ? c.peerStack
    : `${pulumi.getOrganization()}/${pulumi.getProject()}/${c.peerStack}`;
  const ref = new pulumi.StackReference(name);
  return <K extends keyof StackOutputs>(key: K) => ref.requireOutput(key) as pulumi.Output<StackOutputs[K]>;
}

export function buildPrimary(ctx: Context): StackOutputsInput {
  const { c, opts } = ctx;
  const { alerts, vault, bucket, base, backup, cache, database, ecrRepositories } = common(ctx);
  const peer = peerOutputs(c);
  const peerDatabase = peer("database");
  const peerMedia = peer("media");
  const jobsSecurityGroup = new aws.ec2.SecurityGroup(
    "backup-jobs-sg",
    {
      vpcId: c.network.vpcId,
      description: "Logical-backup jobs: outbound only",
      egress: [
        {
          protocol: "-1",
          fromPort: 0,
          toPort: 0,
          cidrBlocks: ["0.0.0.0/0"],
          description: "database, cache, S3, AWS APIs",
        },
      ],
    },
    opts,
  );
  const clients = [...c.network.appSecurityGroupIds, jobsSecurityGroup.id];
  const fence = new PrimaryFence("primary-fence", { vpcId: c.network.vpcId }, opts);
  const db = new Database(
    "database",
    {
      ...c.database,
      replicateToPeer: c.database.replicateBackupsToPeer,
      peerKmsKeyArn: peerDatabase.kmsKeyArn,
      vpcId: c.network.vpcId,
      subnetIds: c.network.privateSubnetIds,
      clientSecurityGroupIds: clients,
      peerProvider: ctx.peerProvider,
      fence: liveFence(c.stack, liveDatabase(c.database.identifier, opts.provider), fence),
    },
    opts,
  );
  const plan = new BackupPlan(
    "backup-plan",
    {
      planName: `eventchain-${c.stack}`,
      vaultName: vault.vault.name,
      vaultArn: vault.vault.arn,
      databaseSchedule: c.schedules.databaseBackup,
      fullSchedule: c.schedules.fullBackup,
      retentionDays: c.backup.retentionDays,
      copyToVaultArn: c.backup.copyToPeer ? peer("backup").vaultArn : undefined,
      resourceArns: [db.instance.arn],
      accountId: ctx.accountId,
      restoreTestSchedule: c.backup.restoreTesting ? c.schedules.restoreTest : undefined,
      restoreTest: { dbSubnetGroupName: db.subnetGroup.name, instanceClass: "db.t4g.medium" },
    },
    opts,
  );
  const media = new MediaReplication(
    "media",
    {
      rules: c.replication.rules,
      destinationBucketName: peerMedia.bucketName,
      destinationKmsKeyArn: peerMedia.apply((m) => {
        if (!m.kmsKeyArn)
          throw new Error(
            `stack ${c.peerStack} exports no media.kmsKeyArn: deploy it (pulumi up -s ${c.peerStack}) before ${c.stack}`,
          );
        return m.kmsKeyArn;
      }),
      accountId: ctx.accountId,
      alarmTopicArn: alerts.topicArn,
    },
    opts,
  );
  if (c.backup.replicateToPeer) {
    const peerBackup = peer("backup");
    // Every logical backup also lands in the DR region's locked bucket. Deletions do not follow.
    new BucketReplication(
      "backups",
      {
        sourceBucket: bucket.bucketName,
        sourceArn: bucket.arn,
        sourceKmsKeyArn: bucket.kmsKey.arn,
        objectLock: true,
        destinationBucketName: peerBackup.bucketName,
        destinationKmsKeyArn: peerBackup.kmsKeyArn,
        rules: [
          {
            id: "EventChainBackupCopies",
            prefix: "",
            storageClass: "STANDARD",
            rtcMinutes: 15,
            metricsMinutes: 15,
            deleteMarkers: false,
          },
        ],
        accountId: ctx.accountId,
        alarmTopicArn: alerts.topicArn,
      },
      { ...opts, dependsOn: [bucket.storage.versioning] },
    );
  }
  const redis = new Cache(
    "cache",
    { ...c.cache, vpcId: c.network.vpcId, subnetIds: c.network.privateSubnetIds, clientSecurityGroupIds: clients },
    opts,
  );
  new ImageReplication(
    "images",
    { repositories: ecrRepositories, destinationRegion: c.peerRegion, accountId: ctx.accountId },
    opts,
  );
  const k = c.kubernetes;
  const onKubernetes = Boolean(k.enabled && k.oidcProviderArn && k.oidcIssuer);
  const jobs = backupJobs({
    schedules: c.schedules,
    pulumiStateBucket: c.logicalBackups.pulumiStateBucket!,
    appConfigDirs: c.logicalBackups.appConfigDirs,
    appConfigFileSystemId: c.logicalBackups.appConfigFileSystemId,
    codeRepository: c.logicalBackups.codeRepository!,
    kubernetesScope: { apiGroups: k.exportApiGroups, secrets: k.exportSecrets },
    replicatedBackups: Boolean(db.replication),
  });
  const masterSecretArn = db.instance.masterUserSecrets.apply((s) => s?.[0]?.secretArn ?? "");
  const permissions = {
    bucketArn: bucket.arn,
    bucketKeyArn: bucket.kmsKey.arn,
    masterSecretArn,
    databaseKeyArn: db.kmsKey.arn,
    replicationGroupId: redis.replicationGroup.replicationGroupId,
    pulumiStateBucket: c.logicalBackups.pulumiStateBucket!,
    codeTokenSecretArn: c.logicalBackups.codeRepository?.tokenSecretArn,
    ecrRepositories,
    ...(db.replication ? { replicatedBackupsArn: db.replication.id } : {}),
    appConfigFileSystemId: c.logicalBackups.appConfigFileSystemId,
    region: c.region,
    peerRegion: c.peerRegion,
    accountId: ctx.accountId,
    jobs,
    stack: c.stack,
  };
  const peerBackup = peer("backup");
  new BackupHeartbeats(
    "heartbeats",
    {
      stack: c.stack,
      alarmTopicArn: alerts.topicArn,
      paths: [
        ...awsBackupPaths({
          vaultName: vault.vault.name,
          copyVaultName: c.backup.copyToPeer ? peerBackup.vaultName : undefined,
          peerRegion: c.peerRegion,
          schedules: [c.schedules.databaseBackup, c.schedules.fullBackup],
        }),
        ...jobs.map((job) => jobPath(job, c.stack, c.peerRegion)),
      ],
    },
    opts,
  );
  const jobsRoleName = `eventchain-backup-jobs-${c.stack}`;
  const failover = primaryFailover(ctx, peer, alerts.topicArn, fence);
  const rule = c.replication.rules.find((r) => r.prefix === "media/") ?? c.replication.rules[0];
  const outputs: StackOutputsInput = {
    ...base,
    database: {
      ...database,
      instanceIdentifier: db.instance.identifier,
      instanceArn: db.instance.arn,
      resourceId: db.instance.resourceId,
      address: db.instance.address,
      subnetGroupName: db.subnetGroup.name,
      securityGroupIds: [db.securityGroup.id],
      parameterGroupName: db.parameterGroup.name,
      kmsKeyArn: db.kmsKey.arn,
      masterSecretArn,
      appConnectionSecretArn: db.appConnectionSecret.arn,
      replicatedBackupsArn: db.replication ? db.replication.id : null,
    },
    backup: backup(plan.plan.id),
    media: {
      bucketName: media.source.bucketName,
      replicaBucketName: peerMedia.bucketName,
      replicationPrefix: rule?.prefix ?? "",
      rtcMinutes: rule?.rtcMinutes ?? null,
      kmsKeyArn: media.kmsKey.arn,
    },
    cache: cache(
      redis.replicationGroup.replicationGroupId,
      pulumi.interpolate`${redis.replicationGroup.primaryEndpointAddress}:6379`,
    ),
    // DNS failover is declared by the dr stack (it needs both targets); prod re-exports it.
    dns: peer("dns"),
    services: {
      clusterName: c.services.clusterName,
      loadBalancerDnsName: c.dns.primaryTarget,
      services: (["backend", "frontend"] as const).map((s) => ({
        name: c.services[s].name,
        recoveryCount: c.services[s].recoveryCount,
        targetGroupArn: c.services[s].targetGroupArn ?? "",
      })),
      errorRateAlarmName: failover.errorRateAlarmName,
    },
    alerts: { topicArn: alerts.topicArn },
    // The run journal lives in the DR region (declared by the dr stack): the same bucket for both.
    runJournal: peer("runJournal"),
    ecrRepositories,
    kubernetes: {
      enabled: onKubernetes,
      namespace: onKubernetes ? k.namespace : null,
      appDeployment: onKubernetes ? k.appDeployment : null,
      cronJobs: onKubernetes ? jobs.map(cronJobName) : [],
      serviceAccountRoleArn: onKubernetes
        ? pulumi.interpolate`arn:aws:iam::${ctx.accountId}:role/${jobsRoleName}`
        : null,
    },
    failover: failover.outputs,
  };
  // Every job reads these outputs from a file: no Pulumi CLI or state credentials where jobs run.
  const outputsJson = pulumi.jsonStringify(outputs);
  if (onKubernetes) {
    new KubernetesJobs(
      "kubernetes-jobs",
      {
        ...permissions,
        namespace: k.namespace,
        oidcProviderArn: k.oidcProviderArn!,
        oidcIssuer: k.oidcIssuer!,
        image: pulumi.interpolate`${ctx.accountId}.dkr.ecr.${c.region}.amazonaws.com/${c.logicalBackups.repository}:${c.logicalBackups.imageTag}`,
        roleName: jobsRoleName,
        outputsJson,
        exportScope: { apiGroups: k.exportApiGroups, secrets: k.exportSecrets },
      },
      opts,
    );
  } else {
    new LogicalBackups(
      "logical-backups",
      {
        ...permissions,
        clusterName: c.services.clusterName,
        repository: c.logicalBackups.repository,
        imageTag: c.logicalBackups.imageTag,
        cpu: c.logicalBackups.cpu,
        memoryMiB: c.logicalBackups.memoryMiB,
        subnetIds: c.network.privateSubnetIds,
        securityGroupId: jobsSecurityGroup.id,
        outputsJson,
        alerts,
      },
      opts,
    );
  }
  return outputs;
}

/**
 * The primary side of the failover (docs/failover-switch.md): the page when the endpoint fails its
 * health check (Route 53 metrics live in us-east-1, with this stack), the primary's error-rate
 * alarm (same definition as DR's), and the fence for the old primary database. The switch and the
 * records are the dr stack's; prod re-exports them with its own fence.
 */
function primaryFailover(
  ctx: Context,
  peer: <K extends keyof StackOutputs>(key: K) => pulumi.Output<StackOutputs[K]>,
  topicArn: pulumi.Input<string>,
  fence: PrimaryFence,
) {
  const { c, opts } = ctx;
  const peerDns = peer("dns");
  new EndpointHealthAlarm(
    "endpoint-health",
    { healthCheckId: peerDns.primaryHealthCheckId, recordName: c.dns.recordName, alarmTopicArn: topicArn },
    opts,
  );
  const errorRate = new ErrorRateAlarm(
    "error-rate",
    {
      alarmName: ERROR_RATE_ALARM.primary,
      where: "primary region",
      loadBalancerArnSuffix: loadBalancerArnSuffix(c.services.loadBalancerArn ?? ""),
      thresholdPercent: c.services.errorRateThresholdPercent,
      alarmTopicArn: topicArn,
    },
    opts,
  );
  return {
    errorRateAlarmName: errorRate.alarm.name,
    outputs: pulumi
      .all([peer("failover"), fence.securityGroup.id])
      .apply(([f, fenceId]) => ({ ...f, fenceSecurityGroupIds: [fenceId] })),
  };
}
