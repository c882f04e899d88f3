import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { VerifiedPathId } from "../../contract/dr-readiness.ts";
import { heartbeatWindowMinutes } from "../config/validators.ts";
import {
  DR_READINESS_JOB,
  JOB_FAILURE_METRIC,
  JOB_SUCCESS_METRIC,
  REPLICATION_CHECK_JOB,
  type BackupJob,
} from "./backup-jobs.ts";

/**
 * Where a watched metric comes from: who publishes it, in which region (the alarm is declared
 * there: a CloudWatch alarm sees only its own region's metrics), and the document that says so
 * for its namespace, name and dimensions.
 */
export interface MetricSource {
  publisher: "aws" | "eventchain";
  /** The region the metric is published in; the alarm lives there. */
  region: string;
  /** For AWS metrics, the AWS documentation page (URL) and what it says; for ours, the code that publishes it. */
  citation: string;
}

/** A CloudWatch metric an alarm watches. */
export interface WatchedMetric {
  namespace: string;
  metricName: string;
  dimensions: Record<string, pulumi.Input<string>>;
  source: MetricSource;
}

/**
 * AWS Backup's job metrics, as AWS documents them: "AWS Backup metrics with Amazon CloudWatch",
 * AWS Backup Developer Guide, https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html
 * — namespace `AWS/Backup`; `NumberOfBackupJobsCompleted` "the number of backup jobs that AWS
 * Backup finished"; dimensions "resource type, vault name"; emitted every 5 minutes; the metrics
 * are account- and Region-specific (a backup job runs, and is counted, in its vault's Region). The
 * page names the dimension "vault name"; `BackupVaultName` is its key as the CloudWatch console
 * lists the metric (the page says to look dimensions up there). It also says "the vault name of
 * copy jobs is that of their destination vault" but not in which Region a cross-Region copy job
 * is counted, so the DR copies are not watched through `NumberOfCopyJobsCompleted`: their
 * heartbeat is our own check of the DR vault (`verifiedPath`).
 */
export const AWS_BACKUP_METRICS_DOC = "https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html";

/** Our job metrics: contract/jobs.ts, published by runbooks/aws/alert-topic-sinks.ts in the job's stack region. */
const ourJobMetric = (region: string): MetricSource => ({
  publisher: "eventchain",
  region,
  citation:
    "contract/jobs.ts JOB_SUCCESS_METRIC / JOB_FAILURE_METRIC (EventChain/Backups, dimensions Job and Stack), published with PutMetricData by runbooks/aws/alert-topic-sinks.ts in the job's stack region",
});

/** A scheduled way a backup is made, what records its verified successes, and what records its failures. */
export interface BackupPath {
  /** Stable id, e.g. `database-dump`, `aws-backup-jobs`. */
  id: string;
  /** One line for alarm descriptions and the posture report. */
  description: string;
  /** The schedules whose runs each record a success (their union). */
  schedules: string[];
  /** Counts verified successes: the heartbeat. */
  success: WatchedMetric;
  /**
   * Counts failures, alarmed at once (scheduled jobs). AWS Backup's failed, aborted and expired
   * jobs reach the alert topic through the EventBridge rules of `Alerts` instead.
   */
  failure?: WatchedMetric;
}

/** Tag carried by every alarm of a backup path: the path id (the posture report and policy pack read it). */
export const BACKUP_PATH_TAG = "eventchain:backup-path";
export const ALARM_KIND_TAG = "eventchain:alarm-kind";
/** Tag of a heartbeat alarm: who publishes its metric and where (`aws:us-east-1`, `eventchain:us-east-1`). */
export const METRIC_SOURCE_TAG = "eventchain:metric-source";

/** The heartbeat alarm's single period: 1.5 × the longest gap of the path's schedules, in seconds. */
export function heartbeatPeriodSeconds(schedules: readonly string[]): number {
  return heartbeatWindowMinutes(schedules) * 60;
}

/** The backup path a job's runs are the heartbeat of: its own, or (the replication check) RDS replication's. */
export const pathIdOfJob = (jobId: string) => (jobId === REPLICATION_CHECK_JOB ? "rds-backup-replication" : jobId);

/** The backup path of a scheduled job: its own success and failure metrics. */
export function jobPath(job: BackupJob, stack: string, region: string, peerRegion: string): BackupPath {
  const dimensions = { Job: job.id, Stack: stack };
  const source = ourJobMetric(region);
  return {
    id: pathIdOfJob(job.id),
    description:
      job.id === REPLICATION_CHECK_JOB
        ? `RDS automated-backup replication to ${peerRegion} (the ${job.id} job checks the latest restorable time there)`
        : `${job.id}: ${job.description}`,
    schedules: [job.schedule],
    success: { ...JOB_SUCCESS_METRIC, dimensions, source },
    failure: { ...JOB_FAILURE_METRIC, dimensions, source },
  };
}

/**
 * The backup paths AWS publishes no metric for that we can alarm on with confidence, each checked
 * by what it leaves behind and recorded by check-dr-readiness (`--publish-metrics`, the
 * `DR_READINESS_JOB` job) as `BackupSucceeded` with Job = the path id: its heartbeat fires when
 * the path stops, and also when the readiness job stops (the alarm says so).
 */
export const VERIFIED_PATHS = {
  "aws-backup-dr-copies":
    "AWS Backup copies of every recovery point in the DR vault (the newest completed copy checked in the DR region)",
  "elasticache-snapshots":
    "ElastiCache automatic snapshots of the replication group (the newest automatic snapshot checked)",
  "ecr-replication": "ECR replication of every image prod runs to the DR registry (each image looked up in DR)",
  "restore-tests": "AWS Backup restore tests of the DR copies, validated by our checks (PutRestoreValidationResult)",
} as const satisfies Record<VerifiedPathId, string>;

/** A path verified by check-dr-readiness: recorded in `region` on the readiness job's schedule. */
export function verifiedPath(
  id: VerifiedPathId,
  stack: string,
  region: string,
  readinessSchedule: string,
  extra = "",
): BackupPath {
  return {
    id,
    description: `${VERIFIED_PATHS[id]}${extra}; recorded by the ${DR_READINESS_JOB} job (check-dr-readiness), so this also fires when that job stops`,
    schedules: [readinessSchedule],
    success: { ...JOB_SUCCESS_METRIC, dimensions: { Job: id, Stack: stack }, source: ourJobMetric(region) },
  };
}

/**
 * The AWS Backup plan's own jobs, watched with AWS Backup's metric in the vault's region
 * (`AWS_BACKUP_METRICS_DOC`). Its copies to the DR vault are a verified path instead.
 */
export function awsBackupPaths(a: {
  vaultName: pulumi.Input<string>;
  region: string;
  schedules: string[];
}): BackupPath[] {
  return [
    {
      id: "aws-backup-jobs",
      description: "AWS Backup plan jobs (database snapshots and the daily full backup)",
      schedules: a.schedules,
      success: {
        namespace: "AWS/Backup",
        metricName: "NumberOfBackupJobsCompleted",
        dimensions: { BackupVaultName: a.vaultName },
        source: {
          publisher: "aws",
          region: a.region,
          citation: `${AWS_BACKUP_METRICS_DOC}: namespace AWS/Backup, NumberOfBackupJobsCompleted ("the number of backup jobs that AWS Backup finished"), dimension vault name (key BackupVaultName), account- and Region-specific, every 5 minutes`,
        },
      },
    },
  ];
}

export interface BackupHeartbeatsArgs {
  /** Stack name (alarm names). */
  stack: string;
  /** Every backup path of the stack. */
  paths: BackupPath[];
  /** Where the alarms go (the alert topic). */
  alarmTopicArn: pulumi.Input<string>;
}

/**
 * For every backup path, a heartbeat alarm that fires when no verified success has been
 * recorded within 1.5 × the path's schedule (missing data breaches: a job that never starts,
 * dies before the runbook engine, or lost a permission leaves the metric empty), and, for
 * scheduled jobs, an alarm that fires at once on a failure. Neither notifies on success or
 * recovery: failures only.
 */
export class BackupHeartbeats extends pulumi.ComponentResource {
  /** Heartbeat alarm of each path, by path id. */
  readonly heartbeats: Record<string, aws.cloudwatch.MetricAlarm> = {};
  readonly failures: Record<string, aws.cloudwatch.MetricAlarm> = {};

  constructor(name: string, args: BackupHeartbeatsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:BackupHeartbeats", name, {}, opts);
    const parent = { parent: this };
    const ids = args.paths.map((p) => p.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) throw new Error(`backup path "${dup}" is declared twice; expected one heartbeat per path`);
    for (const path of args.paths) {
      const period = heartbeatPeriodSeconds(path.schedules);
      this.heartbeats[path.id] = new aws.cloudwatch.MetricAlarm(
        `${name}-${path.id}`,
        {
          name: `eventchain-${args.stack}-${path.id}-heartbeat`,
          alarmDescription:
            `No verified success of ${path.description} within ${period / 60} min (1.5 × its schedule ${path.schedules.join(" + ")}): backups may have stopped. Runbook: docs/backup-runbooks.md#when-backups-stop. Metric source (${path.success.source.publisher}, ${path.success.source.region}): ${path.success.source.citation}`.slice(
              0,
              1024,
            ),
          region: path.success.source.region,
          namespace: path.success.namespace,
          metricName: path.success.metricName,
          dimensions: path.success.dimensions,
          statistic: "Sum",
          period,
          evaluationPeriods: 1,
          threshold: 1,
          comparisonOperator: "LessThanThreshold",
          treatMissingData: "breaching",
          alarmActions: [args.alarmTopicArn],
          tags: {
            [BACKUP_PATH_TAG]: path.id,
            [ALARM_KIND_TAG]: "heartbeat",
            [METRIC_SOURCE_TAG]: `${path.success.source.publisher}:${path.success.source.region}`,
          },
        },
        parent,
      );
      if (path.failure) {
        this.failures[path.id] = new aws.cloudwatch.MetricAlarm(
          `${name}-${path.id}-failed`,
          {
            name: `eventchain-${args.stack}-${path.id}-failed`,
            alarmDescription: `${path.description} failed. Runbook: docs/backup-runbooks.md#when-backups-stop`,
            region: path.failure.source.region,
            namespace: path.failure.namespace,
            metricName: path.failure.metricName,
            dimensions: path.failure.dimensions,
            statistic: "Sum",
            period: 300,
            evaluationPeriods: 1,
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
            // No failure recorded is not a failure; the heartbeat catches runs that never report.
            treatMissingData: "notBreaching",
            alarmActions: [args.alarmTopicArn],
            tags: { [BACKUP_PATH_TAG]: path.id, [ALARM_KIND_TAG]: "failure" },
          },
          parent,
        );
      }
    }
    this.registerOutputs({
      heartbeats: Object.fromEntries(Object.entries(this.heartbeats).map(([id, a]) => [id, a.name])),
    });
  }
}
