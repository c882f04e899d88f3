import * as pulumi from "@pulumi/pulumi";
import { BACKUP_JOB_ENV, JOB_FAILURE_METRIC } from "../outputs.ts";
import type { Statement } from "./iam.ts";

/** The scheduled logical-backup jobs, whichever runner (ECS or Kubernetes) runs them. */
export interface BackupJob {
  /** Job name, e.g. database-dump. */
  id: string;
  /** Runbook the job's container runs (from runbooks/). */
  runbook: string;
  /** EventBridge/Scheduler cron or rate expression. */
  schedule: string;
  /** Only meaningful inside a Kubernetes cluster (the cluster-configuration export). */
  kubernetesOnly?: boolean;
}

/** The jobs of the plan: logical database dump, Redis snapshot export, cluster-config export. */
export function backupJobs(schedules: {
  logicalBackup: string;
  redisExport: string;
  clusterConfigExport: string;
}): BackupJob[] {
  return [
    { id: "database-dump", runbook: "runbooks/backup-database.ts", schedule: schedules.logicalBackup },
    { id: "redis-export", runbook: "runbooks/backup-redis.ts", schedule: schedules.redisExport },
    {
      id: "cluster-config-export",
      runbook: "runbooks/backup-infra.ts",
      schedule: schedules.clusterConfigExport,
      kubernetesOnly: true,
    },
  ];
}

/** The command a job's container runs. */
export function jobCommand(job: BackupJob, stack: string): string[] {
  return ["npx", "tsx", job.runbook, "--stack", stack, "--yes"];
}

/** Namespace and metric a job publishes (value 1) when it fails; its alarm watches it. */
export { BACKUP_JOB_ENV, JOB_FAILURE_METRIC };

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
  region: string;
  accountId: pulumi.Input<string>;
}

/** Least privilege for the backup jobs: named actions on named resources, nothing else. */
export function jobStatements(a: JobPermissionsArgs): Statement[] {
  const prefixes = ["database/", "redis/", "infrastructure/", "code/"];
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
      Resource: prefixes.map((p) => pulumi.interpolate`${a.bucketArn}/${p}*`),
    },
    { Sid: "ListBackups", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [a.bucketArn] },
    {
      Sid: "EncryptBackups",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"],
      Resource: [a.bucketKeyArn],
    },
    {
      Sid: "ReadDatabaseCredentials",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [a.masterSecretArn],
    },
    { Sid: "DecryptDatabaseCredentials", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [a.databaseKeyArn] },
    {
      Sid: "ExportRedisSnapshots",
      Effect: "Allow",
      Action: ["elasticache:DescribeSnapshots", "elasticache:CopySnapshot", "elasticache:CreateSnapshot"],
      Resource: [
        pulumi.interpolate`arn:aws:elasticache:${a.region}:${a.accountId}:replicationgroup:${a.replicationGroupId}`,
        pulumi.interpolate`arn:aws:elasticache:${a.region}:${a.accountId}:snapshot:${a.replicationGroupId}-*`,
        pulumi.interpolate`arn:aws:elasticache:${a.region}:${a.accountId}:snapshot:automatic.${a.replicationGroupId}-*`,
      ],
    },
    {
      Sid: "ReportFailures",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      Resource: ["*"],
      Condition: { StringEquals: { "cloudwatch:namespace": JOB_FAILURE_METRIC.namespace } },
    },
  ];
}
