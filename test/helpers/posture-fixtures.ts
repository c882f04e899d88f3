/**
 * A declared stack pair shaped like the program's resources (types and inputs as the
 * components declare them), for testing the posture model without running the program.
 */
import { loadConfigFromFiles } from "../../infra/config/load.ts";
import { evaluatePosture, type PostureReport } from "../../infra/posture/model.ts";
import {
  failoverFrom,
  mechanismsFrom,
  type DeclaredResource,
  type PairContext,
} from "../../infra/posture/mechanisms.ts";

export const PAIR: PairContext = {
  primaryStack: "prod",
  primaryRegion: "us-east-1",
  drStack: "dr",
  drRegion: "us-west-2",
};

const r = (stack: string, type: string, name: string, inputs: Record<string, unknown>): DeclaredResource => ({
  stack,
  type,
  name,
  inputs,
});

export function declaredPair(): DeclaredResource[] {
  return [
    r("prod", "aws:rds/instance:Instance", "database-instance", {
      allocatedStorage: 100,
      backupRetentionPeriod: 30,
      storageType: "gp3",
    }),
    r(
      "prod",
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
      "database-backups-to-peer",
      { retentionPeriod: 30 },
    ),
    r("prod", "aws:backup/plan:Plan", "backup-plan", {
      rules: [
        {
          ruleName: "database-snapshots",
          schedule: "cron(0 */6 * * ? *)",
          startWindow: 60,
          copyActions: [{ destinationVaultArn: "arn:aws:backup:us-west-2:111122223333:backup-vault:eventchain-dr" }],
        },
        {
          ruleName: "daily-full",
          schedule: "cron(0 2 * * ? *)",
          startWindow: 60,
          copyActions: [{ destinationVaultArn: "arn:aws:backup:us-west-2:111122223333:backup-vault:eventchain-dr" }],
        },
      ],
    }),
    r("prod", "aws:backup/selection:Selection", "backup-plan-selection", {
      resources: ["arn:aws:rds:us-east-1:111122223333:db:eventchain-prod-db"],
    }),
    r("prod", "aws:s3/bucketVersioning:BucketVersioning", "media-source-versioning", {
      versioningConfiguration: { status: "Enabled" },
    }),
    r("prod", "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "media-replication", {
      rules: [
        {
          id: "EventChainMediaReplication",
          status: "Enabled",
          filter: { prefix: "media/" },
          destination: { replicationTime: { status: "Enabled", time: { minutes: 15 } } },
        },
      ],
    }),
    r("prod", "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "backups-replication", {
      rules: [
        {
          id: "redis",
          status: "Enabled",
          filter: { prefix: "redis/" },
          destination: { replicationTime: { status: "Enabled", time: { minutes: 15 } } },
        },
        {
          id: "infrastructure",
          status: "Enabled",
          filter: { prefix: "infrastructure/" },
          destination: { replicationTime: { status: "Enabled", time: { minutes: 15 } } },
        },
      ],
    }),
    r("prod", "aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis", {
      snapshotRetentionLimit: 7,
      snapshotWindow: "04:00-05:00",
    }),
    r("prod", "aws:scheduler/schedule:Schedule", "logical-redis-export", { scheduleExpression: "cron(30 5 * * ? *)" }),
    r("prod", "kubernetes:batch/v1:CronJob", "k8s-cluster-config-export", { spec: { schedule: "0 3 * * *" } }),
    r("prod", "aws:ecr/replicationConfiguration:ReplicationConfiguration", "images-replication", {
      replicationConfiguration: { rules: [{ destinations: [{ region: "us-west-2" }] }] },
    }),
    r("prod", "aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-backup-failed", {}),
    r("dr", "aws:cloudwatch/metricAlarm:MetricAlarm", "pilot-error-rate", {}),
    r("dr", "aws:route53/healthCheck:HealthCheck", "dns-primary-health", { requestInterval: 30, failureThreshold: 3 }),
    r("dr", "aws:route53/record:Record", "dns-primary", { ttl: 60, failoverRoutingPolicies: [{ type: "PRIMARY" }] }),
    r("dr", "aws:route53/record:Record", "dns-secondary", {
      ttl: 60,
      failoverRoutingPolicies: [{ type: "SECONDARY" }],
    }),
    r("dr", "aws:ecs/service:Service", "pilot-backend", { desiredCount: 0 }),
    r("dr", "aws:ecs/service:Service", "pilot-frontend", { desiredCount: 0 }),
  ];
}

/** The pair without the resources whose type and name match. */
export function without(rs: DeclaredResource[], type: string, name?: RegExp): DeclaredResource[] {
  return rs.filter((x) => !(x.type === type && (name === undefined || name.test(x.name))));
}

/** The posture of the prod/dr pair with the committed objectives, over `rs` (default: fully declared). */
export function postureOf(rs: DeclaredResource[] = declaredPair()): PostureReport {
  const config = loadConfigFromFiles("prod");
  return evaluatePosture({
    stack: "prod",
    region: PAIR.primaryRegion,
    peerRegion: PAIR.drRegion,
    objectives: config.objectives,
    classification: config.classification,
    mechanisms: mechanismsFrom(rs, PAIR),
    failover: failoverFrom(rs, PAIR),
  });
}
