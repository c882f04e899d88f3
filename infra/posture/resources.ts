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

/** The Pulumi type token of each resource kind the posture model reads. */
export const RESOURCE_TYPE = {
  rds: "aws:rds/instance:Instance",
  rdsReplication: "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  plan: "aws:backup/plan:Plan",
  selection: "aws:backup/selection:Selection",
  restoreTestingPlan: "aws:backup/restoreTestingPlan:RestoreTestingPlan",
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

/** How a mechanism names a resource it rests on: `<stack>: <type token> <name>`. */
export const resourceLabel = (resource: DeclaredResource) => `${resource.stack}: ${resource.type} ${resource.name}`;

/** The declared resources of one type (a `RESOURCE_TYPE` token). */
export const ofType = (resources: DeclaredResource[], type: string) =>
  resources.filter((resource) => resource.type === type);

/** An input that Pulumi takes as one value or a list, as a list (absent: empty). */
export const asArray = <V>(value: V | V[] | undefined | null): V[] =>
  value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];

/** A mechanism, its figures checked against the figure ids (a typo fails `tsc`). */
export const mechanism = (declared: Omit<Mechanism, "figures"> & { figures: FigureId[] }): Mechanism => declared;
