/**
 * What the rules know besides the resource in front of them: the objectives and the
 * classification (from the stack's validated config, the same source the posture report
 * uses), the stack's role, and the retention floor of each tier. Plus the pure helpers the
 * rules share: which system a resource holds data of, and reading IAM policy documents.
 */
import type { Classification, Objectives, SystemId, Tier } from "../contract/objectives.ts";
import { isSystemId } from "../contract/objectives.ts";

export interface PolicyContext {
  objectives: Objectives;
  classification: Classification;
  /** `primary` stacks hold the data stores; `dr` stacks hold the copies. */
  role: "primary" | "dr";
  /** Least number of days backups of each tier's data must be kept. */
  retentionFloorDays: Record<Tier, number>;
}

/**
 * Retention floors. Critical: the plan keeps database backups 30 days (`RETENTION_DAYS=30`,
 * `retention_days = 30`). Important and standard: our floors (two weeks, one week), long
 * enough to find a silent corruption before its last good copy expires.
 */
export const DEFAULT_RETENTION_FLOOR_DAYS: Record<Tier, number> = { critical: 30, important: 14, standard: 7 };

/** Tag a component may set to say which classified system a resource holds data of. */
export const SYSTEM_TAG = "eventchain:system";

/** Backup-bucket prefixes and the system whose data each holds (plan: database/, redis/, infrastructure/, code/). */
export const PREFIX_SYSTEM: Record<string, SystemId> = {
  "media/": "media-storage",
  "database/": "primary-database",
  "redis/": "cache",
  "infrastructure/": "dev-staging",
  "code/": "code-and-images",
};

const TYPE_SYSTEM: Record<string, SystemId> = {
  "aws:rds/instance:Instance": "primary-database",
  "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": "primary-database",
  "aws:backup/plan:Plan": "primary-database",
  "aws:elasticache/replicationGroup:ReplicationGroup": "cache",
  "aws:ecr/repository:Repository": "code-and-images",
  "aws:ecr/replicationConfiguration:ReplicationConfiguration": "code-and-images",
};

/**
 * The system whose data a resource holds: its `eventchain:system` tag, else its type (an RDS
 * instance is the primary database), else its name (`media` in a bucket's name), else undefined.
 */
export function systemOf(type: string, name: string, props: Record<string, unknown>): SystemId | undefined {
  const tags = (props.tags ?? {}) as Record<string, unknown>;
  if (isSystemId(tags[SYSTEM_TAG])) return tags[SYSTEM_TAG] as SystemId;
  if (TYPE_SYSTEM[type]) return TYPE_SYSTEM[type];
  if (type.startsWith("aws:s3/") && /media/i.test(name)) return "media-storage";
  return undefined;
}

/** The system whose data a key prefix holds, e.g. `media/` → media-storage. */
export function systemOfPrefix(prefix: string | undefined): SystemId | undefined {
  if (!prefix) return undefined;
  const match = Object.keys(PREFIX_SYSTEM).find((p) => prefix.startsWith(p));
  return match ? PREFIX_SYSTEM[match] : undefined;
}

export function tierOf(system: SystemId, ctx: PolicyContext): { tier: Tier; rpoMinutes: number; rtoMinutes: number } {
  const tier = ctx.classification[system];
  return { tier, ...ctx.objectives[tier] };
}

/** True for the tiers whose data must have a copy in another region. */
export function needsCrossRegionCopy(tier: Tier): boolean {
  return tier === "critical" || tier === "important";
}

export interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Resource?: string | string[];
}

/**
 * The statements of a policy document given as JSON text or as an object.
 * @throws Error naming the resource when the text is not JSON.
 */
export function statementsOf(document: unknown, where: string): Statement[] {
  if (document === undefined || document === null) return [];
  let doc = document;
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch {
      throw new Error(`${where}: policy is not valid JSON`);
    }
  }
  const statement = (doc as { Statement?: Statement | Statement[] }).Statement;
  if (statement === undefined) return [];
  return Array.isArray(statement) ? statement : [statement];
}

export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
