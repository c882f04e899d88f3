/**
 * The zod schema of the stack config, field by field, with the plan's defaults. Each field's
 * error text is what is allowed; `load.ts` prefixes the key and the bad value. Cross-field
 * rules (regions, overlapping windows, objectives vs. mechanisms) live in `rules.ts`.
 */
import { z } from "zod";
import { SYSTEM_IDS, TIERS } from "../../contract/objectives.ts";
import { DEFAULT_EXPORT_API_GROUPS } from "../../contract/kubernetes-export-scope.ts";
import { FAILOVER_MODES } from "../../contract/switch.ts";
import { arn, bool, dailyWindow, int, oneOf, region, schedule, subnets, text, weeklyWindow } from "./fields.ts";

const objective = z.strictObject({
  rtoMinutes: int(1, 43200, "an integer number of minutes from 1 to 43200"),
  rpoMinutes: int(1, 43200, "an integer number of minutes from 1 to 43200"),
});
const tier = oneOf(TIERS);

const database = z.strictObject({
  identifier: text(
    /^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$/,
    "an RDS identifier: lowercase letters, digits and single hyphens, starting with a letter, at most 63 characters",
  ).default("eventchain-prod-db"),
  restoreIdentifier: text(
    /^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$/,
    "an RDS identifier for the instance a DR restore creates",
  ).default("eventchain-dr-db"),
  dbName: text(/^[a-z][a-z0-9_]{0,62}$/, "a PostgreSQL database name: lowercase letters, digits, _").default(
    "eventchain",
  ),
  instanceClass: text(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "an RDS instance class such as db.r6g.large").default(
    "db.r6g.large",
  ),
  engineVersion: text(/^1[3-7](\.\d+)?$/, 'a PostgreSQL engine version string 13..17, e.g. "15.7"').default("15.7"),
  allocatedStorageGb: int(20, 65536, "an integer number of GiB from 20 to 65536").default(100),
  port: int(1150, 65535, "a port from 1150 to 65535").default(5432),
  backupRetentionDays: int(1, 35, "an integer number of days from 1 to 35 (RDS limit; the plan keeps 30)").default(30),
  backupWindow: dailyWindow(30, "03:00-04:00"),
  maintenanceWindow: weeklyWindow(30, "sun:05:00-sun:06:00"),
  pointInTimeRecovery: bool.default(true),
  replicateBackupsToPeer: bool.default(true),
  multiAz: bool.default(true),
});

const prefixDays = int(1, 3650, "an integer number of days from 1 to 3650");
const backup = z.strictObject({
  retentionDays: int(1, 36500, "an integer number of days from 1 to 36500 (the plan keeps 30)").default(30),
  copyToPeer: bool.default(true),
  replicateToPeer: bool.default(true),
  vaultLock: z
    .strictObject({
      mode: oneOf(["governance", "compliance"]).default("governance"),
      minRetentionDays: int(1, 36500, "an integer number of days from 1 to 36500").default(7),
      maxRetentionDays: int(1, 36500, "an integer number of days from 1 to 36500").default(35),
      changeableForDays: int(
        3,
        36500,
        "an integer number of days from 3 to 36500 (AWS minimum grace period is 3)",
      ).default(3),
    })
    .prefault({}),
  /** Absent: the longest of bucketRetentionDays (the lifecycle rule expires shorter prefixes once unlocked). */
  objectLockDays: int(1, 3650, "an integer number of days from 1 to 3650").optional(),
  bucketRetentionDays: z
    .strictObject({
      database: prefixDays.default(30),
      redis: prefixDays.default(7),
      infrastructure: prefixDays.default(90),
      code: prefixDays.default(90),
    })
    .prefault({}),
  restoreTesting: bool.default(true),
});

const schedules = z.strictObject({
  databaseBackup: schedule("backup", "cron(0 */6 * * ? *)"),
  fullBackup: schedule("backup", "cron(0 2 * * ? *)"),
  restoreTest: schedule("backup", "cron(0 6 ? * MON *)"),
  logicalBackup: schedule("scheduler", "cron(0 2 * * ? *)"),
  redisExport: schedule("scheduler", "cron(30 5 * * ? *)"),
  infrastructureExport: schedule("scheduler", "cron(0 3 * * ? *)"),
  codeBackup: schedule("scheduler", "cron(0 4 * * ? *)"),
  replicationCheck: schedule("scheduler", "cron(20 * * * ? *)"),
});

const rule = z.strictObject({
  id: text(/^[A-Za-z0-9_-]{1,255}$/, "a rule id of letters, digits, _ and -"),
  prefix: text(/^[A-Za-z0-9!_.*'()/-]{0,1024}$/, "an S3 key prefix such as media/"),
  storageClass: oneOf(["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"]).default(
    "STANDARD_IA",
  ),
  rtcMinutes: z
    .union(
      [z.literal(15), z.null()],
      "15 (the only value S3 Replication Time Control supports), or null to turn RTC off",
    )
    .default(15),
  metricsMinutes: z.literal(15, "15 (the replication metrics event threshold S3 supports)").default(15),
  deleteMarkers: bool.default(true),
});

const alerts = z
  .strictObject({
    emails: z.array(text(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "an e-mail address"), "a list of e-mail addresses").default([]),
    httpsEndpoints: z
      .array(text(/^https:\/\/[^\s]+$/, "an https:// URL (plain http is not allowed)"), "a list of https:// URLs")
      .default([]),
  })
  .refine(
    (a) => a.emails.length + a.httpsEndpoints.length > 0,
    "at least one destination in emails or httpsEndpoints (failures must reach someone)",
  );

const dns = z.strictObject({
  hostedZoneId: text(/^Z[A-Z0-9]{1,31}$/, "a Route 53 hosted zone id such as Z123456789ABC"),
  recordName: text(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "a DNS name such as api.eventchain.com"),
  recordType: oneOf(["CNAME"]).default("CNAME"),
  ttl: int(1, 300, "an integer number of seconds from 1 to 300 (failover waits for it)").default(60),
  primaryTarget: text(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "the DNS name of the primary region's load balancer"),
  primarySetIdentifier: text(/^[A-Za-z0-9_-]{1,128}$/, "a set identifier").default("primary"),
  secondarySetIdentifier: text(/^[A-Za-z0-9_-]{1,128}$/, "a set identifier").default("secondary"),
  // What moves traffic (docs/failover-switch.md): "switch" = only the runbooks, through the
  // latched data-plane switch; "automatic" = the endpoint health check (refused towards a pilot
  // light, see rules.ts).
  failoverMode: oneOf(FAILOVER_MODES).default("switch"),
  healthCheck: z
    .strictObject({
      path: text(/^\/[^\s]*$/, "a path starting with /").default("/health"),
      port: int(1, 65535, "a port from 1 to 65535").default(443),
      intervalSeconds: z
        .union([z.literal(10), z.literal(30)], "10 or 30 (the intervals Route 53 supports)")
        .default(30),
      failureThreshold: int(1, 10, "an integer from 1 to 10").default(3),
    })
    .prefault({}),
});

const service = (name: string, count: number, port: number) =>
  z.strictObject({
    name: text(/^[A-Za-z0-9_-]{1,255}$/, "an ECS service name").default(name),
    recoveryCount: int(1, 100, "an integer desired count from 1 to 100 when this region takes traffic").default(count),
    standbyCount: int(
      0,
      100,
      "an integer desired count from 0 to 100 while the region does not take traffic (0 = pilot light)",
    ).default(0),
    containerPort: int(1, 65535, "a port from 1 to 65535").default(port),
    repository: text(/^[a-z0-9][a-z0-9._/-]*$/, "an ECR repository name").default(`eventchain/${name.split("-")[1]}`),
    imageTag: text(/^[A-Za-z0-9_.-]{1,128}$/, "an image tag").default("stable"),
    targetGroupArn: arn("elasticloadbalancing").optional(),
  });

/**
 * WAL archiving of the self-managed PostgreSQL path (pgBackRest), which the drill rehearses:
 * what a crash can lose is the WAL not yet in the repository.
 */
const walArchiving = z.strictObject({
  archiveTimeoutSeconds: int(
    1,
    3600,
    "an integer number of seconds from 1 to 3600 (PostgreSQL's archive_timeout; 0 would turn it off, and with few writes no segment would ever be archived)",
  ).default(60),
  streaming: oneOf(["off", "pg_receivewal"]).default("off"),
  /** How the pgBackRest repository compresses backups and WAL (docs/config-reference.md: the measured trade-off). */
  repositoryCompression: oneOf(["lz4", "zst", "none"]).default("lz4"),
});

export const stackConfigSchema = z.strictObject({
  role: oneOf(["primary", "dr"]),
  region,
  peerStack: text(/^[A-Za-z0-9_./-]+$/, "the name of the other stack of the pair (e.g. dr or prod)"),
  peerRegion: region,
  objectives: z.strictObject({ critical: objective, important: objective, standard: objective }),
  classification: z.strictObject(
    Object.fromEntries(SYSTEM_IDS.map((id) => [id, tier])) as Record<(typeof SYSTEM_IDS)[number], typeof tier>,
  ),
  database: database.prefault({}),
  backup: backup.prefault({}),
  schedules: schedules.prefault({}),
  replication: z
    .strictObject({
      rules: z.array(rule, "a list of replication rules").default([
        {
          id: "EventChainMediaReplication",
          prefix: "media/",
          storageClass: "STANDARD_IA",
          rtcMinutes: 15,
          metricsMinutes: 15,
          deleteMarkers: true,
        },
      ]),
    })
    .prefault({}),
  alerts,
  dns,
  codeAndImages: z
    .strictObject({
      repositories: z
        .array(text(/^[a-z0-9][a-z0-9._/-]*$/, "an ECR repository name"), "a list of ECR repository names")
        .default(["eventchain/backend", "eventchain/frontend"]),
    })
    .prefault({}),
  cache: z
    .strictObject({
      replicationGroupId: text(
        /^[a-z][a-z0-9-]{0,39}$/,
        "an ElastiCache replication group id (lowercase, at most 40 characters)",
      ).default("eventchain-prod-redis"),
      nodeType: text(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, "an ElastiCache node type such as cache.r6g.large").default(
        "cache.r6g.large",
      ),
      engineVersion: text(/^[67](\.\d+)?$/, "a Redis engine version string 6.x or 7.x").default("7.1"),
      numCacheClusters: int(2, 6, "an integer from 2 to 6 (Multi-AZ needs 2)").default(2),
      snapshotRetentionDays: int(1, 35, "an integer number of days from 1 to 35 (ElastiCache limit)").default(7),
      snapshotWindow: dailyWindow(60, "04:00-05:00"),
      maintenanceWindow: weeklyWindow(60, "sun:06:00-sun:07:00"),
    })
    .prefault({}),
  network: z.strictObject({
    vpcId: text(/^vpc-[0-9a-f]{8,17}$/, "a VPC id vpc-xxxxxxxx"),
    privateSubnetIds: subnets.min(2, "at least 2 subnet ids in different availability zones"),
    publicSubnetIds: subnets.default([]),
    appSecurityGroupIds: z
      .array(text(/^sg-[0-9a-f]{8,17}$/, "a security group id sg-xxxxxxxx"), "a list of security group ids")
      .default([]),
  }),
  services: z.strictObject({
    clusterName: text(/^[A-Za-z0-9_-]{1,255}$/, "an ECS cluster name"),
    certificateArn: arn("acm").optional(),
    // The primary region's load balancer (not declared here): its error-rate alarm is declared by
    // the primary stack with the same definition as the DR one.
    loadBalancerArn: arn("elasticloadbalancing").optional(),
    backend: service("eventchain-backend", 3, 3001).prefault({}),
    frontend: service("eventchain-frontend", 2, 3000).prefault({}),
    errorRateThresholdPercent: z
      .number("a number of percent from 0.1 to 100")
      .min(0.1, "a number of percent from 0.1 to 100")
      .max(100, "a number of percent from 0.1 to 100")
      .default(5),
  }),
  logicalBackups: z
    .strictObject({
      repository: text(/^[a-z0-9][a-z0-9._/-]*$/, "an ECR repository name").default("eventchain/backup-jobs"),
      imageTag: text(/^[A-Za-z0-9_.-]{1,128}$/, "an image tag").default("stable"),
      cpu: z
        .union(
          [256, 512, 1024, 2048, 4096].map((n) => z.literal(n)) as [z.ZodLiteral<number>, ...z.ZodLiteral<number>[]],
          "one of 256, 512, 1024, 2048, 4096 (Fargate CPU units)",
        )
        .default(1024),
      memoryMiB: int(512, 30720, "an integer number of MiB from 512 to 30720").default(4096),
      pulumiStateBucket: text(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        "the S3 bucket of the Pulumi state backend (PULUMI_BACKEND_URL s3://<bucket>), read by the infrastructure export",
      ).optional(),
      appConfigDirs: z
        .array(
          text(
            /^\/(?!.*(^|\/)\.kube(\/|$))(?!.*\/\.\.?(\/|$))[A-Za-z0-9._/-]+$/,
            "an absolute directory path (no .kube: kubeconfig holds credentials and is never archived)",
          ),
          "a list of absolute directory paths",
        )
        .default(["/etc/eventchain", "/opt/eventchain/configs"]),
      appConfigFileSystemId: text(
        /^fs-[0-9a-f]{8,17}$/,
        "the EFS file system id fs-xxxxxxxx holding appConfigDirs (mounted read-only into the infrastructure export)",
      ).optional(),
      codeRepository: z
        .strictObject({
          url: text(
            /^https:\/\/[A-Za-z0-9.-]+(:\d+)?\/[A-Za-z0-9._/-]+$/,
            "an https:// git URL without credentials, e.g. https://github.com/eventchain/eventchain.git",
          ),
          tokenSecretArn: arn("secretsmanager").optional(),
        })
        .optional(),
    })
    .prefault({}),
  walArchiving: walArchiving.prefault({}),
  kubernetes: z
    .strictObject({
      enabled: bool.default(false),
      namespace: text(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a Kubernetes namespace name").default("eventchain"),
      appDeployment: text(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "a Kubernetes deployment name").default(
        "eventchain-backend",
      ),
      oidcProviderArn: arn("iam").optional(),
      oidcIssuer: text(
        /^[a-z0-9.-]+(\/[A-Za-z0-9._-]+)*$/,
        "the OIDC issuer without https://, e.g. oidc.eks.us-east-1.amazonaws.com/id/ABC",
      ).optional(),
      exportSecrets: bool.default(false),
      exportApiGroups: z
        .array(
          text(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "an API group name such as apps or ticketing.eventchain.io"),
          "a list of API group names",
        )
        .default([...DEFAULT_EXPORT_API_GROUPS]),
    })
    .prefault({}),
});
