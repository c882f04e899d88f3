/** The `primary` role: the data stores, their backups and copies; reads the dr stack's outputs. */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/load.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { Context, StackOutputsInput } from "./common.ts";
import { common, ERROR_RATE_ALARM } from "./common.ts";
import { backupJobs, DR_READINESS_SCHEDULE, type BackupJob } from "../components/backup-jobs.ts";
import { awsBackupPaths, BackupHeartbeats, jobPath, verifiedPath } from "../components/heartbeats.ts";
import { heartbeatWindowMinutes, longestGapMinutes } from "../config/validators.ts";
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

type Peer = ReturnType<typeof peerOutputs>;
type Shared = ReturnType<typeof common>;

/**
 * The `primary` role, in phases read top to bottom: the data stores and their AWS Backup plan,
 * the copies into the DR region, the scheduled jobs, every path's heartbeat, the failover side,
 * the outputs, and the runner the jobs run on (it needs the outputs).
 */
export function buildPrimary(ctx: Context): StackOutputsInput {
  const shared = common(ctx);
  const peer = peerOutputs(ctx.c);
  const data = declareDataStores(ctx, shared, peer);
  const copies = declareCopiesToDr(ctx, shared, peer);
  const jobs = declareJobList(ctx, data);
  declareHeartbeats(ctx, shared, jobs);
  const failover = primaryFailover(ctx, peer, shared.alerts.topicArn, data.fence);
  const outputs = primaryOutputs(ctx, { shared, peer, data, copies, jobs, failover });
  declareJobRunner(ctx, shared, data, jobs, outputs);
  return outputs;
}

/** Phase 1: the jobs' security group, the fence group, the database, its AWS Backup plan, the cache. */
function declareDataStores(ctx: Context, shared: Shared, peer: Peer) {
  const { c, opts } = ctx;
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
      peerKmsKeyArn: peer("database").kmsKeyArn,
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
      vaultName: shared.vault.vault.name,
      vaultArn: shared.vault.vault.arn,
      databaseSchedule: c.schedules.databaseBackup,
      fullSchedule: c.schedules.fullBackup,
      retentionDays: c.backup.retentionDays,
      copyToVaultArn: c.backup.copyToPeer ? peer("backup").vaultArn : undefined,
      resourceArns: [db.instance.arn],
      accountId: ctx.accountId,
    },
    opts,
  );
  const redis = new Cache(
    "cache",
    { ...c.cache, vpcId: c.network.vpcId, subnetIds: c.network.privateSubnetIds, clientSecurityGroupIds: clients },
    opts,
  );
  const masterSecretArn = db.instance.masterUserSecrets.apply((s) => s?.[0]?.secretArn ?? "");
  return { jobsSecurityGroup, fence, db, plan, redis, masterSecretArn };
}
type DataStores = ReturnType<typeof declareDataStores>;

/** Phase 2: what is copied into the DR region — media, the logical backups, the images. */
function declareCopiesToDr(ctx: Context, shared: Shared, peer: Peer) {
  const { c, opts } = ctx;
  const peerMedia = peer("media");
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
      alarmTopicArn: shared.alerts.topicArn,
    },
    opts,
  );
  if (c.backup.replicateToPeer) {
    const peerBackup = peer("backup");
    // Every logical backup also lands in the DR region's locked bucket. Deletions do not follow.
    new BucketReplication(
      "backups",
      {
        sourceBucket: shared.bucket.bucketName,
        sourceArn: shared.bucket.arn,
        sourceKmsKeyArn: shared.bucket.kmsKey.arn,
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
        alarmTopicArn: shared.alerts.topicArn,
      },
      { ...opts, dependsOn: [shared.bucket.storage.versioning] },
    );
  }
  new ImageReplication(
    "images",
    { repositories: shared.ecrRepositories, destinationRegion: c.peerRegion, accountId: ctx.accountId },
    opts,
  );
  return { media };
}

/** A cron that runs on one day of the week, every week: `cron(m h ? * MON *)`. */
const WEEKLY = /^cron\(\S+ \S+ \? \* [A-Z]{3} \*\)$/;

/** Phase 3: the scheduled jobs (one list for both runners), the DR readiness check among them. */
function declareJobList(ctx: Context, data: DataStores) {
  const { c } = ctx;
  const k = c.kubernetes;
  return backupJobs({
    schedules: c.schedules,
    pulumiStateBucket: c.logicalBackups.pulumiStateBucket!,
    appConfigDirs: c.logicalBackups.appConfigDirs,
    appConfigFileSystemId: c.logicalBackups.appConfigFileSystemId,
    codeRepository: c.logicalBackups.codeRepository!,
    kubernetesScope: { apiGroups: k.exportApiGroups, secrets: k.exportSecrets },
    replicatedBackups: Boolean(data.db.replication),
    drReadiness: {
      maxCopyAgeMinutes: heartbeatWindowMinutes([c.schedules.databaseBackup, c.schedules.fullBackup]),
      maxSnapshotAgeMinutes: heartbeatWindowMinutes(["cron(0 0 * * ? *)"]),
      // The restore test's own gap (a weekly cron is 7 days; the parser bounds day-of-week crons
      // conservatively by a month), plus the 24 h start window and the 2 h validation window.
      maxRestoreTestAgeMinutes:
        (WEEKLY.test(c.schedules.restoreTest) ? 7 * 1440 : longestGapMinutes([c.schedules.restoreTest])) + 26 * 60,
    },
  });
}

/**
 * Phase 4: a heartbeat on every backup path of this stack, each alarm in the region its metric is
 * published in: AWS Backup's own jobs (AWS/Backup, this region), the scheduled jobs, and the
 * paths check-dr-readiness verifies (DR copies, ElastiCache automatic snapshots, ECR replication).
 * The restore tests' heartbeat is the dr stack's (published in the DR region).
 */
function declareHeartbeats(ctx: Context, shared: Shared, jobs: BackupJob[]) {
  const { c, opts } = ctx;
  new BackupHeartbeats(
    "heartbeats",
    {
      stack: c.stack,
      alarmTopicArn: shared.alerts.topicArn,
      paths: [
        ...awsBackupPaths({
          vaultName: shared.vault.vault.name,
          region: c.region,
          schedules: [c.schedules.databaseBackup, c.schedules.fullBackup],
        }),
        ...jobs.map((job) => jobPath(job, c.stack, c.region, c.peerRegion)),
        ...(c.backup.copyToPeer
          ? [verifiedPath("aws-backup-dr-copies", c.stack, c.region, DR_READINESS_SCHEDULE, ` (${c.peerRegion})`)]
          : []),
        ...(c.cache.snapshotRetentionDays > 0
          ? [verifiedPath("elasticache-snapshots", c.stack, c.region, DR_READINESS_SCHEDULE)]
          : []),
        verifiedPath("ecr-replication", c.stack, c.region, DR_READINESS_SCHEDULE, ` (to ${c.peerRegion})`),
      ],
    },
    opts,
  );
}

const JOBS_ROLE = (stack: string) => `eventchain-backup-jobs-${stack}`;

/** Phase 6: the outputs contract (contract/stack-outputs.ts) of the primary stack. */
function primaryOutputs(
  ctx: Context,
  p: {
    shared: Shared;
    peer: Peer;
    data: DataStores;
    copies: ReturnType<typeof declareCopiesToDr>;
    jobs: BackupJob[];
    failover: ReturnType<typeof primaryFailover>;
  },
): StackOutputsInput {
  const { c } = ctx;
  const { shared, peer, data, jobs, failover } = p;
  const { db, plan, redis } = data;
  const k = c.kubernetes;
  const onKubernetes = Boolean(k.enabled && k.oidcProviderArn && k.oidcIssuer);
  const rule = c.replication.rules.find((r) => r.prefix === "media/") ?? c.replication.rules[0];
  return {
    ...shared.base,
    database: {
      ...shared.database,
      instanceIdentifier: db.instance.identifier,
      instanceArn: db.instance.arn,
      resourceId: db.instance.resourceId,
      address: db.instance.address,
      subnetGroupName: db.subnetGroup.name,
      securityGroupIds: [db.securityGroup.id],
      parameterGroupName: db.parameterGroup.name,
      kmsKeyArn: db.kmsKey.arn,
      masterSecretArn: data.masterSecretArn,
      appConnectionSecretArn: db.appConnectionSecret.arn,
      replicatedBackupsArn: db.replication ? db.replication.id : null,
    },
    backup: shared.backup(plan.plan.id),
    media: {
      bucketName: p.copies.media.source.bucketName,
      replicaBucketName: peer("media").bucketName,
      replicationPrefix: rule?.prefix ?? "",
      rtcMinutes: rule?.rtcMinutes ?? null,
      kmsKeyArn: p.copies.media.kmsKey.arn,
    },
    cache: shared.cache(
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
    alerts: { topicArn: shared.alerts.topicArn },
    // The run journal lives in the DR region (declared by the dr stack): the same bucket for both.
    runJournal: peer("runJournal"),
    ecrRepositories: shared.ecrRepositories,
    kubernetes: {
      enabled: onKubernetes,
      namespace: onKubernetes ? k.namespace : null,
      appDeployment: onKubernetes ? k.appDeployment : null,
      cronJobs: onKubernetes ? jobs.map(cronJobName) : [],
      serviceAccountRoleArn: onKubernetes
        ? pulumi.interpolate`arn:aws:iam::${ctx.accountId}:role/${JOBS_ROLE(c.stack)}`
        : null,
    },
    failover: failover.outputs,
  };
}

/**
 * Phase 7: the runner of the scheduled jobs — Kubernetes CronJobs when the stack runs on
 * Kubernetes, else EventBridge Scheduler → ECS — with least-privilege permissions. Every job
 * reads the outputs from a file: no Pulumi CLI or state credentials where jobs run.
 */
function declareJobRunner(
  ctx: Context,
  shared: Shared,
  data: DataStores,
  jobs: BackupJob[],
  outputs: StackOutputsInput,
) {
  const { c, opts } = ctx;
  const { db, redis } = data;
  const k = c.kubernetes;
  const permissions = {
    bucketArn: shared.bucket.arn,
    bucketKeyArn: shared.bucket.kmsKey.arn,
    masterSecretArn: data.masterSecretArn,
    databaseKeyArn: db.kmsKey.arn,
    replicationGroupId: redis.replicationGroup.replicationGroupId,
    pulumiStateBucket: c.logicalBackups.pulumiStateBucket!,
    codeTokenSecretArn: c.logicalBackups.codeRepository?.tokenSecretArn,
    ecrRepositories: shared.ecrRepositories,
    ...(db.replication ? { replicatedBackupsArn: db.replication.id } : {}),
    appConfigFileSystemId: c.logicalBackups.appConfigFileSystemId,
    region: c.region,
    peerRegion: c.peerRegion,
    accountId: ctx.accountId,
    jobs,
    stack: c.stack,
    drReadiness: true,
  };
  const outputsJson = pulumi.jsonStringify(outputs);
  if (k.enabled && k.oidcProviderArn && k.oidcIssuer) {
    new KubernetesJobs(
      "kubernetes-jobs",
      {
        ...permissions,
        namespace: k.namespace,
        oidcProviderArn: k.oidcProviderArn,
        oidcIssuer: k.oidcIssuer,
        image: pulumi.interpolate`${ctx.accountId}.dkr.ecr.${c.region}.amazonaws.com/${c.logicalBackups.repository}:${c.logicalBackups.imageTag}`,
        roleName: JOBS_ROLE(c.stack),
        outputsJson,
        exportScope: { apiGroups: k.exportApiGroups, secrets: k.exportSecrets },
      },
      opts,
    );
    return;
  }
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
      securityGroupId: data.jobsSecurityGroup.id,
      outputsJson,
      alerts: shared.alerts,
    },
    opts,
  );
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
