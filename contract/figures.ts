/**
 * Every number the posture model uses that is not read from the declared resources, with its
 * source. `kind` says how much to trust it:
 * - `documented`: stated by the service's own documentation (URL given);
 * - `assumed`: no published figure exists; a conservative assumption, to be replaced by what a
 *   drill measures;
 * - `measured`: what drills measured on our machines, recorded with `npm run posture --
 *   --calibrate <report.json>` in `calibration.json` (run ids, dates and scales cited).
 *
 * `BASE_FIGURES` are the documented and assumed values; the ones in use are the base with every
 * figure a recorded measurement covers replaced by it (`infra/posture/figures.ts`).
 *
 * Declared values (retention, schedules, RTC minutes, health-check interval and threshold, TTL,
 * allocated storage, desired counts) are never repeated here: the model reads them from the
 * resources `evaluateStack` returns.
 */
export type FigureKind = "documented" | "assumed" | "measured";

export interface Figure {
  /** The value, in `unit`. */
  value: number;
  unit: "minutes" | "seconds" | "MiB/s" | "MB/s" | "MiB" | "GiB";
  kind: FigureKind;
  /** What the figure means, in one sentence. */
  meaning: string;
  /** Where it comes from: a documentation URL, the reasoning behind an assumption, or the runs measured. */
  source: string;
}

export const BASE_FIGURES = {
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
      "Depends on write volume (https://repost.aws/knowledge-center/rds-mysql-pitr-periods lists the factors); 10 minutes assumed for a day of EventChain writes, rehearsal/bench/ measures our own WAL replay rate.",
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
  // The self-managed path (pgBackRest: restore, WAL replay, verification, promotion), which
  // `npm run drill` rehearses; each is replaced by the drills' measurements once calibrated.
  selfManagedRestoreRate: {
    value: 150,
    unit: "MB/s",
    kind: "assumed",
    meaning:
      "pgBackRest restore of a base backup into a new data directory: bytes of the backup per second, beyond the fixed part.",
    source:
      "150 MB/s assumed (a posix repository restored 235 MB/s with lz4 on these machines, shared/notes/pgbackrest.md); replaced by the drill's measured restore phase.",
  },
  selfManagedRestoreFixed: {
    value: 1,
    unit: "seconds",
    kind: "assumed",
    meaning: "Fixed part of a pgBackRest restore (reading the backup's manifest, creating the directories).",
    source: "1 s assumed; replaced by the fit of the drills' restore phases at several sizes.",
  },
  selfManagedRedoRate: {
    value: 100,
    unit: "MB/s",
    kind: "assumed",
    meaning:
      "PostgreSQL's redo of archived WAL during recovery (fetch through restore_command and replay), in WAL bytes per second.",
    source:
      "100 MB/s assumed (rehearsal/bench/ measured 132 MB/s single-threaded replay at 1 GiB); replaced by the redo time the recovered server logs in drills.",
  },
  selfManagedRecoveryOverhead: {
    value: 8,
    unit: "seconds",
    kind: "assumed",
    meaning:
      "Fixed part of everything in a recovery to 'ready for writes' that is neither the restore nor the redo: starting the runbook, checking the window, starting the server, promotion and its checkpoint, the first write.",
    source:
      "8 s assumed; replaced by the fit of the drills' measured incident → ready-for-writes minus restore and redo at several sizes.",
  },
  selfManagedRecoveryOverheadRate: {
    value: 1000,
    unit: "MB/s",
    kind: "assumed",
    meaning:
      "How the other recovery steps grow with the database (server start and promotion with its checkpoint touch more of a larger one): database bytes per second.",
    source: "1000 MB/s assumed (nearly fixed); replaced by the fit of the drills' recovery overheads at several sizes.",
  },
  selfManagedVerifyRate: {
    value: 300,
    unit: "MB/s",
    kind: "assumed",
    meaning:
      "verify-backup of the recovered database (tables, row counts, every foreign key, the plan's checks): database bytes per second, beyond the fixed part.",
    source:
      "300 MB/s assumed (rehearsal/bench/ measured 1.99 s for a 981 MiB database); replaced by the drills' measured ready → verified.",
  },
  selfManagedVerifyFixed: {
    value: 1,
    unit: "seconds",
    kind: "assumed",
    meaning: "Fixed part of the verification (starting verify-backup, reading the catalog).",
    source: "1 s assumed; replaced by the fit of the drills' verification phases at several sizes.",
  },
  selfManagedArchivePush: {
    value: 1,
    unit: "seconds",
    kind: "assumed",
    meaning: "Time for archive_command (pgBackRest archive-push) to put a finished WAL segment into the repository.",
    source: "1 s assumed; replaced by the archive-push durations pgBackRest logs during drills.",
  },
  selfManagedWalRate: {
    value: 0.5,
    unit: "MB/s",
    kind: "assumed",
    meaning:
      "WAL the database writes per second under load: it decides how soon a 16 MiB segment fills (before archive_timeout switches it) and how much WAL accrues between base backups.",
    source:
      "0.5 MB/s assumed; replaced by the WAL rate of the drill's writers (a synthetic load: compare with pg_stat_wal of production).",
  },
  selfManagedStreamLag: {
    value: 1,
    unit: "seconds",
    kind: "assumed",
    meaning: "Data pg_receivewal has not yet received when the primary is lost (continuous WAL streaming).",
    source: "1 s assumed; replaced by the RPO drills achieve with streaming on.",
  },
  walSegmentSize: {
    value: 16,
    unit: "MiB",
    kind: "documented",
    meaning:
      "Size of a WAL segment: archive_command ships whole segments, so a segment is archived when it fills or when archive_timeout switches it.",
    source:
      "https://www.postgresql.org/docs/15/runtime-config-preset.html#GUC-WAL-SEGMENT-SIZE (default 16 MB, set at initdb) and https://www.postgresql.org/docs/15/runtime-config-wal.html#GUC-ARCHIVE-TIMEOUT",
  },
} as const satisfies Record<string, Figure>;

export type FigureId = keyof typeof BASE_FIGURES;

/** Figures the model uses, in the order they are listed in reports. */
export const FIGURE_IDS = Object.keys(BASE_FIGURES) as FigureId[];
