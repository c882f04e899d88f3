/**
 * Reads the protecting mechanisms from the resources a stack pair declares (as returned by
 * `evaluateStack`), never from a hand-kept list: a mechanism exists here only because a resource
 * with these settings is declared. Pure functions; every non-declared number is a figure.
 * Database mechanisms: `database.ts`; failover: `failover.ts`.
 */
import { FIGURES } from "./figures.ts";
import type { DataStore, Mechanism } from "./model.ts";
import { databaseMechanisms } from "./database.ts";
import {
  asArray,
  mechanism,
  ofType,
  RESOURCE_TYPE,
  resourceLabel,
  type DeclaredResource,
  type PairContext,
} from "./resources.ts";
import { longestIntervalMinutes } from "../config/validators.ts";

export { rdsRestoreMinutes } from "./database.ts";
export { failoverFrom } from "./failover.ts";
export type { DeclaredResource, PairContext } from "./resources.ts";

/**
 * Which data stores a replication rule copies: by its key prefix, or, for a rule over the whole
 * bucket, by the bucket (the backup bucket holds the Redis and cluster-configuration exports).
 */
function storesOfRule(prefix: string | undefined, configName: string): DataStore[] {
  if (!prefix) {
    if (/media/i.test(configName)) return ["media"];
    if (/backup/i.test(configName)) return ["cache", "logical-backups"];
    return [];
  }
  if (prefix.startsWith("media/")) return ["media"];
  if (prefix.startsWith("redis/")) return ["cache"];
  if (prefix.startsWith("infrastructure/")) return ["logical-backups"];
  return [];
}

function s3Mechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const cfg of ofType(rs, RESOURCE_TYPE.s3Replication).filter((r) => r.stack === pair.primaryStack)) {
    for (const rule of asArray<any>(cfg.inputs.rules)) {
      if (rule.status !== "Enabled") continue;
      const prefix = rule.filter?.prefix ?? rule.prefix;
      const rtc = rule.destination?.replicationTime;
      const rtcOn = rtc?.status === "Enabled" && typeof rtc?.time?.minutes === "number";
      const what = prefix ? prefix : `the whole bucket (${cfg.name})`;
      const tag = (prefix || cfg.name).replace(/\W+/g, "");
      const stores = storesOfRule(prefix, cfg.name);
      for (const store of stores)
        out.push(
          mechanism({
            id: `s3-replication-${rtcOn ? "rtc-" : ""}${tag}${stores.length > 1 ? `-${store}` : ""}`,
            protects: store,
            scope: "cross-region",
            description: rtcOn
              ? `S3 replication of ${what} to ${pair.drRegion} with Replication Time Control (${rtc.time.minutes} min)`
              : `S3 replication of ${what} to ${pair.drRegion} without Replication Time Control (no bound)`,
            rpoMinutes: rtcOn ? Math.max(rtc.time.minutes, FIGURES.s3RtcThreshold.value) : null,
            restoreMinutes: 0,
            figures: rtcOn ? ["s3RtcThreshold"] : [],
            resources: [resourceLabel(cfg)],
          }),
        );
    }
  }
  const mediaVersioning = ofType(rs, RESOURCE_TYPE.s3Versioning).filter(
    (r) =>
      r.stack === pair.primaryStack && /media/.test(r.name) && r.inputs.versioningConfiguration?.status === "Enabled",
  );
  if (mediaVersioning.length > 0) {
    out.push(
      mechanism({
        id: "s3-versioning-media",
        protects: "media",
        scope: "in-region",
        description: "S3 versioning on the media bucket: deleted or overwritten objects restore from earlier versions",
        rpoMinutes: 0,
        restoreMinutes: 0,
        figures: [],
        resources: mediaVersioning.map(resourceLabel),
      }),
    );
  }
  return out;
}

/** A Kubernetes CronJob schedule (5 fields) as the AWS cron the interval parser reads. */
function asAwsCron(schedule: string): string {
  const f = schedule.trim().split(/\s+/);
  return f.length === 5 ? `cron(${f[0]} ${f[1]} ${f[2]} ${f[3]} ${f[4] === "*" ? "?" : f[4]} *)` : schedule;
}

/** Scheduled export jobs (EventBridge Scheduler or Kubernetes CronJob) by what they export. */
function exportJobs(rs: DeclaredResource[], pair: PairContext, pattern: RegExp) {
  const jobs = [
    ...ofType(rs, RESOURCE_TYPE.schedule).map((r) => ({ r, expr: r.inputs.scheduleExpression as string | undefined })),
    ...ofType(rs, RESOURCE_TYPE.cronJob).map((r) => ({
      r,
      expr: r.inputs.spec?.schedule ? asAwsCron(r.inputs.spec.schedule) : undefined,
    })),
  ];
  return jobs.filter((j) => j.r.stack === pair.primaryStack && pattern.test(j.r.name) && typeof j.expr === "string");
}

function cacheAndExportMechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const group of ofType(rs, RESOURCE_TYPE.cache).filter((r) => r.stack === pair.primaryStack)) {
    const days = Number(group.inputs.snapshotRetentionLimit ?? 0);
    if (days < 1) continue;
    out.push(
      mechanism({
        id: "elasticache-snapshot",
        protects: "cache",
        scope: "in-region",
        description: `ElastiCache daily snapshot (window ${group.inputs.snapshotWindow}), kept ${days} d`,
        rpoMinutes: FIGURES.elasticacheSnapshotInterval.value,
        restoreMinutes: FIGURES.elasticacheRestoreProvisioning.value,
        figures: ["elasticacheSnapshotInterval", "elasticacheRestoreProvisioning"],
        resources: [resourceLabel(group)],
      }),
    );
  }
  const exports: Array<[RegExp, DataStore, string]> = [
    [/redis/i, "cache", "Redis snapshot export"],
    [/cluster|config-export|infrastructure/i, "logical-backups", "cluster-configuration export"],
  ];
  for (const [pattern, store, what] of exports) {
    for (const { r, expr } of exportJobs(rs, pair, pattern)) {
      const every = longestIntervalMinutes(expr!);
      out.push(
        mechanism({
          id: `export-${r.name}`,
          protects: store,
          scope: "in-region",
          description: `${what} to the backup bucket in ${pair.primaryRegion} (${expr}: every ${every} min)`,
          rpoMinutes: every,
          restoreMinutes: store === "cache" ? FIGURES.elasticacheRestoreProvisioning.value : 0,
          figures: store === "cache" ? ["elasticacheRestoreProvisioning"] : [],
          resources: [resourceLabel(r)],
        }),
      );
    }
  }
  return out;
}

function imageAndMonitoringMechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const cfg of ofType(rs, RESOURCE_TYPE.ecrReplication).filter((r) => r.stack === pair.primaryStack)) {
    const regions = asArray<any>(cfg.inputs.replicationConfiguration?.rules).flatMap((rule) =>
      asArray<any>(rule.destinations).map((d) => d.region),
    );
    if (!regions.includes(pair.drRegion)) continue;
    out.push(
      mechanism({
        id: "ecr-replication",
        protects: "images",
        scope: "cross-region",
        description: `ECR private-registry replication to ${pair.drRegion}`,
        rpoMinutes: FIGURES.ecrReplicationLag.value,
        restoreMinutes: 0,
        figures: ["ecrReplicationLag"],
        resources: [resourceLabel(cfg)],
      }),
    );
  }
  for (const stack of [pair.primaryStack, pair.drStack]) {
    const alarms = ofType(rs, RESOURCE_TYPE.alarm).filter((r) => r.stack === stack);
    if (alarms.length === 0) continue;
    const region = stack === pair.primaryStack ? pair.primaryRegion : pair.drRegion;
    out.push(
      mechanism({
        id: `monitoring-${stack}`,
        protects: "monitoring",
        scope: stack === pair.primaryStack ? "in-region" : "cross-region",
        description: `${alarms.length} alarm${alarms.length === 1 ? "" : "s"} declared in ${region} (configuration as code; log history is not copied)`,
        rpoMinutes: 0,
        restoreMinutes: 0,
        figures: [],
        resources: [resourceLabel(alarms[0])],
      }),
    );
  }
  return out;
}

/** Every mechanism the pair declares. */
export function mechanismsFrom(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  return [
    ...databaseMechanisms(rs, pair),
    ...s3Mechanisms(rs, pair),
    ...cacheAndExportMechanisms(rs, pair),
    ...imageAndMonitoringMechanisms(rs, pair),
  ];
}
