/** Stack outputs matching infra/outputs.ts, built from what a seed created (or defaults for unit tests). */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { StackOutputs } from "../../infra/outputs.ts";

/** The project-wide objectives and classification, read from Pulumi.yaml (their one source). */
const project = parse(readFileSync(new URL("../../Pulumi.yaml", import.meta.url), "utf8")) as {
  config: Record<string, { value: unknown }>;
};
export const OBJECTIVES = project.config["eventchain-dr:objectives"]!.value as StackOutputs["objectives"];
export const CLASSIFICATION = project.config["eventchain-dr:classification"]!.value as StackOutputs["classification"];

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
}

export function buildOutputs(f: StackFacts): StackOutputs {
  const primary = f.stack === "prod";
  const account = f.account ?? "123456789012";
  return {
    contractVersion: 1,
    stack: f.stack,
    role: primary ? "primary" : "dr",
    region: f.region,
    peerStack: primary ? "dr" : "prod",
    peerRegion: primary ? "us-west-2" : "us-east-1",
    objectives: OBJECTIVES,
    classification: { ...CLASSIFICATION },
    database: {
      instanceIdentifier: f.instanceIdentifier,
      instanceArn: f.instanceArn,
      resourceId: f.resourceId,
      address: f.address,
      port: 5432,
      dbName: "eventchain",
      engineVersion: "15.7",
      instanceClass: "db.r6g.large",
      subnetGroupName: f.subnetGroupName,
      securityGroupIds: f.securityGroupIds,
      parameterGroupName: f.parameterGroupName,
      kmsKeyArn: f.kmsKeyArn,
      masterSecretArn: null,
      appConnectionSecretArn: f.appConnectionSecretArn,
      backupRetentionDays: 7,
      pointInTimeRecovery: true,
      replicatedBackupsArn: f.replicatedBackupsArn,
    },
    backup: {
      bucketName: `eventchain-backups-${f.stack}`,
      bucketArn: `arn:aws:s3:::eventchain-backups-${f.stack}`,
      kmsKeyArn: f.kmsKeyArn,
      prefixes: { database: "database/", redis: "redis/", infrastructure: "infrastructure/", code: "code/" },
      retentionDays: { database: 30, redis: 7, infrastructure: 90, code: 90 },
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
    cache: { replicationGroupId: null, snapshotRetentionDays: 7, snapshotWindow: "03:00-05:00" },
    dns: {
      hostedZoneId: f.hostedZoneId,
      recordName: "api.eventchain.com",
      recordType: "CNAME",
      ttl: 60,
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
