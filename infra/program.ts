/**
 * The program: given a validated `StackConfig`, declares the stack for its role and returns
 * the stack outputs in exactly the `outputs.ts` shape. `dr` depends on nothing; `prod` reads
 * what it needs from `dr` through a StackReference (no cycle).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config.ts";
import { OUTPUTS_CONTRACT_VERSION, type StackOutputs } from "./outputs.ts";
import { Alerts } from "./components/alerts.ts";
import { BACKUP_PREFIXES, BackupBucket } from "./components/backup-bucket.ts";
import { backupJobs } from "./components/backup-jobs.ts";
import { BackupPlan } from "./components/backup-plan.ts";
import { Cache } from "./components/cache.ts";
import { Database } from "./components/database.ts";
import { DnsFailover } from "./components/dns-failover.ts";
import { ImageReplication } from "./components/image-replication.ts";
import { KubernetesJobs } from "./components/kubernetes-jobs.ts";
import { LogicalBackups } from "./components/logical-backups.ts";
import { MediaReplica, MediaReplication } from "./components/media-replication.ts";
import { PilotLight } from "./components/pilot-light.ts";
import { RestoreLanding } from "./components/restore-landing.ts";
import { Vault } from "./components/vault.ts";

/** `T` with every level allowed to be a Pulumi Input. */
export type Lifted<T> = T extends (infer U)[]
  ? pulumi.Input<Lifted<U>[]>
  : T extends object
    ? pulumi.Input<{ [K in keyof T]: Lifted<T[K]> }>
    : pulumi.Input<T>;
export type StackOutputsInput = { [K in keyof StackOutputs]: Lifted<StackOutputs[K]> };

/** Error-rate alarm names the failover runbook ensures in each role's region. */
export const ERROR_RATE_ALARM = { dr: "EventChain-DR-HighErrorRate", primary: "EventChain-Primary-HighErrorRate" } as const;

interface Context {
  c: StackConfig;
  opts: pulumi.CustomResourceOptions;
  peerProvider: aws.Provider;
  accountId: pulumi.Output<string>;
}

/** Declares the stack for `config.role`; returns its outputs. */
export function buildStack(config: StackConfig): StackOutputsInput {
  const tags = { project: "eventchain-dr", stack: config.stack, role: config.role, "managed-by": "pulumi" };
  const provider = new aws.Provider(`aws-${config.region}`, { region: config.region as aws.Region, defaultTags: { tags } });
  const peerProvider = new aws.Provider(`aws-${config.peerRegion}`, { region: config.peerRegion as aws.Region, defaultTags: { tags } });
  const accountId = aws.getCallerIdentityOutput({}, { provider }).accountId;
  const ctx: Context = { c: config, opts: { provider }, peerProvider, accountId };
  return config.role === "dr" ? buildDr(ctx) : buildPrimary(ctx);
}

function common(ctx: Context) {
  const { c } = ctx;
  const alerts = new Alerts("alerts", { emails: c.alerts.emails, httpsEndpoints: c.alerts.httpsEndpoints, accountId: ctx.accountId }, ctx.opts);
  const vault = new Vault("vault", {
    vaultName: `eventchain-${c.region}`,
    lockMode: c.backup.vaultLock.mode,
    minRetentionDays: c.backup.vaultLock.minRetentionDays,
    maxRetentionDays: c.backup.vaultLock.maxRetentionDays,
    changeableForDays: c.backup.vaultLock.changeableForDays,
  }, ctx.opts);
  const bucket = new BackupBucket("backups", {
    retentionDays: c.backup.bucketRetentionDays,
    objectLockDays: c.backup.objectLockDays,
    region: c.region,
    accountId: ctx.accountId,
  }, ctx.opts);
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
  const cache = (replicationGroupId: pulumi.Input<string> | null) => ({
    replicationGroupId,
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

function buildDr(ctx: Context): StackOutputsInput {
  const { c } = ctx;
  const { alerts, base, backup, cache, database, ecrRepositories } = common(ctx);
  const media = new MediaReplica("media-replica", {}, ctx.opts);
  const pilot = new PilotLight("pilot-light", {
    clusterName: c.services.clusterName,
    services: [
      { ...c.services.backend, paths: ["/api/*", "/health"] },
      { ...c.services.frontend },
    ],
    vpcId: c.network.vpcId,
    privateSubnetIds: c.network.privateSubnetIds,
    publicSubnetIds: c.network.publicSubnetIds,
    certificateArn: c.services.certificateArn ?? "",
    region: c.region,
    accountId: ctx.accountId,
    errorRateThresholdPercent: c.services.errorRateThresholdPercent,
    alarmTopicArn: alerts.topicArn,
    errorRateAlarmName: ERROR_RATE_ALARM.dr,
  }, ctx.opts);
  const landing = new RestoreLanding("database", {
    restoreIdentifier: c.database.restoreIdentifier,
    dbName: c.database.dbName,
    engineVersion: c.database.engineVersion,
    port: c.database.port,
    vpcId: c.network.vpcId,
    subnetIds: c.network.privateSubnetIds,
    clientSecurityGroupId: pilot.serviceSecurityGroup.id,
  }, ctx.opts);
  const dns = new DnsFailover("dns", {
    ...c.dns,
    secondaryTarget: pilot.loadBalancer.dnsName,
  }, ctx.opts);
  return {
    ...base,
    database: {
      ...database,
      instanceIdentifier: c.database.restoreIdentifier,
      instanceArn: null,
      resourceId: null,
      address: null,
      subnetGroupName: landing.subnetGroup.name,
      securityGroupIds: [landing.securityGroup.id],
      parameterGroupName: landing.parameterGroup.name,
      kmsKeyArn: landing.kmsKey.arn,
      masterSecretArn: null,
      appConnectionSecretArn: landing.appConnectionSecret.arn,
      replicatedBackupsArn: null,
    },
    backup: backup(null),
    media: { bucketName: media.storage.bucketName, replicaBucketName: null, replicationPrefix: "media/", rtcMinutes: null, kmsKeyArn: media.kmsKey.arn },
    cache: cache(null),
    dns: {
      hostedZoneId: c.dns.hostedZoneId,
      recordName: c.dns.recordName,
      recordType: c.dns.recordType,
      ttl: c.dns.ttl,
      primaryHealthCheckId: dns.healthCheck.id,
      primarySetIdentifier: c.dns.primarySetIdentifier,
      secondarySetIdentifier: c.dns.secondarySetIdentifier,
      primaryTarget: c.dns.primaryTarget,
      secondaryTarget: pilot.loadBalancer.dnsName,
    },
    services: {
      clusterName: pilot.cluster.name,
      loadBalancerDnsName: pilot.loadBalancer.dnsName,
      services: pilot.services.map((s) => ({ name: s.name, recoveryCount: s.recoveryCount, targetGroupArn: s.targetGroup.arn })),
      errorRateAlarmName: pilot.errorRateAlarm.name,
    },
    alerts: { topicArn: alerts.topicArn },
    ecrRepositories,
    kubernetes: { enabled: false, namespace: null, appDeployment: null, cronJobs: [], serviceAccountRoleArn: null },
  };
}

/** The peer (dr) stack's outputs, through a StackReference. */
function peerOutputs(c: StackConfig) {
  const name = c.peerStack.includes("/") ? c.peerStack : `${pulumi.getOrganization()}/${pulumi.getProject()}/${c.peerStack}`;
  const ref = new pulumi.StackReference(name);
  return <K extends keyof StackOutputs>(key: K) => ref.requireOutput(key) as pulumi.Output<StackOutputs[K]>;
}

function buildPrimary(ctx: Context): StackOutputsInput {
  const { c, opts } = ctx;
  const { alerts, vault, bucket, base, backup, cache, database, ecrRepositories } = common(ctx);
  const peer = peerOutputs(c);
  const peerDatabase = peer("database");
  const peerMedia = peer("media");
  const jobsSecurityGroup = new aws.ec2.SecurityGroup("backup-jobs-sg", {
    vpcId: c.network.vpcId,
    description: "Logical-backup jobs: outbound only",
    egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "database, cache, S3, AWS APIs" }],
  }, opts);
  const clients = [...c.network.appSecurityGroupIds, jobsSecurityGroup.id];
  const db = new Database("database", {
    ...c.database,
    replicateToPeer: c.database.replicateBackupsToPeer,
    peerKmsKeyArn: peerDatabase.kmsKeyArn,
    vpcId: c.network.vpcId,
    subnetIds: c.network.privateSubnetIds,
    clientSecurityGroupIds: clients,
    peerProvider: ctx.peerProvider,
  }, opts);
  const plan = new BackupPlan("backup-plan", {
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
  }, opts);
  const media = new MediaReplication("media", {
    rules: c.replication.rules,
    destinationBucketName: peerMedia.bucketName,
    destinationKmsKeyArn: peerMedia.apply((m) => {
      if (!m.kmsKeyArn) throw new Error(`stack ${c.peerStack} exports no media.kmsKeyArn: deploy it (pulumi up -s ${c.peerStack}) before ${c.stack}`);
      return m.kmsKeyArn;
    }),
    accountId: ctx.accountId,
    alarmTopicArn: alerts.topicArn,
  }, opts);
  const redis = new Cache("cache", { ...c.cache, vpcId: c.network.vpcId, subnetIds: c.network.privateSubnetIds, clientSecurityGroupIds: clients }, opts);
  new ImageReplication("images", { repositories: ecrRepositories, destinationRegion: c.peerRegion, accountId: ctx.accountId }, opts);
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
  const k8sJobs = k.enabled && k.oidcProviderArn && k.oidcIssuer
    ? new KubernetesJobs("kubernetes-jobs", {
      ...permissions,
      namespace: k.namespace,
      oidcProviderArn: k.oidcProviderArn,
      oidcIssuer: k.oidcIssuer,
      image: pulumi.interpolate`${ctx.accountId}.dkr.ecr.${c.region}.amazonaws.com/${c.logicalBackups.repository}:${c.logicalBackups.imageTag}`,
      alarmTopicArn: alerts.topicArn,
    }, opts)
    : undefined;
  if (!k8sJobs) {
    new LogicalBackups("logical-backups", {
      ...permissions,
      clusterName: c.services.clusterName,
      repository: c.logicalBackups.repository,
      imageTag: c.logicalBackups.imageTag,
      cpu: c.logicalBackups.cpu,
      memoryMiB: c.logicalBackups.memoryMiB,
      subnetIds: c.network.privateSubnetIds,
      securityGroupId: jobsSecurityGroup.id,
      alerts,
    }, opts);
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
