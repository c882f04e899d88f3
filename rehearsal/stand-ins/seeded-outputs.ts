/**
 * The one builder of stack outputs outside Pulumi (contract/stack-outputs.ts's contract): from what a seed
 * created in the emulator, for unit tests (`sampleOutputs`), and — through `localOutputs` in
 * ./local-outputs.ts — for the drill's local stand-ins. Objectives, classification, backup prefixes
 * and retention come from where the stacks take them (the committed stack config and the
 * backup bucket component), never typed here.
 */
import { BACKUP_PREFIXES } from "../../contract/backup-prefixes.ts";
import { loadConfigFromFiles } from "../../infra/config/load.ts";
import { OUTPUTS_CONTRACT_VERSION, type StackOutputs } from "../../contract/stack-outputs.ts";
import { SWITCH_ALARM_NAME } from "../../contract/switch.ts";

/** The DR stack's backup bucket, where both stacks' runbooks keep their run lock and shared journal. */
export const RUN_JOURNAL_BUCKET = "eventchain-backups-dr";

export interface StackFacts {
  stack: "prod" | "dr";
  region: string;
  account?: string;
  instanceIdentifier: string;
  instanceArn: string | null;
  resourceId: string | null;
  address: string | null;
  subnetGroupName: string;
  securityGroupIds: string[];
  parameterGroupName: string;
  kmsKeyArn: string;
  appConnectionSecretArn: string;
  replicatedBackupsArn: string | null;
  hostedZoneId: string;
  primaryHealthCheckId: string;
  primaryTarget: string;
  secondaryTarget: string;
  clusterName: string;
  loadBalancerDnsName: string;
  services: { name: string; recoveryCount: number; targetGroupArn: string }[];
  topicArn: string;
  kubernetes?: { namespace: string; appDeployment: string };
  /** The cache the stack runs, if any (default none). */
  cache?: { replicationGroupId: string; primaryEndpoint: string; transitEncryption: boolean };
  /** Database facts other than an RDS instance's (e.g. a local server's port). */
  database?: Partial<
    Pick<StackOutputs["database"], "port" | "dbName" | "engineVersion" | "instanceClass" | "backupRetentionDays">
  >;
  /** The backup bucket (default `eventchain-backups-<stack>`). */
  backupBucketName?: string;
  /** The failover switch, name servers, fence and outputs mirror. Default: `sampleFailover(account)`. */
  failover?: StackOutputs["failover"];
  /** TTL of the failover records. Default 60. */
  ttl?: number;
}

/** Plausible failover outputs (no AWS behind them) for unit tests. */
export function sampleFailover(account = "123456789012"): StackOutputs["failover"] {
  return {
    mode: "switch",
    switch: {
      healthCheckId: "hc-switch",
      alarmName: SWITCH_ALARM_NAME,
      region: "us-west-2",
      namespace: "EventChain/Failover",
      metricName: "TrafficOnDr",
      dimensions: [{ name: "Record", value: "api.eventchain.com" }],
      threshold: 1,
      detectionSeconds: 180,
    },
    nameServers: ["ns-1.awsdns-01.org", "ns-2.awsdns-02.com"],
    fenceSecurityGroupIds: [],
    outputsMirror: {
      bucketName: `eventchain-dr-outputs-${account}-us-west-2`,
      region: "us-west-2",
      kmsKeyArn: `arn:aws:kms:us-west-2:${account}:key/99999999-2222-3333-4444-555555555555`,
    },
  };
}

export function buildOutputs(f: StackFacts): StackOutputs {
  const primary = f.stack === "prod";
  const account = f.account ?? "123456789012";
  const config = loadConfigFromFiles(f.stack);
  const bucket = f.backupBucketName ?? `eventchain-backups-${f.stack}`;
  return {
    contractVersion: OUTPUTS_CONTRACT_VERSION,
    stack: f.stack,
    role: primary ? "primary" : "dr",
    region: f.region,
    peerStack: primary ? "dr" : "prod",
    peerRegion: primary ? "us-west-2" : "us-east-1",
    objectives: config.objectives,
    classification: { ...config.classification },
    database: {
      instanceIdentifier: f.instanceIdentifier,
      instanceArn: f.instanceArn,
      resourceId: f.resourceId,
      address: f.address,
      port: f.database?.port ?? 5432,
      dbName: f.database?.dbName ?? "eventchain",
      engineVersion: f.database?.engineVersion ?? "15.7",
      instanceClass: f.database?.instanceClass ?? "db.r6g.large",
      subnetGroupName: f.subnetGroupName,
      securityGroupIds: f.securityGroupIds,
      parameterGroupName: f.parameterGroupName,
      kmsKeyArn: f.kmsKeyArn,
      masterSecretArn: null,
      appConnectionSecretArn: f.appConnectionSecretArn,
      backupRetentionDays: f.database?.backupRetentionDays ?? 7,
      pointInTimeRecovery: true,
      replicatedBackupsArn: f.replicatedBackupsArn,
    },
    backup: {
      bucketName: bucket,
      bucketArn: `arn:aws:s3:::${bucket}`,
      kmsKeyArn: f.kmsKeyArn,
      prefixes: { ...BACKUP_PREFIXES },
      retentionDays: { ...config.backup.bucketRetentionDays },
      vaultName: `eventchain-${f.stack}`,
      vaultArn: `arn:aws:backup:${f.region}:${account}:backup-vault:eventchain-${f.stack}`,
      planId: primary ? "plan-1" : null,
    },
    media: {
      bucketName: `eventchain-media-${f.stack}`,
      replicaBucketName: primary ? "eventchain-media-dr" : null,
      replicationPrefix: "media/",
      rtcMinutes: primary ? 15 : null,
    },
    cache: {
      replicationGroupId: f.cache?.replicationGroupId ?? null,
      primaryEndpoint: f.cache?.primaryEndpoint ?? null,
      transitEncryption: f.cache?.transitEncryption ?? true,
      snapshotRetentionDays: 7,
      snapshotWindow: "03:00-05:00",
    },
    dns: {
      hostedZoneId: f.hostedZoneId,
      recordName: "api.eventchain.com",
      recordType: "CNAME",
      ttl: f.ttl ?? 60,
      primaryHealthCheckId: f.primaryHealthCheckId,
      primarySetIdentifier: "primary",
      secondarySetIdentifier: "secondary",
      primaryTarget: f.primaryTarget,
      secondaryTarget: f.secondaryTarget,
    },
    services: {
      clusterName: f.clusterName,
      loadBalancerDnsName: f.loadBalancerDnsName,
      services: f.services,
      errorRateAlarmName: `EventChain-${f.stack}-HighErrorRate`,
    },
    alerts: { topicArn: f.topicArn },
    // The DR backup bucket (seedStacks creates it), the same for both stacks.
    runJournal: { bucketName: RUN_JOURNAL_BUCKET, region: "us-west-2", prefix: "runs/" },
    ecrRepositories: ["eventchain/backend", "eventchain/frontend"],
    kubernetes: f.kubernetes
      ? {
          enabled: true,
          namespace: f.kubernetes.namespace,
          appDeployment: f.kubernetes.appDeployment,
          cronJobs: [],
          serviceAccountRoleArn: null,
        }
      : { enabled: false, namespace: null, appDeployment: null, cronJobs: [], serviceAccountRoleArn: null },
    failover: f.failover ?? sampleFailover(account),
  } as StackOutputs;
}

/** Plausible outputs for unit tests that make no AWS calls. */
export function sampleOutputs(stack: "prod" | "dr" = "prod"): StackOutputs {
  const region = stack === "prod" ? "us-east-1" : "us-west-2";
  return buildOutputs({
    stack,
    region,
    instanceIdentifier: `eventchain-${stack}-db`,
    instanceArn: stack === "prod" ? `arn:aws:rds:${region}:123456789012:db:eventchain-prod-db` : null,
    resourceId: stack === "prod" ? "db-ABCDEFGHIJKL" : null,
    address: stack === "prod" ? "eventchain-prod-db.abc.us-east-1.rds.amazonaws.com" : null,
    subnetGroupName: `eventchain-${stack}-db`,
    securityGroupIds: ["sg-0123456789"],
    parameterGroupName: `eventchain-${stack}-pg15`,
    kmsKeyArn: `arn:aws:kms:${region}:123456789012:key/11111111-2222-3333-4444-555555555555`,
    appConnectionSecretArn: `arn:aws:secretsmanager:${region}:123456789012:secret:eventchain/${stack}/db-connection`,
    replicatedBackupsArn: stack === "prod" ? "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-xyz" : null,
    hostedZoneId: "Z123456789",
    primaryHealthCheckId: "hc-1",
    primaryTarget: "eventchain-prod-alb.us-east-1.elb.amazonaws.com",
    secondaryTarget: "eventchain-dr-alb.us-west-2.elb.amazonaws.com",
    clusterName: `eventchain-${stack}`,
    loadBalancerDnsName: `eventchain-${stack}-alb.${region}.elb.amazonaws.com`,
    services: [
      {
        name: `eventchain-backend-${stack}`,
        recoveryCount: 3,
        targetGroupArn: `arn:aws:elasticloadbalancing:${region}:123456789012:targetgroup/backend/1`,
      },
      {
        name: `eventchain-frontend-${stack}`,
        recoveryCount: 2,
        targetGroupArn: `arn:aws:elasticloadbalancing:${region}:123456789012:targetgroup/frontend/2`,
      },
    ],
    topicArn: `arn:aws:sns:${region}:123456789012:eventchain-${stack}-alerts`,
  });
}
