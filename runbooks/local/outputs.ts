/**
 * Stack outputs for a local run (the drill, tests): the contract of infra/outputs.ts filled with
 * the local stand-ins (throwaway PostgreSQL, the emulator's bucket). Objectives and
 * classification come from the committed stack config (`loadConfigFromFiles`), never typed
 * here; everything the local run has no counterpart for is named `local-…` so that it cannot be
 * mistaken for a real resource.
 */
import { loadConfigFromFiles } from "../../infra/config/load.ts";
import { parseStackOutputs, OUTPUTS_CONTRACT_VERSION, type StackOutputs } from "../../infra/outputs.ts";

export interface LocalFacts {
  /** Stack whose config provides objectives and classification (default `prod`). */
  stack?: string;
  /** Identifier of the local source database (e.g. `drill-primary`). */
  instanceIdentifier: string;
  dbName: string;
  port: number;
  bucketName: string;
  region?: string;
}

export function localOutputs(f: LocalFacts): StackOutputs {
  const stack = f.stack ?? "prod";
  const config = loadConfigFromFiles(stack);
  const region = f.region ?? "us-east-1";
  const local = (what: string) => `local-${what}`;
  const raw = {
    contractVersion: OUTPUTS_CONTRACT_VERSION,
    stack,
    role: "primary",
    region,
    peerStack: stack === "dr" ? "prod" : "dr",
    peerRegion: "us-west-2",
    objectives: config.objectives,
    classification: config.classification,
    database: {
      instanceIdentifier: f.instanceIdentifier,
      instanceArn: null,
      resourceId: null,
      address: "127.0.0.1",
      port: f.port,
      dbName: f.dbName,
      engineVersion: "15",
      instanceClass: local("throwaway"),
      subnetGroupName: local("loopback"),
      securityGroupIds: [],
      parameterGroupName: local("postgresql.conf"),
      kmsKeyArn: local("none"),
      masterSecretArn: null,
      appConnectionSecretArn: local("libpq-environment"),
      backupRetentionDays: 1,
      pointInTimeRecovery: true,
      replicatedBackupsArn: null,
    },
    backup: {
      bucketName: f.bucketName,
      bucketArn: `arn:aws:s3:::${f.bucketName}`,
      kmsKeyArn: local("none"),
      prefixes: { database: "database/", redis: "redis/", infrastructure: "infrastructure/", code: "code/" },
      retentionDays: { database: 30, redis: 7, infrastructure: 90, code: 90 },
      vaultName: local("vault"),
      vaultArn: local("vault"),
      planId: null,
    },
    media: { bucketName: local("media"), replicaBucketName: null, replicationPrefix: "media/", rtcMinutes: null },
    cache: { replicationGroupId: null, snapshotRetentionDays: 1, snapshotWindow: "03:00-04:00" },
    dns: {
      hostedZoneId: local("zone"),
      recordName: "api.eventchain.local",
      recordType: "CNAME",
      ttl: 60,
      primaryHealthCheckId: local("health-check"),
      primarySetIdentifier: "primary",
      secondarySetIdentifier: "secondary",
      primaryTarget: "127.0.0.1",
      secondaryTarget: "127.0.0.1",
    },
    services: {
      clusterName: local("cluster"),
      loadBalancerDnsName: "127.0.0.1",
      services: [],
      errorRateAlarmName: local("alarm"),
    },
    alerts: { topicArn: local("topic") },
    // The local run keeps its run lock and shared journal in the emulator's bucket too.
    runJournal: { bucketName: f.bucketName, region, prefix: "runs/" },
    ecrRepositories: [],
    kubernetes: { enabled: false, namespace: null, appDeployment: null, cronJobs: [], serviceAccountRoleArn: null },
  };
  return parseStackOutputs(raw, "local drill outputs");
}
