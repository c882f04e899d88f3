/**
 * The one place stack config is read and validated. Components never read config: they get
 * the typed `StackConfig` (or a slice of it) from `program.ts`.
 *
 * Keys are Pulumi config keys: `aws:region` and `eventchain-dr:<name>`. Project-wide values
 * live in `Pulumi.yaml` (`config: <key>: value:`), stack values in `Pulumi.<stack>.yaml`; a
 * stack value replaces the project value of the same key as a whole, as Pulumi does.
 * Every key, its default and its range: docs/config-reference.md.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { stackConfigSchema } from "./config-schema.ts";
import { objectiveFor, type Classification, type Objectives } from "./objectives.ts";
import { longestIntervalMinutes, parseDailyWindow, parseWeeklyWindow, windowsOverlap } from "./validators.ts";

export const NAMESPACE = "eventchain-dr";
/** Worst-case data loss of RDS point-in-time restore: transaction logs ship every 5 minutes. */
export const PITR_LAG_MINUTES = 5;

type Parsed = z.output<typeof stackConfigSchema>;
export type StackConfig = Omit<Parsed, "objectives" | "classification"> & {
  stack: string;
  objectives: Objectives;
  classification: Classification;
};
export type Role = StackConfig["role"];
export type DatabaseConfig = StackConfig["database"];
export type BackupConfig = StackConfig["backup"];
export type ScheduleConfig = StackConfig["schedules"];
export type ReplicationRule = StackConfig["replication"]["rules"][number];
export type DnsConfig = StackConfig["dns"];
export type ServicesConfig = StackConfig["services"];
export type KubernetesConfig = StackConfig["kubernetes"];

/** Bad config: one line per problem, each naming the key, the value and what is allowed. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(stack: string, problems: string[]) {
    super(`invalid config for stack "${stack}" (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface ValidateOptions {
  /**
   * Check that every objective can be met by its declared mechanism (default true). The
   * posture report turns this off to evaluate, and report on, a config that misses them.
   */
  checkObjectives?: boolean;
}

/** Pulumi key for a schema path: `region` is `aws:region`, the rest are namespaced. */
export function keyFor(path: ReadonlyArray<PropertyKey>): string {
  const [head, ...rest] = path.map(String);
  const top = head === "region" ? "aws:region" : `${NAMESPACE}:${head}`;
  return [top, ...rest].join(".");
}

const show = (value: unknown): string => (typeof value === "string" ? `"${value}"` : JSON.stringify(value));

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let here = root;
  for (const part of path) {
    if (here === null || typeof here !== "object") return undefined;
    here = (here as Record<PropertyKey, unknown>)[part];
  }
  return here;
}

/** One problem line: `<key>: <value> is not allowed; expected <allowed>` (or `missing`). */
export function problem(path: ReadonlyArray<PropertyKey>, value: unknown, allowed: string): string {
  return value === undefined
    ? `${keyFor(path)}: missing; expected ${allowed}`
    : `${keyFor(path)}: ${show(value)} is not allowed; expected ${allowed}`;
}

/** Cross-field rules that a per-field schema cannot express. Pure. */
export function crossFieldProblems(c: Parsed): string[] {
  const out: string[] = [];
  if (c.region === c.peerRegion) {
    out.push(problem(["peerRegion"], c.peerRegion, `a region other than aws:region "${c.region}": primary and DR must not share a region`));
  }
  const backup = parseDailyWindow(c.database.backupWindow, 30);
  const maintenance = parseWeeklyWindow(c.database.maintenanceWindow, 30);
  if ("ranges" in backup && "ranges" in maintenance && windowsOverlap(backup.ranges, maintenance.ranges)) {
    out.push(problem(["database", "backupWindow"], c.database.backupWindow, `a window that does not overlap database.maintenanceWindow "${c.database.maintenanceWindow}"`));
  }
  const snap = parseDailyWindow(c.cache.snapshotWindow, 60);
  const cacheMaint = parseWeeklyWindow(c.cache.maintenanceWindow, 60);
  if ("ranges" in snap && "ranges" in cacheMaint && windowsOverlap(snap.ranges, cacheMaint.ranges)) {
    out.push(problem(["cache", "snapshotWindow"], c.cache.snapshotWindow, `a window that does not overlap cache.maintenanceWindow "${c.cache.maintenanceWindow}"`));
  }
  const lock = c.backup.vaultLock;
  if (c.backup.retentionDays < lock.minRetentionDays || c.backup.retentionDays > lock.maxRetentionDays) {
    out.push(problem(["backup", "retentionDays"], c.backup.retentionDays, `a value within the vault lock's ${lock.minRetentionDays}..${lock.maxRetentionDays} days`));
  }
  for (const [prefix, days] of Object.entries(c.backup.bucketRetentionDays)) {
    if (days < c.backup.objectLockDays) {
      out.push(problem(["backup", "bucketRetentionDays", prefix], days, `at least backup.objectLockDays (${c.backup.objectLockDays}): objects cannot expire while locked`));
    }
  }
  const ids = c.replication.rules.map((r) => r.id);
  ids.forEach((id, i) => ids.indexOf(id) !== i && out.push(problem(["replication", "rules", i, "id"], id, "a rule id not used by another rule")));
  if (c.role === "primary") {
    for (const svc of ["backend", "frontend"] as const) {
      if (!c.services[svc].targetGroupArn) out.push(problem(["services", svc, "targetGroupArn"], undefined, "the ARN of the running primary service's target group (role primary)"));
    }
  } else {
    if (!c.services.certificateArn) out.push(problem(["services", "certificateArn"], undefined, "an ACM certificate ARN in the DR region for the DR load balancer's HTTPS listener (role dr)"));
    if (c.network.publicSubnetIds.length < 2) out.push(problem(["network", "publicSubnetIds"], c.network.publicSubnetIds, "at least 2 subnet ids for the DR load balancer (role dr)"));
  }
  if (c.kubernetes.enabled && (!c.kubernetes.oidcProviderArn || !c.kubernetes.oidcIssuer)) {
    out.push(problem(["kubernetes", "oidcProviderArn"], c.kubernetes.oidcProviderArn, "the cluster's IAM OIDC provider ARN and kubernetes.oidcIssuer when kubernetes.enabled is true (IRSA: no static keys)"));
  }
  return out;
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
  const dbLoss = c.database.pointInTimeRecovery ? PITR_LAG_MINUTES : snapshotEvery;
  if (db.rpoMinutes < dbLoss) {
    out.push(problem(["database", "pointInTimeRecovery"], c.database.pointInTimeRecovery,
      `true: primary-database is ${db.tier} (RPO ${db.rpoMinutes} min) but without point-in-time recovery its only mechanism is schedules.databaseBackup "${c.schedules.databaseBackup}", which loses up to ${dbLoss} min`));
  }
  const regionalLoss = c.database.replicateBackupsToPeer && c.database.pointInTimeRecovery ? PITR_LAG_MINUTES : c.backup.copyToPeer ? snapshotEvery : Infinity;
  if (db.rpoMinutes < regionalLoss && db.rpoMinutes >= dbLoss) {
    out.push(problem(["database", "replicateBackupsToPeer"], c.database.replicateBackupsToPeer,
      `true: primary-database is ${db.tier} (RPO ${db.rpoMinutes} min) but in a regional disaster its copies in ${c.peerRegion} lose up to ${regionalLoss === Infinity ? "everything (nothing is copied)" : `${regionalLoss} min`}`));
  }
  const media = objectiveFor("media-storage", objectives, classification);
  const mediaRule = c.replication.rules.find((r) => r.prefix === "media/");
  if (!mediaRule) {
    out.push(problem(["replication", "rules"], c.replication.rules.map((r) => r.prefix), `a rule for prefix "media/": media-storage is ${media.tier} (RPO ${media.rpoMinutes} min) and nothing else copies it to ${c.peerRegion}`));
  } else if (mediaRule.rtcMinutes === null) {
    out.push(problem(["replication", "rules", c.replication.rules.indexOf(mediaRule), "rtcMinutes"], null,
      `15: without Replication Time Control S3 gives no bound on replication lag, and media-storage is ${media.tier} (RPO ${media.rpoMinutes} min)`));
  } else if (media.rpoMinutes < mediaRule.rtcMinutes) {
    out.push(problem(["classification", "media-storage"], media.tier, `a tier whose RPO is at least ${mediaRule.rtcMinutes} min (Replication Time Control)`));
  }
  const cache = objectiveFor("cache", objectives, classification);
  if (cache.rpoMinutes < 1440) {
    out.push(problem(["classification", "cache"], cache.tier, `a tier whose RPO is at least 1440 min: ElastiCache takes one snapshot a day (cache.snapshotWindow)`));
  }
  return out;
}

/**
 * Validates raw config (keys as in the YAML files: `aws:region`, `eventchain-dr:<name>`).
 * @throws ConfigError with one message per problem; nothing is registered before this returns.
 */
export function validateConfig(raw: Record<string, unknown>, stack: string, options: ValidateOptions = {}): StackConfig {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === "aws:region") input.region = value;
    else if (key.startsWith(`${NAMESPACE}:`)) input[key.slice(NAMESPACE.length + 1)] = value;
  }
  const result = stackConfigSchema.safeParse(input);
  let data: Parsed | undefined = result.success ? result.data : undefined;
  if (!result.success) {
    const bad = new Set<string>();
    const pruned = structuredClone(input);
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        const known = knownKeys(issue.path);
        for (const k of issue.keys) problems.push(`${keyFor([...issue.path, k])}: unknown key; expected one of ${known.join(", ")}`);
        for (const k of issue.keys) deleteAt(pruned, [...issue.path, k]);
      } else {
        problems.push(problem(issue.path, valueAt(input, issue.path), issue.message));
        bad.add(keyFor(issue.path));
        deleteAt(pruned, issue.path);
      }
    }
    // Check the cross-field rules on what is left (defaults in place of the bad values), so one
    // run reports every problem; a rule about a key already reported is not repeated.
    const retry = stackConfigSchema.safeParse(pruned);
    data = retry.success ? retry.data : undefined;
    if (data) {
      const cross = [...crossFieldProblems(data), ...(options.checkObjectives !== false ? objectiveProblems(data) : [])];
      problems.push(...cross.filter((p) => !bad.has(p.slice(0, p.indexOf(": ")))));
    }
    throw new ConfigError(stack, problems);
  }
  problems.push(...crossFieldProblems(result.data));
  if (options.checkObjectives !== false) problems.push(...objectiveProblems(result.data));
  if (problems.length > 0) throw new ConfigError(stack, problems);
  data = result.data;
  return { ...data, stack, objectives: data.objectives as Objectives, classification: data.classification as Classification };
}

function deleteAt(root: unknown, path: ReadonlyArray<PropertyKey>): void {
  const parent = valueAt(root, path.slice(0, -1));
  if (parent !== null && typeof parent === "object") delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]];
}

/** The keys the schema allows at `path` (for "unknown key" messages). */
export function knownKeys(path: ReadonlyArray<PropertyKey>): string[] {
  let node: any = stackConfigSchema;
  const unwrap = () => {
    while (node?._zod?.def && ["default", "prefault", "optional", "nullable"].includes(node._zod.def.type)) node = node._zod.def.innerType;
  };
  unwrap();
  for (const part of path) {
    if (node?._zod?.def?.type === "object") node = node._zod.def.shape[part as string];
    else if (node?._zod?.def?.type === "array") node = node._zod.def.element;
    else return [];
    unwrap();
  }
  return node?._zod?.def?.type === "object" ? Object.keys(node._zod.def.shape) : [];
}

/** Reads the running stack's config from the Pulumi runtime (`pulumi up` / `preview`). */
export function loadConfig(options?: ValidateOptions): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(pulumi.runtime.allConfig())) {
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  return validateConfig(raw, pulumi.getStack(), options);
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Project config (`Pulumi.yaml` values) merged with `Pulumi.<stack>.yaml`, unvalidated. */
export function readRawConfig(stack: string, projectDir = REPO_ROOT): Record<string, unknown> {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new Error(`stack name ${show(stack)} is not allowed; expected letters, digits, ".", "_" or "-"`);
  const project = parseYaml(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as { config?: Record<string, unknown> };
  let stackFile: { config?: Record<string, unknown> } | null;
  try {
    stackFile = parseYaml(readFileSync(join(projectDir, `Pulumi.${stack}.yaml`), "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`no stack file Pulumi.${stack}.yaml in ${projectDir}; expected one of the committed stacks (prod, dr)`);
    throw error;
  }
  const raw: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(project.config ?? {})) {
    const full = key.includes(":") ? key : `${NAMESPACE}:${key}`;
    raw[full] = entry !== null && typeof entry === "object" && "value" in entry ? (entry as { value: unknown }).value : (entry as { default?: unknown })?.default;
  }
  for (const [key, value] of Object.entries(stackFile?.config ?? {})) {
    raw[key.includes(":") ? key : `${NAMESPACE}:${key}`] = value;
  }
  return raw;
}

/** Offline: the committed config of `stack`, validated (drill, runbooks, posture report). */
export function loadConfigFromFiles(stack: string, projectDir = REPO_ROOT, options?: ValidateOptions): StackConfig {
  return validateConfig(readRawConfig(stack, projectDir), stack, options);
}
