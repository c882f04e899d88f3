/** Where each kind of backup, export and run record lives in a bucket (key prefixes). */

/** The four kinds of logical backup and their key prefixes. */
export const BACKUP_PREFIXES = {
  database: "database/",
  redis: "redis/",
  infrastructure: "infrastructure/",
  code: "code/",
} as const;
export type BackupKind = keyof typeof BACKUP_PREFIXES;

/**
 * Where ElastiCache writes a snapshot export in the backup bucket. Export names may not contain
 * "/", so exports land at the top of the bucket under this name prefix, not under `redis/`; the
 * bucket grants ElastiCache write access to exactly this prefix and expires it with the Redis
 * retention.
 */
export const ELASTICACHE_EXPORT_PREFIX = "redis-export-";

/** Key prefix of the run locks and shared journals in the run-journal bucket. */
export const RUN_JOURNAL_PREFIX = "runs/";

/**
 * How long the journal bucket keeps a replaced version of a journal, lock or report: `days` after
 * it was replaced, except the `keepNewer` newest replaced versions of each key, which stay.
 */
export const RUN_JOURNAL_NONCURRENT = { days: 7, keepNewer: 3 } as const;
