/**
 * Every number the posture model uses that is not read from the declared resources, with its
 * source. `kind` says how much to trust it:
 * - `documented`: stated by the service's own documentation (URL given);
 * - `assumed`: no published figure exists; a conservative assumption, to be replaced by what a
 *   drill measures (the runbook journals record each phase's duration).
 *
 * Declared values (retention, schedules, RTC minutes, health-check interval and threshold, TTL,
 * allocated storage, desired counts) are never repeated here: the model reads them from the
 * resources `evaluateStack` returns.
 */

export type FigureKind = "documented" | "assumed";

export interface Figure {
  /** The value, in `unit`. */
  value: number;
  unit: "minutes" | "MiB/s" | "GiB";
  kind: FigureKind;
  /** What the figure means, in one sentence. */
  meaning: string;
  /** Where it comes from: a documentation URL, or the reasoning behind an assumption. */
  source: string;
}

export const FIGURES = {
  rdsLogUploadInterval: {
    value: 5,
    unit: "minutes",
    kind: "documented",
    meaning:
      "RDS uploads the transaction logs of an instance to S3 every 5 minutes: the latest restorable time of point-in-time restore lags by up to this much.",
    source:
      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html and https://repost.aws/knowledge-center/rds-point-in-time-restore-issues ('RDS uploads transaction logs for DB instances to Amazon S3 every five minutes')",
  },
  rdsCrossRegionLogCopyLag: {
    value: 5,
    unit: "minutes",
    kind: "assumed",
    meaning:
      "Extra lag of transaction logs replicated to the DR region by cross-Region automated backups, on top of the upload interval.",
    source:
      "RDS starts the cross-Region copy of snapshots and logs 'as soon as they are ready' (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html) but publishes no bound; 5 minutes assumed, check the replicated backup's RestoreWindow.LatestTime in drills.",
  },
  rdsRestoreProvisioning: {
    value: 15,
    unit: "minutes",
    kind: "assumed",
    meaning:
      "Time for RDS to create the new instance of a snapshot or point-in-time restore before it is available, independent of size.",
    source:
      "AWS publishes no figure; 15 minutes assumed for a single-AZ PostgreSQL instance, to be replaced by the drill's measured restore phase.",
  },
  rdsPitrLogReplay: {
    value: 10,
    unit: "minutes",
    kind: "assumed",
    meaning: "Replay of the transaction logs between the restored daily snapshot and the target time.",
    source:
      "Depends on write volume (https://repost.aws/knowledge-center/rds-mysql-pitr-periods lists the factors); 10 minutes assumed for a day of EventChain writes, bench/ measures our own WAL replay rate.",
  },
  gp3BaselineThroughput: {
    value: 125,
    unit: "MiB/s",
    kind: "documented",
    meaning:
      "Baseline throughput of RDS gp3 storage below 400 GiB (PostgreSQL); a restored volume is read at this rate while it hydrates from S3.",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage",
  },
  gp3LargeThroughput: {
    value: 500,
    unit: "MiB/s",
    kind: "documented",
    meaning: "Baseline throughput of RDS gp3 storage at 400 GiB and above (PostgreSQL).",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage",
  },
  gp3LargeThreshold: {
    value: 400,
    unit: "GiB",
    kind: "documented",
    meaning: "Allocated storage from which RDS gp3 (PostgreSQL) gets the higher baseline.",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage",
  },
  rdsAutomatedSnapshotInterval: {
    value: 1440,
    unit: "minutes",
    kind: "documented",
    meaning:
      "RDS takes its automated snapshot once a day, in the backup window: without the transaction logs (PITR) that is the loss.",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html",
  },
  elasticacheSnapshotInterval: {
    value: 1440,
    unit: "minutes",
    kind: "documented",
    meaning: "ElastiCache takes its automatic backup once a day, in the snapshot window.",
    source: "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/backups-automatic.html",
  },
  s3RtcThreshold: {
    value: 15,
    unit: "minutes",
    kind: "documented",
    meaning:
      "S3 Replication Time Control replicates 99.99% of objects within 15 minutes (backed by an SLA); the remaining 0.01% is the residual risk.",
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html",
  },
  ecrReplicationLag: {
    value: 30,
    unit: "minutes",
    kind: "assumed",
    meaning: "Time for a pushed image to reach the DR region through ECR private-registry replication.",
    source:
      "ECR replication is asynchronous with no published bound (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html); 30 minutes assumed, and CI can re-push an image from its build cache.",
  },
  backupDefaultStartWindow: {
    value: 480,
    unit: "minutes",
    kind: "documented",
    meaning: "An AWS Backup rule without startWindow may start its job up to 8 hours after the scheduled time.",
    source: "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html (StartWindowMinutes)",
  },
  backupCrossRegionCopy: {
    value: 60,
    unit: "minutes",
    kind: "assumed",
    meaning: "Time for an AWS Backup cross-Region copy job to finish after the backup job.",
    source:
      "AWS publishes no bound (https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html); 60 minutes assumed for an incremental RDS snapshot copy.",
  },
  elasticacheRestoreProvisioning: {
    value: 20,
    unit: "minutes",
    kind: "assumed",
    meaning: "Time to create an ElastiCache replication group seeded from a snapshot.",
    source: "AWS publishes no figure; 20 minutes assumed for a small replication group.",
  },
  serviceScaleUp: {
    value: 10,
    unit: "minutes",
    kind: "assumed",
    meaning:
      "Time for the DR pilot-light ECS services to go from desired count 0 to their recovery counts with healthy targets.",
    source:
      "Fargate task start plus target-group health checks; 10 minutes assumed, the region-failover runbook measures it.",
  },
  failoverDecision: {
    value: 10,
    unit: "minutes",
    kind: "assumed",
    meaning:
      "Time for the on-call to confirm a regional failure and start the failover runbook after the health check trips.",
    source: "Human step; 10 minutes assumed (the plan's 'Immediate actions' phase).",
  },
} as const satisfies Record<string, Figure>;

export type FigureId = keyof typeof FIGURES;

/** Figures the model uses, in the order they are listed in reports. */
export const FIGURE_IDS = Object.keys(FIGURES) as FigureId[];
