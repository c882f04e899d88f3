/** What a scheduled backup job and its runner agree on: environment, mounted files, metrics. */
/**
 * A scheduled backup job (a Kubernetes CronJob or an ECS task started by EventBridge Scheduler)
 * runs a runbook with its job id in this environment variable. The run then publishes nothing to
 * the alert topic: a failure publishes `JOB_FAILURE_METRIC` (value 1, dimensions Job and Stack),
 * which the job's failure alarm watches, and a verified success publishes `JOB_SUCCESS_METRIC`
 * (the heartbeat: its alarm fires when none arrives within 1.5 × the job's schedule).
 */
export const BACKUP_JOB_ENV = "BACKUP_JOB";
/**
 * Where the backup-jobs image carries the RDS CA bundle; jobs get `PGSSLROOTCERT` pointing at it,
 * since the backup runbooks connect to the database only over verified TLS.
 */
export const JOB_RDS_CA_BUNDLE = "/etc/ssl/certs/rds-global-bundle.pem";
export const JOB_FAILURE_METRIC = { namespace: "EventChain/Backups", metricName: "JobFailed" } as const;
export const JOB_SUCCESS_METRIC = { namespace: "EventChain/Backups", metricName: "BackupSucceeded" } as const;
/**
 * Where a job finds the stack's outputs: a read-only directory holding `outputs.json` (the
 * stack's outputs exactly as `pulumi stack output --json` prints them), mounted from a ConfigMap
 * in Kubernetes and written by an init container on ECS. Jobs need no Pulumi CLI or state access.
 */
export const JOB_OUTPUTS_DIR = "/etc/eventchain-dr";
export const JOB_OUTPUTS_KEY = "outputs.json";
/** On ECS: the environment variable of the init container that writes the outputs file. */
export const JOB_OUTPUTS_ENV = "EVENTCHAIN_OUTPUTS_JSON";
/** The job's only writable directory (an emptyDir / task volume): temp files, journals and reports. */
export const JOB_SCRATCH_DIR = "/tmp";
export const JOB_STATE_DIR = `${JOB_SCRATCH_DIR}/runs`;
