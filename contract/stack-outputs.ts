/**
 * The stack-outputs contract: everything a runbook may rely on, and nothing else.
 *
 * Both stacks (`prod`, role `primary`; `dr`, role `dr`) export exactly this shape as their
 * top-level outputs. Where an item does not apply to a stack's role its value is `null`
 * (e.g. the DR stack has no running database until a failover restores one). Runbooks load
 * a stack's outputs through `runbooks/lib` and validate them with `parseStackOutputs`, so a
 * missing or mistyped output fails before any change is made.
 */
import { z } from "zod";
import { SYSTEM_IDS, TIERS } from "./objectives.ts";
import { FAILOVER_MODES } from "./switch.ts";

/**
 * Where both stacks' outputs are mirrored in the DR region at every `pulumi up` (versioned,
 * SSE-KMS), so a runbook can start when the state backend is unreachable. The bucket name is
 * derived, not configured, so a runbook finds it with the account id (STS in the DR region) and
 * the DR region from the committed stack config alone.
 */
export const OUTPUTS_MIRROR = {
  bucketName: (accountId: string, drRegion: string) => `eventchain-dr-outputs-${accountId}-${drRegion}`,
  key: (stack: string) => `stacks/${stack}.json`,
} as const;

/** Bumped whenever a field is removed or changes meaning. */
export const OUTPUTS_CONTRACT_VERSION = 1;

const objective = z.object({ rtoMinutes: z.number().positive(), rpoMinutes: z.number().positive() });
const tier = z.enum(TIERS);

export const databaseOutputsSchema = z.object({
  /** Identifier of the running instance (primary) or the identifier a DR restore creates (dr). */
  instanceIdentifier: z.string().min(1),
  /** ARN of the running instance; null in the DR stack. */
  instanceArn: z.string().nullable(),
  /** DbiResourceId of the running instance; null in the DR stack. */
  resourceId: z.string().nullable(),
  /** Host name of the running instance; null in the DR stack. */
  address: z.string().nullable(),
  port: z.number().int(),
  dbName: z.string().min(1),
  engineVersion: z.string().min(1),
  instanceClass: z.string().min(1),
  subnetGroupName: z.string().min(1),
  securityGroupIds: z.array(z.string()),
  parameterGroupName: z.string().min(1),
  /** Customer-managed KMS key for storage encryption in this stack's region. */
  kmsKeyArn: z.string().min(1),
  /** Secrets Manager secret holding the master credentials (managed by RDS); null in DR. */
  masterSecretArn: z.string().nullable(),
  /** Secrets Manager secret holding the application's connection settings (host, port, dbname). */
  appConnectionSecretArn: z.string().min(1),
  backupRetentionDays: z.number().int(),
  pointInTimeRecovery: z.boolean(),
  /**
   * ARN of the automated backups replicated into the peer (DR) region; set in the primary
   * stack, null in the DR stack.
   */
  replicatedBackupsArn: z.string().nullable(),
});

export const backupOutputsSchema = z.object({
  /** Logical-backup bucket (versioned, Object Lock, SSE-KMS, private, TLS-only). */
  bucketName: z.string().min(1),
  bucketArn: z.string().min(1),
  kmsKeyArn: z.string().min(1),
  /** Key prefixes per kind of backup, each with its own expiry. */
  prefixes: z.object({
    database: z.string(),
    redis: z.string(),
    infrastructure: z.string(),
    code: z.string(),
  }),
  /** Days each prefix keeps objects before the lifecycle expires them. */
  retentionDays: z.object({
    database: z.number().int(),
    redis: z.number().int(),
    infrastructure: z.number().int(),
    code: z.number().int(),
  }),
  /** AWS Backup vault in this region. */
  vaultName: z.string().min(1),
  vaultArn: z.string().min(1),
  /** AWS Backup plan id (primary); null in the DR stack. */
  planId: z.string().nullable(),
});

export const mediaOutputsSchema = z.object({
  /** Source media bucket (primary) or the replica bucket (dr). */
  bucketName: z.string().min(1),
  /** Where `media/` replicates to; null in the DR stack. */
  replicaBucketName: z.string().nullable(),
  replicationPrefix: z.string(),
  /** Replication Time Control threshold in minutes; null where no replication is declared. */
  rtcMinutes: z.number().int().nullable(),
  /** KMS key of this stack's media bucket (the primary's replication rule encrypts replicas with dr's). */
  kmsKeyArn: z.string().min(1).optional(),
});

export const cacheOutputsSchema = z.object({
  /** ElastiCache replication group id; null where the stack runs no cache. */
  replicationGroupId: z.string().nullable(),
  /**
   * Primary endpoint (host:port) of the replication group: the Redis export reads the source's
   * key count there to compare the restored export with. Null where the stack runs no cache.
   */
  primaryEndpoint: z.string().nullable().default(null),
  /** Whether clients must use TLS to reach the cache (ElastiCache in-transit encryption). */
  transitEncryption: z.boolean().default(true),
  snapshotRetentionDays: z.number().int(),
  snapshotWindow: z.string(),
});

export const dnsOutputsSchema = z.object({
  hostedZoneId: z.string().min(1),
  /** The name clients use, e.g. api.eventchain.com. */
  recordName: z.string().min(1),
  recordType: z.enum(["CNAME", "A"]),
  ttl: z.number().int(),
  /**
   * Health check on the primary endpoint (HTTPS /health). It pages (alarm → SNS); with
   * `failover.mode` "switch" no record carries it, so it never moves traffic by itself.
   */
  primaryHealthCheckId: z.string().min(1),
  primarySetIdentifier: z.string().min(1),
  secondarySetIdentifier: z.string().min(1),
  /** DNS name of the primary region's load balancer. */
  primaryTarget: z.string().min(1),
  /** DNS name of the DR region's load balancer. */
  secondaryTarget: z.string().min(1),
});

export const serviceOutputsSchema = z.object({
  name: z.string().min(1),
  /** Desired count to set when this region takes traffic (backend 3, frontend 2 per the plan). */
  recoveryCount: z.number().int().nonnegative(),
  /** Target group whose health proves the service serves. */
  targetGroupArn: z.string().min(1),
});

export const servicesOutputsSchema = z.object({
  clusterName: z.string().min(1),
  loadBalancerDnsName: z.string().min(1),
  services: z.array(serviceOutputsSchema),
  /**
   * The error-rate alarm this stack declares on its region's load balancer (one definition,
   * `ErrorRateAlarm`); the failover runbooks only check it exists and enable its actions.
   */
  errorRateAlarmName: z.string().min(1),
});

/**
 * Where incident runbooks keep their run lock and the shared copy of each run's journal (so a
 * second run is refused and a run can be resumed from another machine): the DR region's backup
 * bucket, under `runs/`. Declared by the dr stack; prod re-exports it (the same bucket).
 */
export const runJournalOutputsSchema = z.object({
  bucketName: z.string().min(1),
  region: z.string().min(1),
  prefix: z.string(),
});

export const alertsOutputsSchema = z.object({
  topicArn: z.string().min(1),
});

export const kubernetesOutputsSchema = z.object({
  enabled: z.boolean(),
  namespace: z.string().nullable(),
  /** Deployment whose DATABASE_URL / secret reference the database-recovery runbook repoints. */
  appDeployment: z.string().nullable(),
  cronJobs: z.array(z.string()),
  serviceAccountRoleArn: z.string().nullable(),
});

export const failoverOutputsSchema = z.object({
  /**
   * What moves traffic: "switch" (the PRIMARY record carries the switch's health check; only the
   * runbooks move traffic) or "automatic" (it carries the endpoint health check).
   */
  mode: z.enum(FAILOVER_MODES),
  switch: z.object({
    /** The CLOUDWATCH_METRIC health check the PRIMARY record carries. */
    healthCheckId: z.string().min(1),
    /** Alarm (in `region`, the DR region) the health check watches: ALARM = engaged. */
    alarmName: z.string().min(1),
    region: z.string().min(1),
    namespace: z.string().min(1),
    metricName: z.string().min(1),
    dimensions: z.array(z.object({ name: z.string().min(1), value: z.string().min(1) })),
    /** At or above this value the alarm is in ALARM (engaged). */
    threshold: z.number(),
    /** Worst case from writing the metric to Route 53 answering the other record (before the TTL). */
    detectionSeconds: z.number().int().positive(),
  }),
  /**
   * The hosted zone's authoritative name servers, recorded at deploy time: the runbooks prove a
   * switch took effect by asking them (DNS data plane), never the Route 53 API. `host` or `host:port`.
   */
  nameServers: z.array(z.string().min(1)),
  /**
   * Security groups that admit nothing: fencing sets the old primary database's groups to these
   * (no new connections; nothing deleted). Set in the primary stack; empty in the DR stack.
   */
  fenceSecurityGroupIds: z.array(z.string()),
  /** Where both stacks' outputs are mirrored in the DR region (see OUTPUTS_MIRROR). */
  outputsMirror: z.object({
    bucketName: z.string().min(1),
    region: z.string().min(1),
    kmsKeyArn: z.string().min(1),
  }),
});

export const stackOutputsSchema = z.object({
  contractVersion: z.literal(OUTPUTS_CONTRACT_VERSION),
  stack: z.string().min(1),
  role: z.enum(["primary", "dr"]),
  region: z.string().min(1),
  /** The other stack of the pair and its region. */
  peerStack: z.string().min(1),
  peerRegion: z.string().min(1),
  objectives: z.record(tier, objective),
  classification: z.record(z.enum(SYSTEM_IDS as [string, ...string[]]), tier),
  database: databaseOutputsSchema,
  backup: backupOutputsSchema,
  media: mediaOutputsSchema,
  cache: cacheOutputsSchema,
  dns: dnsOutputsSchema,
  services: servicesOutputsSchema,
  alerts: alertsOutputsSchema,
  runJournal: runJournalOutputsSchema,
  ecrRepositories: z.array(z.string()),
  kubernetes: kubernetesOutputsSchema,
  failover: failoverOutputsSchema,
});

export type StackOutputs = z.infer<typeof stackOutputsSchema>;
export type DatabaseOutputs = z.infer<typeof databaseOutputsSchema>;
export type ServiceOutputs = z.infer<typeof serviceOutputsSchema>;
export type FailoverOutputs = z.infer<typeof failoverOutputsSchema>;

/** Top-level output names; both stacks export exactly these. */
export const STACK_OUTPUT_KEYS = Object.keys(stackOutputsSchema.shape) as (keyof StackOutputs)[];

/**
 * Validates raw outputs (from `pulumi stack output --json` or a file).
 * @throws Error listing every missing or mistyped output by its path.
 */
export function parseStackOutputs(raw: unknown, source: string): StackOutputs {
  const result = stackOutputsSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  - ${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new Error(
    `stack outputs from ${source} do not match the contract (v${OUTPUTS_CONTRACT_VERSION}):\n${problems.join("\n")}`,
  );
}
