/**
 * The backup paths a stack declares, read from its resources (never from a hand-kept list), and
 * the heartbeat alarm that watches each: the AWS Backup plan and its copies to the DR vault,
 * RDS automated-backup replication, ElastiCache automatic snapshots, ECR replication, the restore
 * tests of the DR copies, and every scheduled backup job (a CronJob or an EventBridge Scheduler
 * schedule). The posture report lists them; the policy pack fails a stack where one
 * has no heartbeat, or one that misses its absence. Pure functions over `{ type, name, props }`.
 */
import { heartbeatWindowMinutes } from "../config/validators.ts";
import { ALARM_KIND_TAG, BACKUP_PATH_TAG, pathIdOfJob } from "../components/heartbeats.ts";
import { BACKUP_JOB_LABEL, BACKUP_JOB_TAG } from "../components/backup-jobs.ts";
import type { BackupPathPosture } from "./model.ts";
import { asArray, RESOURCE_TYPE, type DeclaredResource, type PairContext } from "./resources.ts";

export interface PathResource {
  type: string;
  name: string;
  props: Record<string, any>;
}

export interface DeclaredBackupPath {
  /** Path id, the same as its heartbeat alarm's `eventchain:backup-path` tag. */
  id: string;
  /** The declared resources it was read from. */
  from: string[];
  /** Schedule expressions that each produce a success, when the resources say. */
  schedules: string[];
  /** The heartbeat alarm, if one is declared. */
  heartbeat: { name: string; periodMinutes: number; missingDataBreaches: boolean } | null;
  /** What is wrong with the path's watch (empty = watched). */
  problems: string[];
}

/** A Kubernetes 5-field schedule as the AWS cron the gap parser reads (day-of-week numbers shifted back). */
export function awsCronOfKubernetes(schedule: string): string | undefined {
  const f = schedule.trim().split(/\s+/);
  if (f.length !== 5) return undefined;
  const [m, h, dom, mon, dow] = f;
  const awsDow = dow === "*" ? "?" : dow!.replace(/\d/g, (d) => String(Number(d) + 1));
  return `cron(${m} ${h} ${dom === "*" && awsDow !== "?" ? "?" : dom} ${mon} ${awsDow} *)`;
}

/** Every backup path the resources declare, with its heartbeat alarm and what is wrong with it. */
export function declaredBackupPaths(resources: PathResource[]): DeclaredBackupPath[] {
  const paths = new Map<string, { from: string[]; schedules: string[] }>();
  const add = (id: string, from: PathResource, schedules: string[]) => {
    const p = paths.get(id) ?? { from: [], schedules: [] };
    p.from.push(`${from.type} ${from.name}`);
    p.schedules.push(...schedules);
    paths.set(id, p);
  };
  for (const r of resources) {
    if (r.type === RESOURCE_TYPE.plan) {
      const rules = asArray<any>(r.props.rules);
      const schedules = rules.map((rule) => rule.schedule).filter((s): s is string => typeof s === "string");
      add("aws-backup-jobs", r, schedules);
      if (rules.some((rule) => asArray(rule.copyActions).length > 0)) add("aws-backup-dr-copies", r, schedules);
    }
    if (r.type === RESOURCE_TYPE.rdsReplication) add("rds-backup-replication", r, []);
    if (r.type === RESOURCE_TYPE.cache && Number(r.props.snapshotRetentionLimit ?? 0) > 0)
      add("elasticache-snapshots", r, []);
    if (r.type === RESOURCE_TYPE.ecrReplication) add("ecr-replication", r, []);
    if (r.type === RESOURCE_TYPE.restoreTestingPlan)
      add("restore-tests", r, typeof r.props.scheduleExpression === "string" ? [r.props.scheduleExpression] : []);
    if (r.type === RESOURCE_TYPE.cronJob) {
      const job = r.props.metadata?.labels?.[BACKUP_JOB_LABEL];
      const cron = typeof r.props.spec?.schedule === "string" ? awsCronOfKubernetes(r.props.spec.schedule) : undefined;
      if (typeof job === "string") add(pathIdOfJob(job), r, cron ? [cron] : []);
    }
    if (r.type === RESOURCE_TYPE.schedule) {
      const job = r.props.target?.ecsParameters?.tags?.[BACKUP_JOB_TAG];
      const expr = r.props.scheduleExpression;
      if (typeof job === "string") add(pathIdOfJob(job), r, typeof expr === "string" ? [expr] : []);
    }
  }
  const alarms = resources.filter(
    (r) =>
      r.type === RESOURCE_TYPE.alarm &&
      r.props.tags?.[ALARM_KIND_TAG] === "heartbeat" &&
      r.props.tags?.[BACKUP_PATH_TAG],
  );
  return [...paths.entries()].map(([id, p]): DeclaredBackupPath => {
    const alarm = alarms.find((a) => a.props.tags[BACKUP_PATH_TAG] === id);
    const problems: string[] = [];
    if (!alarm) {
      problems.push(`backup path ${id} (${p.from.join(", ")}) has no heartbeat alarm: nothing pages when it stops`);
      return { id, from: p.from, schedules: p.schedules, heartbeat: null, problems };
    }
    const period = Number(alarm.props.period) * Number(alarm.props.evaluationPeriods ?? 1);
    const breaches = alarm.props.treatMissingData === "breaching";
    if (!breaches)
      problems.push(
        `heartbeat ${alarm.name} of ${id} treats missing data as ${alarm.props.treatMissingData ?? "missing"}: a path that stops reporting reads as healthy; expected breaching`,
      );
    if (asArray(alarm.props.alarmActions).length === 0)
      problems.push(`heartbeat ${alarm.name} of ${id} has no alarm action: it pages no one`);
    if (p.schedules.length) {
      const window = heartbeatWindowMinutes([...new Set(p.schedules)]);
      if (Number.isFinite(period) && period / 60 > window)
        problems.push(
          `heartbeat ${alarm.name} of ${id} waits ${period / 60} min; its schedule allows at most ${window} min (1.5 × its longest gap)`,
        );
    }
    return {
      id,
      from: p.from,
      schedules: [...new Set(p.schedules)],
      heartbeat: {
        name: String(alarm.props.name ?? alarm.name),
        periodMinutes: period / 60,
        missingDataBreaches: breaches,
      },
      problems,
    };
  });
}

/** The primary stack's backup paths for the posture report. */
export function backupPathsOf(rs: DeclaredResource[], pair: PairContext): BackupPathPosture[] {
  return declaredBackupPaths(
    rs.filter((r) => r.stack === pair.primaryStack).map((r) => ({ type: r.type, name: r.name, props: r.inputs })),
  ).map(({ id, from, heartbeat, problems }) => ({ id, from, heartbeat, problems }));
}

/** The report's lines for the backup paths (terminal and Markdown share them). */
export function backupPathLines(paths: BackupPathPosture[]): string[] {
  return paths.map((p) =>
    p.heartbeat
      ? `${p.id}: heartbeat ${p.heartbeat.name} (no success within ${p.heartbeat.periodMinutes} min${p.heartbeat.missingDataBreaches ? ", missing data breaching" : ""})${p.problems.length ? ` — ${p.problems.join("; ")}` : ""}`
      : `${p.id}: NO HEARTBEAT — ${p.problems.join("; ")}`,
  );
}
