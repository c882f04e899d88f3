/**
 * The config rules a per-field schema cannot express, as pure functions over the parsed
 * config: regions, overlapping windows, lock and lifecycle limits, role requirements, and
 * objectives against the mechanisms declared for them. Each problem is one line naming the
 * key, the value and what is allowed. `load.ts` runs them; tests call them alone.
 */
import type { z } from "zod";
import type { stackConfigSchema } from "./schema.ts";
import { objectiveFor, type Classification, type Objectives } from "../../contract/objectives.ts";
import { BASE_FIGURES as FIGURES } from "../../contract/figures.ts";
import {
  heartbeatWindowMinutes,
  HEARTBEAT_FACTOR,
  LONGEST_ALARM_WINDOW_MINUTES,
  longestIntervalMinutes,
  parseDailyWindow,
  parseWeeklyWindow,
  windowsOverlap,
} from "./validators.ts";

export const NAMESPACE = "eventchain-dr";
export type Parsed = z.output<typeof stackConfigSchema>;

/** Worst-case data loss of RDS point-in-time restore, in the source region and in the peer. */
const PITR_LOSS_MINUTES = FIGURES.rdsLogUploadInterval.value;
const PITR_REGIONAL_LOSS_MINUTES = FIGURES.rdsLogUploadInterval.value + FIGURES.rdsCrossRegionLogCopyLag.value;

/** Pulumi key for a schema path: `region` is `aws:region`, the rest are namespaced. */
export function keyFor(path: ReadonlyArray<PropertyKey>): string {
  const [head, ...rest] = path.map(String);
  const top = head === "region" ? "aws:region" : `${NAMESPACE}:${head}`;
  return [top, ...rest].join(".");
}

/**
 * A config value as it appears in messages, as it was written in YAML: strings quoted (a newline
 * or control character escaped, so a value cannot forge a line), `.nan` / `.inf` as YAML writes
 * them (JSON would say null), the rest as JSON.
 */
export const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" && !Number.isFinite(value))
    return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
  if (value === undefined) return "(nothing)";
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? ".nan" : v > 0 ? ".inf" : "-.inf") : v,
  );
};

/** One problem line: `<key>: <value> is not allowed; expected <allowed>` (or `missing`). */
export function problem(path: ReadonlyArray<PropertyKey>, value: unknown, allowed: string): string {
  return value === undefined
    ? `${keyFor(path)}: missing; expected ${allowed}`
    : `${keyFor(path)}: ${show(value)} is not allowed; expected ${allowed}`;
}

/**
 * The bucket's Object Lock default retention: the configured `backup.objectLockDays`, else the
 * longest prefix retention (shorter prefixes are expired by the lifecycle rule once unlocked).
 */
export function objectLockDaysOf(backup: Parsed["backup"]): number {
  return backup.objectLockDays ?? Math.max(...Object.values(backup.bucketRetentionDays));
}

/**
 * The lock and the expiry must agree. A lock shorter than the retention it protects leaves
 * backups deletable before they expire; a lock longer than every prefix's retention keeps every
 * backup (even a 7-day Redis export) for the whole lock, whatever the lifecycle says — the
 * expiry then means nothing. Pure.
 */
export function objectLockProblems(c: Parsed): string[] {
  const lock = objectLockDaysOf(c.backup);
  const longer = Object.entries(c.backup.bucketRetentionDays).filter(([, days]) => days > lock);
  const longest = Math.max(...Object.values(c.backup.bucketRetentionDays));
  if (longer.length === 0 && lock > longest)
    return [
      problem(
        ["backup", "objectLockDays"],
        lock,
        `at most the longest prefix retention (${longest} days, backup.bucketRetentionDays): a lock longer than every expiry keeps each backup for ${lock} days whatever bucketRetentionDays says; to keep backups longer, raise bucketRetentionDays (the lock follows it when objectLockDays is unset)`,
      ),
    ];
  if (longer.length === 0) return [];
  return [
    problem(
      ["backup", "objectLockDays"],
      lock,
      `at least the longest prefix retention (${longer.map(([prefix, days]) => `bucketRetentionDays.${prefix} ${days}`).join(", ")}): a backup must stay locked for as long as it is kept, or it can be deleted before it expires; leave objectLockDays unset to use the longest retention`,
    ),
  ];
}

/**
 * The schedules of the backup paths a heartbeat alarm watches. The AWS Backup plan's two rules
 * feed one heartbeat (their union); the restore test is not a backup path.
 */
export const HEARTBEAT_SCHEDULES: ReadonlyArray<ReadonlyArray<keyof Parsed["schedules"]>> = [
  ["databaseBackup", "fullBackup"],
  ["logicalBackup"],
  ["redisExport"],
  ["infrastructureExport"],
  ["codeBackup"],
  ["replicationCheck"],
];

/** A backup path whose heartbeat window CloudWatch cannot evaluate (more than 7 days). Pure. */
export function heartbeatProblems(c: Parsed): string[] {
  const out: string[] = [];
  for (const keys of HEARTBEAT_SCHEDULES) {
    const expressions = keys.map((k) => c.schedules[k]);
    const window = heartbeatWindowMinutes(expressions);
    if (window > LONGEST_ALARM_WINDOW_MINUTES) {
      out.push(
        problem(
          ["schedules", keys[0]],
          c.schedules[keys[0]],
          `a schedule that runs at least every ${Math.floor(LONGEST_ALARM_WINDOW_MINUTES / HEARTBEAT_FACTOR)} min: its heartbeat alarm fires when no success is recorded within ${HEARTBEAT_FACTOR} × the longest gap (here ${window} min), and CloudWatch evaluates an alarm over at most ${LONGEST_ALARM_WINDOW_MINUTES} min`,
        ),
      );
    }
  }
  return out;
}

/** Cross-field rules that a per-field schema cannot express. Pure. */
export function crossFieldProblems(c: Parsed): string[] {
  const out: string[] = [];
  if (c.region === c.peerRegion) {
    out.push(
      problem(
        ["peerRegion"],
        c.peerRegion,
        `a region other than aws:region "${c.region}": primary and DR must not share a region`,
      ),
    );
  }
  const backup = parseDailyWindow(c.database.backupWindow, 30);
  const maintenance = parseWeeklyWindow(c.database.maintenanceWindow, 30);
  if ("ranges" in backup && "ranges" in maintenance && windowsOverlap(backup.ranges, maintenance.ranges)) {
    out.push(
      problem(
        ["database", "backupWindow"],
        c.database.backupWindow,
        `a window that does not overlap database.maintenanceWindow "${c.database.maintenanceWindow}"`,
      ),
    );
  }
  const snap = parseDailyWindow(c.cache.snapshotWindow, 60);
  const cacheMaint = parseWeeklyWindow(c.cache.maintenanceWindow, 60);
  if ("ranges" in snap && "ranges" in cacheMaint && windowsOverlap(snap.ranges, cacheMaint.ranges)) {
    out.push(
      problem(
        ["cache", "snapshotWindow"],
        c.cache.snapshotWindow,
        `a window that does not overlap cache.maintenanceWindow "${c.cache.maintenanceWindow}"`,
      ),
    );
  }
  const exportAt = /^cron\((\d+) (\d+) /.exec(c.schedules.redisExport);
  if ("ranges" in snap && exportAt) {
    const [start, end] = snap.ranges[0];
    const minute = Number(exportAt[2]) * 60 + Number(exportAt[1]);
    if ((minute - start + 1440) % 1440 < end - start) {
      out.push(
        problem(
          ["schedules", "redisExport"],
          c.schedules.redisExport,
          `a time outside cache.snapshotWindow "${c.cache.snapshotWindow}": the export copies the snapshot that window produces`,
        ),
      );
    }
  }
  const lock = c.backup.vaultLock;
  if (lock.minRetentionDays > lock.maxRetentionDays) {
    out.push(
      problem(
        ["backup", "vaultLock", "minRetentionDays"],
        lock.minRetentionDays,
        `at most backup.vaultLock.maxRetentionDays ${lock.maxRetentionDays}: the vault lock's minimum cannot exceed its maximum`,
      ),
    );
  } else if (c.backup.retentionDays < lock.minRetentionDays || c.backup.retentionDays > lock.maxRetentionDays) {
    out.push(
      problem(
        ["backup", "retentionDays"],
        c.backup.retentionDays,
        `a value within the vault lock's ${lock.minRetentionDays}..${lock.maxRetentionDays} days`,
      ),
    );
  }
  out.push(...objectLockProblems(c));
  out.push(...heartbeatProblems(c));
  const ids = c.replication.rules.map((r) => r.id);
  ids.forEach(
    (id, i) =>
      ids.indexOf(id) !== i &&
      out.push(problem(["replication", "rules", i, "id"], id, "a rule id not used by another rule")),
  );
  out.push(...failoverProblems(c));
  if (c.role === "primary") {
    if (!c.services.loadBalancerArn)
      out.push(
        problem(
          ["services", "loadBalancerArn"],
          undefined,
          "the ARN of the primary region's load balancer (role primary): its error-rate alarm watches it",
        ),
      );
    for (const svc of ["backend", "frontend"] as const) {
      if (!c.services[svc].targetGroupArn)
        out.push(
          problem(
            ["services", svc, "targetGroupArn"],
            undefined,
            "the ARN of the running primary service's target group (role primary)",
          ),
        );
    }
  } else {
    if (!c.services.certificateArn)
      out.push(
        problem(
          ["services", "certificateArn"],
          undefined,
          "an ACM certificate ARN in the DR region for the DR load balancer's HTTPS listener (role dr)",
        ),
      );
    if (c.network.publicSubnetIds.length < 2)
      out.push(
        problem(
          ["network", "publicSubnetIds"],
          c.network.publicSubnetIds,
          "at least 2 subnet ids for the DR load balancer (role dr)",
        ),
      );
  }
  if (c.role === "primary" && c.logicalBackups.appConfigDirs.length > 0 && !c.logicalBackups.appConfigFileSystemId) {
    out.push(
      problem(
        ["logicalBackups", "appConfigFileSystemId"],
        undefined,
        `the EFS file system holding logicalBackups.appConfigDirs ${JSON.stringify(c.logicalBackups.appConfigDirs)}, mounted read-only into the infrastructure export (a job cannot see the application hosts' disks); or appConfigDirs [] to archive none`,
      ),
    );
  }
  if (c.role === "primary" && !c.logicalBackups.pulumiStateBucket) {
    out.push(
      problem(
        ["logicalBackups", "pulumiStateBucket"],
        undefined,
        "the S3 bucket of the Pulumi state backend (PULUMI_BACKEND_URL s3://<bucket>) that the daily infrastructure export copies (role primary)",
      ),
    );
  }
  if (c.role === "primary" && !c.logicalBackups.codeRepository) {
    out.push(
      problem(
        ["logicalBackups", "codeRepository"],
        undefined,
        "the application's git repository { url, tokenSecretArn } that the daily code bundle backs up (role primary)",
      ),
    );
  }
  if (c.kubernetes.enabled && (!c.kubernetes.oidcProviderArn || !c.kubernetes.oidcIssuer)) {
    out.push(
      problem(
        ["kubernetes", "oidcProviderArn"],
        c.kubernetes.oidcProviderArn,
        "the cluster's IAM OIDC provider ARN and kubernetes.oidcIssuer when kubernetes.enabled is true (IRSA: no static keys)",
      ),
    );
  }
  return out;
}

/**
 * Automatic health-check failover towards a region that serves nothing: with `dns.failoverMode`
 * "automatic", Route 53 answers the DR record as soon as the primary endpoint fails its health
 * check. When the DR services stand at 0 (pilot light), that sends every client to an empty
 * region before any DR database exists, and back again by itself when the primary answers.
 * Only the dr role declares the records, so only it is checked. Pure.
 */
export function failoverProblems(c: Parsed): string[] {
  if (c.role !== "dr" || c.dns.failoverMode !== "automatic") return [];
  const idle = (["backend", "frontend"] as const).filter((s) => c.services[s].standbyCount === 0);
  if (idle.length === 0) return [];
  return [
    problem(
      ["dns", "failoverMode"],
      c.dns.failoverMode,
      `"switch": the DR services stand at 0 (${idle.map((s) => `services.${s}.standbyCount 0`).join(", ")}), so an automatic failover would send clients to a region that serves nothing and has no database yet; region-failover engages the switch once the DR database and targets are healthy`,
    ),
  ];
}

/**
 * Objectives the declared mechanisms cannot meet: the worst-case data loss each mechanism
 * gives, against the RPO of the system's tier. Pure.
 */
export function objectiveProblems(c: Parsed): string[] {
  const out: string[] = [];
  const objectives = c.objectives as Objectives;
  const classification = c.classification as Classification;
  const db = objectiveFor("primary-database", objectives, classification);
  const snapshotEvery = longestIntervalMinutes(c.schedules.databaseBackup);
  const dbLoss = c.database.pointInTimeRecovery ? PITR_LOSS_MINUTES : snapshotEvery;
  if (db.rpoMinutes < dbLoss) {
    out.push(
      problem(
        ["database", "pointInTimeRecovery"],
        c.database.pointInTimeRecovery,
        `true: primary-database is ${db.tier} (RPO ${db.rpoMinutes} min) but without point-in-time recovery its only mechanism is schedules.databaseBackup "${c.schedules.databaseBackup}", which loses up to ${dbLoss} min`,
      ),
    );
  }
  const regionalLoss =
    c.database.replicateBackupsToPeer && c.database.pointInTimeRecovery
      ? PITR_REGIONAL_LOSS_MINUTES
      : c.backup.copyToPeer
        ? snapshotEvery
        : Infinity;
  if (db.rpoMinutes < regionalLoss && db.rpoMinutes >= dbLoss) {
    out.push(
      problem(
        ["database", "replicateBackupsToPeer"],
        c.database.replicateBackupsToPeer,
        `true: primary-database is ${db.tier} (RPO ${db.rpoMinutes} min) but in a regional disaster its copies in ${c.peerRegion} lose up to ${regionalLoss === Infinity ? "everything (nothing is copied)" : `${regionalLoss} min`}`,
      ),
    );
  }
  const media = objectiveFor("media-storage", objectives, classification);
  const mediaRule = c.replication.rules.find((r) => r.prefix === "media/");
  if (!mediaRule) {
    out.push(
      problem(
        ["replication", "rules"],
        c.replication.rules.map((r) => r.prefix),
        `a rule for prefix "media/": media-storage is ${media.tier} (RPO ${media.rpoMinutes} min) and nothing else copies it to ${c.peerRegion}`,
      ),
    );
  } else if (mediaRule.rtcMinutes === null) {
    out.push(
      problem(
        ["replication", "rules", c.replication.rules.indexOf(mediaRule), "rtcMinutes"],
        null,
        `15: without Replication Time Control S3 gives no bound on replication lag, and media-storage is ${media.tier} (RPO ${media.rpoMinutes} min)`,
      ),
    );
  } else if (media.rpoMinutes < mediaRule.rtcMinutes) {
    out.push(
      problem(
        ["classification", "media-storage"],
        media.tier,
        `a tier whose RPO is at least ${mediaRule.rtcMinutes} min (Replication Time Control)`,
      ),
    );
  }
  const cache = objectiveFor("cache", objectives, classification);
  if (!c.backup.replicateToPeer) {
    out.push(
      problem(
        ["backup", "replicateToPeer"],
        false,
        `true: cache is ${cache.tier} (RPO ${cache.rpoMinutes} min) and its only copies outside ElastiCache, the redis/ exports, would stay in ${c.region}`,
      ),
    );
  }
  if (cache.rpoMinutes < 1440) {
    out.push(
      problem(
        ["classification", "cache"],
        cache.tier,
        `a tier whose RPO is at least 1440 min: ElastiCache takes one snapshot a day (cache.snapshotWindow)`,
      ),
    );
  }
  return out;
}
