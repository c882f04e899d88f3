/** The `primary` role: the data stores, their backups and copies; reads the dr stack's outputs. */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load.ts";
import type { StackOutputs } from "../outputs.ts";
import type { Context, StackOutputsInput } from "./common.ts";
import { common, ERROR_RATE_ALARM } from "./common.ts";
import { backupJobs } from "../components/backup-jobs.ts";
import { BackupPlan } from "../components/backup-plan.ts";
import { Cache } from "../components/cache.ts";
import { Database } from "../components/database.ts";
import { ImageReplication } from "../components/image-replication.ts";
import { KubernetesJobs } from "../components/kubernetes-jobs.ts";
import { LogicalBackups } from "../components/logical-backups.ts";
import { MediaReplication } from "../components/media-replication.ts";
import { BucketReplication } from "../components/replication.ts";

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
  const jobs = backupJobs(c.schedules);
  const permissions = {
    bucketArn: bucket.arn,
    bucketKeyArn: bucket.kmsKey.arn,
    masterSecretArn: db.instance.masterUserSecrets.apply((s) => s?.[0]?.secretArn ?? ""),
    databaseKeyArn: db.kmsKey.arn,
    replicationGroupId: redis.replicationGroup.replicationGroupId,
    region: c.region,
    accountId: ctx.accountId,
    jobs,
    stack: c.stack,
  };
  const k = c.kubernetes;
  const k8sJobs =
    k.enabled && k.oidcProviderArn && k.oidcIssuer
      ? new KubernetesJobs(
          "kubernetes-jobs",
          {
            ...permissions,
            namespace: k.namespace,
            oidcProviderArn: k.oidcProviderArn,
            oidcIssuer: k.oidcIssuer,
            image: pulumi.interpolate`${ctx.accountId}.dkr.ecr.${c.region}.amazonaws.com/${c.logicalBackups.repository}:${c.logicalBackups.imageTag}`,
            alarmTopicArn: alerts.topicArn,
          },
          opts,
        )
      : undefined;
  if (!k8sJobs) {
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
        alerts,
      },
      opts,
    );
  }
  const rule = c.replication.rules.find((r) => r.prefix === "media/") ?? c.replication.rules[0];
  return {
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
      masterSecretArn: permissions.masterSecretArn,
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
    cache: cache(redis.replicationGroup.replicationGroupId),
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
      errorRateAlarmName: ERROR_RATE_ALARM.primary,
    },
    alerts: { topicArn: alerts.topicArn },
    // The run journal lives in the DR region (declared by the dr stack): the same bucket for both.
    runJournal: peer("runJournal"),
    ecrRepositories,
    kubernetes: {
      enabled: Boolean(k8sJobs),
      namespace: k8sJobs ? k.namespace : null,
      appDeployment: k8sJobs ? k.appDeployment : null,
      cronJobs: k8sJobs ? k8sJobs.cronJobNames : [],
      serviceAccountRoleArn: k8sJobs ? k8sJobs.role.arn : null,
    },
  };
}
