import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { heartbeatWindowMinutes } from "../config/validators.ts";
import { JOB_FAILURE_METRIC, JOB_SUCCESS_METRIC, REPLICATION_CHECK_JOB, type BackupJob } from "./backup-jobs.ts";

/** A CloudWatch metric an alarm watches. */
export interface WatchedMetric {
  namespace: string;
  metricName: string;
  dimensions: Record<string, pulumi.Input<string>>;
}

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

/** The heartbeat alarm's single period: 1.5 × the longest gap of the path's schedules, in seconds. */
export function heartbeatPeriodSeconds(schedules: readonly string[]): number {
  return heartbeatWindowMinutes(schedules) * 60;
}

/** The backup path a job's runs are the heartbeat of: its own, or (the replication check) RDS replication's. */
export const pathIdOfJob = (jobId: string) => (jobId === REPLICATION_CHECK_JOB ? "rds-backup-replication" : jobId);

/** The backup path of a scheduled job: its own success and failure metrics. */
export function jobPath(job: BackupJob, stack: string, peerRegion: string): BackupPath {
  const dimensions = { Job: job.id, Stack: stack };
  return {
    id: pathIdOfJob(job.id),
    description:
      job.id === REPLICATION_CHECK_JOB
        ? `RDS automated-backup replication to ${peerRegion} (the ${job.id} job checks the latest restorable time there)`
        : `${job.id}: ${job.description}`,
    schedules: [job.schedule],
    success: { ...JOB_SUCCESS_METRIC, dimensions },
    failure: { ...JOB_FAILURE_METRIC, dimensions },
  };
}

/**
 * The AWS Backup plan's paths, watched with AWS Backup's own job metrics (`AWS/Backup`,
 * dimension BackupVaultName; a copy job's vault is its destination vault).
 */
export function awsBackupPaths(a: {
  vaultName: pulumi.Input<string>;
  /** The DR vault copies go to; absent when the plan copies nothing. */
  copyVaultName?: pulumi.Input<string>;
  peerRegion: string;
  schedules: string[];
}): BackupPath[] {
  const paths: BackupPath[] = [
    {
      id: "aws-backup-jobs",
      description: "AWS Backup plan jobs (database snapshots and the daily full backup)",
      schedules: a.schedules,
      success: {
        namespace: "AWS/Backup",
        metricName: "NumberOfBackupJobsCompleted",
        dimensions: { BackupVaultName: a.vaultName },
      },
    },
  ];
  if (a.copyVaultName)
    paths.push({
      id: "aws-backup-dr-copies",
      description: `AWS Backup copies of every recovery point to the vault in ${a.peerRegion}`,
      schedules: a.schedules,
      success: {
        namespace: "AWS/Backup",
        metricName: "NumberOfCopyJobsCompleted",
        dimensions: { BackupVaultName: a.copyVaultName },
      },
    });
  return paths;
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
          alarmDescription: `No verified success of ${path.description} within ${period / 60} min (1.5 × its schedule ${path.schedules.join(" + ")}): backups may have stopped. Runbook: docs/backup-runbooks.md#when-backups-stop`,
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
          tags: { [BACKUP_PATH_TAG]: path.id, [ALARM_KIND_TAG]: "heartbeat" },
        },
        parent,
      );
      if (path.failure) {
        this.failures[path.id] = new aws.cloudwatch.MetricAlarm(
          `${name}-${path.id}-failed`,
          {
            name: `eventchain-${args.stack}-${path.id}-failed`,
            alarmDescription: `${path.description} failed. Runbook: docs/backup-runbooks.md#when-backups-stop`,
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
