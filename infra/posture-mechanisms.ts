/**
 * Reads the protecting mechanisms from the resources a stack pair declares (as returned by
 * `evaluateStack`), never from a hand-kept list: a mechanism exists here only because a resource
 * with these settings is declared. Pure functions; every non-declared number is a figure.
 */
import { FIGURES, type FigureId } from "./posture-figures.ts";
import type { DataStore, Failover, Mechanism } from "./posture.ts";
import { longestIntervalMinutes } from "./validators.ts";

/** A declared resource, tagged with the stack that declares it. */
export interface DeclaredResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The stack (prod or dr) whose program declared it. */
  stack: string;
}

export interface PairContext {
  /** The stack whose role is primary, its region, and the DR stack's. */
  primaryStack: string;
  primaryRegion: string;
  drStack: string;
  drRegion: string;
}

const T = {
  rds: "aws:rds/instance:Instance",
  rdsReplication: "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  plan: "aws:backup/plan:Plan",
  selection: "aws:backup/selection:Selection",
  s3Replication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
  s3Versioning: "aws:s3/bucketVersioning:BucketVersioning",
  cache: "aws:elasticache/replicationGroup:ReplicationGroup",
  ecrReplication: "aws:ecr/replicationConfiguration:ReplicationConfiguration",
  healthCheck: "aws:route53/healthCheck:HealthCheck",
  record: "aws:route53/record:Record",
  ecsService: "aws:ecs/service:Service",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  schedule: "aws:scheduler/schedule:Schedule",
  cronJob: "kubernetes:batch/v1:CronJob",
} as const;

const ref = (r: DeclaredResource) => `${r.stack}: ${r.type} ${r.name}`;
const of = (rs: DeclaredResource[], type: string) => rs.filter((r) => r.type === type);
const arr = <V>(v: V | V[] | undefined): V[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const m = (x: Omit<Mechanism, "figures"> & { figures: FigureId[] }): Mechanism => x;

/** Minutes to restore an RDS instance of `sizeGiB` (provisioning + reading the volume once). */
export function rdsRestoreMinutes(sizeGiB: number, withLogReplay: boolean): number {
  const throughput = sizeGiB >= FIGURES.gp3LargeThreshold.value ? FIGURES.gp3LargeThroughput.value : FIGURES.gp3BaselineThroughput.value;
  const hydrate = (sizeGiB * 1024) / throughput / 60;
  const total = FIGURES.rdsRestoreProvisioning.value + hydrate + (withLogReplay ? FIGURES.rdsPitrLogReplay.value : 0);
  return Math.round(total * 10) / 10;
}

const rdsFigures = (size: number, replay: boolean): FigureId[] => [
  "rdsRestoreProvisioning",
  size >= FIGURES.gp3LargeThreshold.value ? "gp3LargeThroughput" : "gp3BaselineThroughput",
  ...(replay ? (["rdsPitrLogReplay"] as FigureId[]) : []),
];

function databaseMechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const db of of(rs, T.rds).filter((r) => r.stack === pair.primaryStack)) {
    const size = Number(db.inputs.allocatedStorage ?? 0);
    const retention = Number(db.inputs.backupRetentionPeriod ?? 0);
    if (retention >= 1) {
      out.push(m({
        id: "rds-pitr",
        protects: "database",
        scope: "in-region",
        description: `RDS automated backups, ${retention} d, point-in-time restore (logs every ${FIGURES.rdsLogUploadInterval.value} min), ${size} GiB`,
        rpoMinutes: FIGURES.rdsLogUploadInterval.value,
        restoreMinutes: rdsRestoreMinutes(size, true),
        figures: ["rdsLogUploadInterval", ...rdsFigures(size, true)],
        resources: [ref(db)],
      }));
      for (const rep of of(rs, T.rdsReplication)) {
        out.push(m({
          id: "rds-pitr-replicated",
          protects: "database",
          scope: "cross-region",
          description: `RDS automated backups replicated to ${pair.drRegion}, ${rep.inputs.retentionPeriod ?? 7} d, point-in-time restore there`,
          rpoMinutes: FIGURES.rdsLogUploadInterval.value + FIGURES.rdsCrossRegionLogCopyLag.value,
          restoreMinutes: rdsRestoreMinutes(size, true),
          figures: ["rdsLogUploadInterval", "rdsCrossRegionLogCopyLag", ...rdsFigures(size, true)],
          resources: [ref(db), ref(rep)],
        }));
      }
    }
    if (of(rs, T.selection).length === 0) continue;
    for (const plan of of(rs, T.plan)) {
      for (const rule of arr<any>(plan.inputs.rules)) {
        if (typeof rule.schedule !== "string") continue;
        const every = longestIntervalMinutes(rule.schedule);
        const start = typeof rule.startWindow === "number" ? rule.startWindow : FIGURES.backupDefaultStartWindow.value;
        const startFigures: FigureId[] = typeof rule.startWindow === "number" ? [] : ["backupDefaultStartWindow"];
        const base = `AWS Backup rule ${rule.ruleName} (${rule.schedule}: every ${every} min, start window ${start} min)`;
        out.push(m({
          id: `backup-${rule.ruleName}`,
          protects: "database",
          scope: "in-region",
          description: `${base}, snapshot restore`,
          rpoMinutes: every + start,
          restoreMinutes: rdsRestoreMinutes(size, false),
          figures: [...startFigures, ...rdsFigures(size, false)],
          resources: [ref(plan), ref(db)],
        }));
        if (arr(rule.copyActions).some((c: any) => String(c.destinationVaultArn ?? "").includes(`:${pair.drRegion}:`))) {
          out.push(m({
            id: `backup-${rule.ruleName}-copy`,
            protects: "database",
            scope: "cross-region",
            description: `${base}, copied to the ${pair.drRegion} vault`,
            rpoMinutes: every + start + FIGURES.backupCrossRegionCopy.value,
            restoreMinutes: rdsRestoreMinutes(size, false),
            figures: [...startFigures, "backupCrossRegionCopy", ...rdsFigures(size, false)],
            resources: [ref(plan), ref(db)],
          }));
        }
      }
    }
  }
  return out;
}

/** Which data store a key prefix holds. */
function storeOfPrefix(prefix: string | undefined): DataStore | undefined {
  if (prefix === undefined) return undefined;
  if (prefix.startsWith("media/")) return "media";
  if (prefix.startsWith("redis/")) return "cache";
  if (prefix.startsWith("infrastructure/")) return "logical-backups";
  return undefined;
}

function s3Mechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const cfg of of(rs, T.s3Replication).filter((r) => r.stack === pair.primaryStack)) {
    for (const rule of arr<any>(cfg.inputs.rules)) {
      if (rule.status !== "Enabled") continue;
      const prefix = rule.filter?.prefix ?? rule.prefix;
      const store = storeOfPrefix(prefix);
      if (!store) continue;
      const rtc = rule.destination?.replicationTime;
      const rtcOn = rtc?.status === "Enabled" && typeof rtc?.time?.minutes === "number";
      out.push(m({
        id: rtcOn ? `s3-replication-rtc-${prefix.replace(/\W+/g, "")}` : `s3-replication-${prefix.replace(/\W+/g, "")}`,
        protects: store,
        scope: "cross-region",
        description: rtcOn
          ? `S3 replication of ${prefix} to ${pair.drRegion} with Replication Time Control (${rtc.time.minutes} min)`
          : `S3 replication of ${prefix} to ${pair.drRegion} without Replication Time Control (no bound)`,
        rpoMinutes: rtcOn ? Math.max(rtc.time.minutes, FIGURES.s3RtcThreshold.value) : null,
        restoreMinutes: 0,
        figures: rtcOn ? ["s3RtcThreshold"] : [],
        resources: [ref(cfg)],
      }));
    }
  }
  const mediaVersioning = of(rs, T.s3Versioning).filter(
    (r) => r.stack === pair.primaryStack && /media/.test(r.name) && r.inputs.versioningConfiguration?.status === "Enabled",
  );
  if (mediaVersioning.length > 0) {
    out.push(m({
      id: "s3-versioning-media",
      protects: "media",
      scope: "in-region",
      description: "S3 versioning on the media bucket: deleted or overwritten objects restore from earlier versions",
      rpoMinutes: 0,
      restoreMinutes: 0,
      figures: [],
      resources: mediaVersioning.map(ref),
    }));
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
    ...of(rs, T.schedule).map((r) => ({ r, expr: r.inputs.scheduleExpression as string | undefined })),
    ...of(rs, T.cronJob).map((r) => ({ r, expr: r.inputs.spec?.schedule ? asAwsCron(r.inputs.spec.schedule) : undefined })),
  ];
  return jobs.filter((j) => j.r.stack === pair.primaryStack && pattern.test(j.r.name) && typeof j.expr === "string");
}

function cacheAndExportMechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const group of of(rs, T.cache).filter((r) => r.stack === pair.primaryStack)) {
    const days = Number(group.inputs.snapshotRetentionLimit ?? 0);
    if (days < 1) continue;
    out.push(m({
      id: "elasticache-snapshot",
      protects: "cache",
      scope: "in-region",
      description: `ElastiCache daily snapshot (window ${group.inputs.snapshotWindow}), kept ${days} d`,
      rpoMinutes: FIGURES.elasticacheSnapshotInterval.value,
      restoreMinutes: FIGURES.elasticacheRestoreProvisioning.value,
      figures: ["elasticacheSnapshotInterval", "elasticacheRestoreProvisioning"],
      resources: [ref(group)],
    }));
  }
  const exports: Array<[RegExp, DataStore, string]> = [
    [/redis/i, "cache", "Redis snapshot export"],
    [/cluster|config-export|infrastructure/i, "logical-backups", "cluster-configuration export"],
  ];
  for (const [pattern, store, what] of exports) {
    for (const { r, expr } of exportJobs(rs, pair, pattern)) {
      const every = longestIntervalMinutes(expr!);
      out.push(m({
        id: `export-${r.name}`,
        protects: store,
        scope: "in-region",
        description: `${what} to the backup bucket in ${pair.primaryRegion} (${expr}: every ${every} min)`,
        rpoMinutes: every,
        restoreMinutes: store === "cache" ? FIGURES.elasticacheRestoreProvisioning.value : 0,
        figures: store === "cache" ? ["elasticacheRestoreProvisioning"] : [],
        resources: [ref(r)],
      }));
    }
  }
  return out;
}

function imageAndMonitoringMechanisms(rs: DeclaredResource[], pair: PairContext): Mechanism[] {
  const out: Mechanism[] = [];
  for (const cfg of of(rs, T.ecrReplication).filter((r) => r.stack === pair.primaryStack)) {
    const regions = arr<any>(cfg.inputs.replicationConfiguration?.rules).flatMap((rule) => arr<any>(rule.destinations).map((d) => d.region));
    if (!regions.includes(pair.drRegion)) continue;
    out.push(m({
      id: "ecr-replication",
      protects: "images",
      scope: "cross-region",
      description: `ECR private-registry replication to ${pair.drRegion}`,
      rpoMinutes: FIGURES.ecrReplicationLag.value,
      restoreMinutes: 0,
      figures: ["ecrReplicationLag"],
      resources: [ref(cfg)],
    }));
  }
  for (const stack of [pair.primaryStack, pair.drStack]) {
    const alarms = of(rs, T.alarm).filter((r) => r.stack === stack);
    if (alarms.length === 0) continue;
    const region = stack === pair.primaryStack ? pair.primaryRegion : pair.drRegion;
    out.push(m({
      id: `monitoring-${stack}`,
      protects: "monitoring",
      scope: stack === pair.primaryStack ? "in-region" : "cross-region",
      description: `${alarms.length} alarm${alarms.length === 1 ? "" : "s"} declared in ${region} (configuration as code; log history is not copied)`,
      rpoMinutes: 0,
      restoreMinutes: 0,
      figures: [],
      resources: [ref(alarms[0])],
    }));
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

/** DNS failover (health check + failover records) and the DR pilot light, as declared. */
export function failoverFrom(rs: DeclaredResource[], pair: PairContext): Failover {
  const check = of(rs, T.healthCheck)[0];
  const records = of(rs, T.record).filter((r) => arr<any>(r.inputs.failoverRoutingPolicies).some((p) => p.type === "SECONDARY" || p.type === "PRIMARY"));
  const services = of(rs, T.ecsService).filter((r) => r.stack === pair.drStack);
  const detection = check && records.length >= 2 ? (Number(check.inputs.requestInterval ?? 30) * Number(check.inputs.failureThreshold ?? 3)) / 60 : null;
  const ttl = records.length >= 2 ? Math.max(...records.map((r) => Number(r.inputs.ttl ?? 0))) / 60 : null;
  const parts = [
    detection === null ? "no DNS failover declared" : `health check every ${check!.inputs.requestInterval ?? 30} s, unhealthy after ${check!.inputs.failureThreshold ?? 3} failures; failover records TTL ${ttl! * 60} s`,
    services.length === 0 ? "no DR pilot light declared" : `pilot light: ${services.length} ECS services in ${pair.drRegion} at desired count ${services.map((s) => s.inputs.desiredCount ?? 0).join("/")}`,
  ];
  return {
    detectionMinutes: detection,
    ttlMinutes: ttl,
    scaleUpMinutes: services.length === 0 ? null : FIGURES.serviceScaleUp.value,
    description: parts.join("; "),
    resources: [...(check ? [check] : []), ...records, ...services].map(ref),
  };
}
