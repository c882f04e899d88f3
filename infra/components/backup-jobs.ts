import * as pulumi from "@pulumi/pulumi";
import {
  BACKUP_JOB_ENV,
  JOB_FAILURE_METRIC,
  JOB_OUTPUTS_DIR,
  JOB_OUTPUTS_KEY,
  JOB_RDS_CA_BUNDLE,
  JOB_SCRATCH_DIR,
  JOB_STATE_DIR,
  JOB_SUCCESS_METRIC,
} from "../../contract/jobs.ts";
import type { Statement } from "./iam.ts";
import { DR_READINESS_JOB } from "../../contract/dr-readiness.ts";
import { OUTPUTS_MIRROR } from "../../contract/stack-outputs.ts";
import type { ExportScope } from "../../contract/kubernetes-export-scope.ts";

/**
 * The scheduled backup jobs of the plan, whichever runner (EventBridge Scheduler → ECS, or
 * Kubernetes CronJobs) runs them: one definition of each job and its schedule, shared by both.
 */
export interface BackupJob {
  /** Job id, e.g. database-dump: the BACKUP_JOB value, the metrics' Job dimension, resource names. */
  id: string;
  /** Runbook the job's container runs (`runbooks/<runbook>.ts`). */
  runbook: string;
  /** One line: what the job backs up. */
  description: string;
  /** EventBridge/Scheduler cron or rate expression (converted for Kubernetes). */
  schedule: string;
  /** Runbook options after the common ones. */
  args: string[];
  /** Directories the job reads from an EFS file system, mounted read-only at the same paths. */
  appConfig?: { fileSystemId: string; directories: string[] };
}

export interface BackupJobsInput {
  schedules: {
    logicalBackup: string;
    redisExport: string;
    infrastructureExport: string;
    codeBackup: string;
    replicationCheck: string;
  };
  /** Bucket of the Pulumi state backend the infrastructure export copies. */
  pulumiStateBucket: string;
  /** App-config directories the infrastructure export archives, and the EFS file system holding them. */
  appConfigDirs: string[];
  appConfigFileSystemId?: string;
  /** Repository the code bundle backs up, and the secret holding a read-only token for it. */
  codeRepository: { url: string; tokenSecretArn?: string };
  /** What the export reads from Kubernetes (when the jobs run there). */
  kubernetesScope: ExportScope;
  /** Whether the database's automated backups are replicated to the peer (the replication check runs then). */
  replicatedBackups: boolean;
  /**
   * The DR readiness check's freshness limits (runbooks/check-dr-readiness.ts), from the stack's
   * schedules. Default: no readiness job.
   */
  drReadiness?: { maxCopyAgeMinutes: number; maxSnapshotAgeMinutes: number; maxRestoreTestAgeMinutes: number };
}

/** Label (CronJob) and tag (EventBridge schedule, ECS task) naming the backup job a resource runs. */
export const BACKUP_JOB_LABEL = "eventchain.io/backup-job";
export const BACKUP_JOB_TAG = "eventchain:backup-job";

/** The DR readiness check's job id, and its schedule: hourly, so a restore test's 2 h validation window is never missed. */
export { DR_READINESS_JOB };
export const DR_READINESS_SCHEDULE = "cron(17 * * * ? *)";

/** The replication check's job id (its heartbeat is the RDS automated-backup replication's). */
export const REPLICATION_CHECK_JOB = "replication-check";

/** The plan's daily jobs (database dump, Redis export, infrastructure export, code bundle) and the replication check. */
export function backupJobs(i: BackupJobsInput): BackupJob[] {
  const infraArgs = [
    "--pulumi-state-bucket",
    i.pulumiStateBucket,
    ...(i.appConfigDirs.length ? ["--config-dir", i.appConfigDirs.join(",")] : []),
    "--kubernetes-api-groups",
    i.kubernetesScope.apiGroups.join(","),
    ...(i.kubernetesScope.secrets ? ["--kubernetes-secrets"] : []),
  ];
  return [
    {
      id: "database-dump",
      runbook: "backup-database",
      description: "logical dump of the primary database (pg_dump), verified by reading it back",
      schedule: i.schedules.logicalBackup,
      args: [],
    },
    {
      id: "redis-export",
      runbook: "backup-redis",
      description: "ElastiCache snapshot exported to the backup bucket, checked and test-restored",
      schedule: i.schedules.redisExport,
      args: [],
    },
    {
      id: "infrastructure-export",
      runbook: "backup-infra",
      description: "Pulumi state, Kubernetes resources and the app-config archive",
      schedule: i.schedules.infrastructureExport,
      args: infraArgs,
      ...(i.appConfigDirs.length && i.appConfigFileSystemId
        ? { appConfig: { fileSystemId: i.appConfigFileSystemId, directories: i.appConfigDirs } }
        : {}),
    },
    {
      id: "code-bundle",
      runbook: "backup-code",
      description: "git bundle of every ref of the application repository, verified by cloning",
      schedule: i.schedules.codeBackup,
      args: [
        "--repository-url",
        i.codeRepository.url,
        ...(i.codeRepository.tokenSecretArn ? ["--repository-token-secret", i.codeRepository.tokenSecretArn] : []),
      ],
    },
    ...(i.replicatedBackups
      ? [
          {
            id: REPLICATION_CHECK_JOB,
            runbook: "check-backup-replication",
            description: "the database's automated backups replicated to the DR region are recent",
            schedule: i.schedules.replicationCheck,
            args: [],
          },
        ]
      : []),
    ...(i.drReadiness
      ? [
          {
            id: DR_READINESS_JOB,
            runbook: "check-dr-readiness",
            description:
              "what the DR region needs on the day (task definitions, images, database, secrets, keys, switch, outputs mirror) matches what is there; restore tests validated; copies, snapshots and images fresh",
            schedule: DR_READINESS_SCHEDULE,
            args: [
              "--publish-metrics",
              "--max-copy-age-minutes",
              String(i.drReadiness.maxCopyAgeMinutes),
              "--max-snapshot-age-minutes",
              String(i.drReadiness.maxSnapshotAgeMinutes),
              "--max-restore-test-age-minutes",
              String(i.drReadiness.maxRestoreTestAgeMinutes),
            ],
          },
        ]
      : []),
  ];
}

/** Where the job's outputs file is inside the container. */
export const JOB_OUTPUTS_PATH = `${JOB_OUTPUTS_DIR}/${JOB_OUTPUTS_KEY}`;

/**
 * The command a job's container runs, the same in Kubernetes and on ECS: the runbook under
 * Node (type stripping, no loader), outputs from the mounted file, journals in the scratch volume.
 */
export function jobCommand(job: BackupJob): string[] {
  return [
    "node",
    `runbooks/${job.runbook}.ts`,
    "--outputs",
    JOB_OUTPUTS_PATH,
    "--state-dir",
    JOB_STATE_DIR,
    "--yes",
    ...job.args,
  ];
}

/** The environment of a job's container (both runners). No credentials: the role comes from IRSA or the task. */
export function jobEnvironment(job: BackupJob, region: string): { name: string; value: string }[] {
  return [
    { name: "AWS_REGION", value: region },
    { name: BACKUP_JOB_ENV, value: job.id },
    { name: "PGSSLROOTCERT", value: JOB_RDS_CA_BUNDLE },
    { name: "HOME", value: JOB_SCRATCH_DIR },
    { name: "TMPDIR", value: JOB_SCRATCH_DIR },
  ];
}

/** Namespace and metrics a job publishes: JobFailed on failure, BackupSucceeded on verified success. */
export { BACKUP_JOB_ENV, JOB_FAILURE_METRIC, JOB_SUCCESS_METRIC };

const DOW = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/**
 * Converts an EventBridge `cron(m h dom mon dow year)` to a Kubernetes 5-field schedule.
 * @throws Error naming the expression when it uses what Kubernetes cannot express (rate(),
 *   a year, L, W or #).
 */
export function kubernetesSchedule(expression: string): string {
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1].trim().split(/\s+/);
  const refuse = (why: string) =>
    new Error(
      `schedule "${expression}" cannot run as a Kubernetes CronJob: ${why}; expected cron(m h dom mon dow *) without L, W or #`,
    );
  if (!fields || fields.length !== 6) throw refuse("not a cron() expression of 6 fields");
  const [minute, hour, dom, month, dow, year] = fields;
  if (year !== "*") throw refuse("a year field other than *");
  if (/[LW#]/.test(`${dom}${dow}`.replace(/[A-Z]{3}/g, (d) => (DOW.includes(d) ? "" : d))))
    throw refuse("L, W or # in a day field");
  if (dow.includes("/")) throw refuse("a step in the day-of-week field");
  const k8sDow = dow === "?" ? "*" : dow.replace(/\d/g, (d) => String(Number(d) - 1));
  return [minute, hour, dom === "?" ? "*" : dom, month, k8sDow].join(" ");
}

export interface JobPermissionsArgs {
  bucketArn: pulumi.Input<string>;
  bucketKeyArn: pulumi.Input<string>;
  /** Master-credentials secret of the database and the key it is encrypted with. */
  masterSecretArn: pulumi.Input<string>;
  databaseKeyArn: pulumi.Input<string>;
  /** ElastiCache replication group whose snapshots the Redis export copies. */
  replicationGroupId: pulumi.Input<string>;
  /** Where the state backend keeps the stacks' checkpoints (read-only for the infrastructure export). */
  pulumiStateBucket: string;
  /** Secret holding the code repository's read-only token, if any. */
  codeTokenSecretArn?: string;
  /** ECR repositories whose replication the code bundle checks (this region and the peer's). */
  ecrRepositories: string[];
  /** ARN of the automated backups replicated to the peer (the replication check reads it), if any. */
  replicatedBackupsArn?: pulumi.Input<string>;
  /** EFS file system holding the app-config directories (read-only mount), if any. */
  appConfigFileSystemId?: string;
  region: string;
  peerRegion: string;
  accountId: pulumi.Input<string>;
  /** Whether the DR readiness job runs (its read-only look at both regions, and its validation results). Default: false. */
  drReadiness?: boolean;
}

/**
 * What check-dr-readiness reads in both regions (Describe and List calls; those that take no
 * resource-level permission on "*"), and the one thing it writes: restore-test validation results.
 */
export function readinessStatements(a: JobPermissionsArgs): Statement[] {
  const both = [a.region, a.peerRegion];
  const arn = (service: string, region: string, resource: string) =>
    pulumi.interpolate`arn:aws:${service}:${region}:${a.accountId}:${resource}`;
  return [
    {
      Sid: "ReadinessDescribeWithoutResourceLevelPermissions",
      Effect: "Allow",
      // PutRestoreValidationResult too: its resource-level form could not be confirmed in AWS's documentation.
      Action: [
        "ecs:DescribeTaskDefinition",
        "backup:ListRestoreTestingPlans",
        "backup:ListRestoreJobs",
        "backup:PutRestoreValidationResult",
      ],
      Resource: ["*"],
    },
    {
      Sid: "ReadinessDescribeServicesDatabasesAlarms",
      Effect: "Allow",
      Action: [
        "ecs:DescribeServices",
        "rds:DescribeDBInstances",
        "rds:DescribeDBParameters",
        "cloudwatch:DescribeAlarms",
      ],
      Resource: both.flatMap((r) => [
        arn("ecs", r, "service/*"),
        arn("rds", r, "db:*"),
        arn("rds", r, "pg:*"),
        arn("cloudwatch", r, "alarm:*"),
      ]),
    },
    {
      Sid: "ReadinessDescribeDrSecretsAndKeys",
      Effect: "Allow",
      Action: ["secretsmanager:DescribeSecret", "kms:DescribeKey"],
      Resource: [arn("secretsmanager", a.peerRegion, "secret:*"), arn("kms", a.peerRegion, "key/*")],
    },
    {
      Sid: "ReadinessReadSwitchRecords",
      Effect: "Allow",
      Action: ["route53:GetHealthCheck", "route53:ListResourceRecordSets"],
      Resource: ["arn:aws:route53:::healthcheck/*", "arn:aws:route53:::hostedzone/*"],
    },
    {
      Sid: "ReadinessReadOutputsMirror",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [
        pulumi
          .output(a.accountId)
          .apply((id) => `arn:aws:s3:::${OUTPUTS_MIRROR.bucketName(id, a.peerRegion)}/${OUTPUTS_MIRROR.key("*")}`),
      ],
    },
    {
      Sid: "ReadinessDecryptOutputsMirrorThroughS3",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [arn("kms", a.peerRegion, "key/*")],
      Condition: { StringEquals: { "kms:ViaService": `s3.${a.peerRegion}.amazonaws.com` } },
    },
    {
      Sid: "ReadinessListDrCopies",
      Effect: "Allow",
      Action: ["backup:ListRecoveryPointsByBackupVault"],
      Resource: [arn("backup", a.peerRegion, "backup-vault:*")],
    },
  ];
}

/** Key prefixes the jobs write (the Redis export also reads what ElastiCache writes at the top level). */
const JOB_PREFIXES = ["database/", "redis/", "infrastructure/", "code/"];

// Long on purpose: one IAM statement per grant, each with its resources and the reason it is needed.
/**
 * Least privilege for the backup jobs: named actions on named resources. The backup key may
 * encrypt (data keys for uploads and for the Secrets envelope) but decrypts only through S3
 * (multipart uploads and reading a backup back to verify it): no job can decrypt an envelope
 * such as the Kubernetes Secrets export directly; a restore is done by an operator's role.
 */
export function jobStatements(a: JobPermissionsArgs): Statement[] {
  const viaS3 = { StringEquals: { "kms:ViaService": `s3.${a.region}.amazonaws.com` } };
  return [
    {
      Sid: "WriteAndVerifyBackups",
      Effect: "Allow",
      Action: [
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectAttributes",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
      ],
      Resource: JOB_PREFIXES.map((p) => pulumi.interpolate`${a.bucketArn}/${p}*`),
    },
    {
      Sid: "ReadElastiCacheExports",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [pulumi.interpolate`${a.bucketArn}/redis-export-*`],
    },
    { Sid: "ListBackups", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [a.bucketArn] },
    {
      Sid: "EncryptBackups",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Encrypt"],
      Resource: [a.bucketKeyArn],
    },
    {
      Sid: "DecryptBackupsOnlyThroughS3",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [a.bucketKeyArn],
      Condition: viaS3,
    },
    {
      Sid: "ReadDatabaseCredentials",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [a.masterSecretArn],
    },
    ...(a.codeTokenSecretArn
      ? [
          {
            Sid: "ReadCodeRepositoryToken",
            Effect: "Allow" as const,
            Action: ["secretsmanager:GetSecretValue"],
            Resource: [a.codeTokenSecretArn],
          },
        ]
      : []),
    {
      Sid: "DecryptDatabaseCredentialsThroughSecretsManager",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [a.databaseKeyArn],
      Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${a.region}.amazonaws.com` } },
    },
    {
      Sid: "ExportRedisSnapshots",
      Effect: "Allow",
      Action: [
        "elasticache:DescribeSnapshots",
        "elasticache:CopySnapshot",
        "elasticache:CreateSnapshot",
        "elasticache:DeleteSnapshot",
      ],
      Resource: [
        pulumi.interpolate`arn:aws:elasticache:${a.region}:${a.accountId}:replicationgroup:${a.replicationGroupId}`,
        pulumi.interpolate`arn:aws:elasticache:${a.region}:${a.accountId}:snapshot:${a.replicationGroupId}-backup-*`,
        pulumi.interpolate`arn:aws:elasticache:${a.region}:${a.accountId}:snapshot:automatic.${a.replicationGroupId}-*`,
      ],
    },
    {
      Sid: "ReadPulumiState",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [`arn:aws:s3:::${a.pulumiStateBucket}/.pulumi/stacks/*`],
    },
    {
      Sid: "CompareReplicatedImages",
      Effect: "Allow",
      Action: ["ecr:DescribeImages"],
      Resource: [a.region, a.peerRegion].flatMap((r) =>
        a.ecrRepositories.map((repo) => pulumi.interpolate`arn:aws:ecr:${r}:${a.accountId}:repository/${repo}`),
      ),
    },
    ...(a.appConfigFileSystemId
      ? [
          {
            Sid: "MountAppConfigReadOnly",
            Effect: "Allow" as const,
            Action: ["elasticfilesystem:ClientMount"],
            Resource: [
              pulumi.interpolate`arn:aws:elasticfilesystem:${a.region}:${a.accountId}:file-system/${a.appConfigFileSystemId}`,
            ],
          },
        ]
      : []),
    ...(a.replicatedBackupsArn
      ? [
          {
            Sid: "CheckReplicatedDatabaseBackups",
            Effect: "Allow" as const,
            Action: ["rds:DescribeDBInstanceAutomatedBackups"],
            Resource: [a.replicatedBackupsArn],
          },
        ]
      : []),
    ...(a.drReadiness ? readinessStatements(a) : []),
    {
      Sid: "ReportOutcomes",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      Resource: ["*"],
      Condition: { StringEquals: { "cloudwatch:namespace": JOB_FAILURE_METRIC.namespace } },
    },
  ];
}
