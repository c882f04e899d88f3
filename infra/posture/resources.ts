/**
 * The declared resources the posture model reads, and the helpers every reader shares. A
 * resource is what `evaluateStack` returns, tagged with the stack that declared it.
 */
import type { FigureId } from "./figures.ts";
import type { Mechanism } from "./model.ts";

/** A declared resource, tagged with the stack that declares it. */
export interface DeclaredResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The stack (prod or dr) whose program declared it. */
  stack: string;
}

export interface PairContext {
  /** The stack whose role is primary, its region, and the DR stack's. */
  primaryStack: string;
  primaryRegion: string;
  drStack: string;
  drRegion: string;
}

export const T = {
  rds: "aws:rds/instance:Instance",
  rdsReplication: "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  plan: "aws:backup/plan:Plan",
  selection: "aws:backup/selection:Selection",
  s3Replication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
  s3Versioning: "aws:s3/bucketVersioning:BucketVersioning",
  cache: "aws:elasticache/replicationGroup:ReplicationGroup",
  ecrReplication: "aws:ecr/replicationConfiguration:ReplicationConfiguration",
  healthCheck: "aws:route53/healthCheck:HealthCheck",
  record: "aws:route53/record:Record",
  ecsService: "aws:ecs/service:Service",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  schedule: "aws:scheduler/schedule:Schedule",
  cronJob: "kubernetes:batch/v1:CronJob",
} as const;

export const ref = (r: DeclaredResource) => `${r.stack}: ${r.type} ${r.name}`;
export const of = (rs: DeclaredResource[], type: string) => rs.filter((r) => r.type === type);
export const arr = <V>(v: V | V[] | undefined): V[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
export const m = (x: Omit<Mechanism, "figures"> & { figures: FigureId[] }): Mechanism => x;
