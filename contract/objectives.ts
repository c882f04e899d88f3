/**
 * Recovery objectives and the system classification, as types and pure helpers.
 *
 * The numbers themselves live once, in `Pulumi.yaml` (project config `eventchain-dr:objectives`
 * and `eventchain-dr:classification`); `infra/config/load.ts` validates them into these types, the
 * stacks export them (see `stack-outputs.ts`), and the posture report, the policy pack and the runbook
 * tracker all read them from there. Nothing here repeats a figure.
 */

/** The plan's three tiers, most demanding first. */
export const TIERS = ["critical", "important", "standard"] as const;
export type Tier = (typeof TIERS)[number];

/** One tier's objective: the longest tolerable downtime and data loss. */
export interface Objective {
  /** Recovery Time Objective in minutes. */
  rtoMinutes: number;
  /** Recovery Point Objective in minutes. */
  rpoMinutes: number;
}

export type Objectives = Record<Tier, Objective>;

/**
 * Every system the plan classifies, plus the two data stores the plan backs up without
 * classifying (the Redis cache and code/images), so that every backed-up thing has a tier.
 */
export const SYSTEMS = {
  "primary-database": "Primary database (user data, transactions, events)",
  payments: "Payment processing system",
  authentication: "Authentication service",
  "core-api": "Core API services",
  "media-storage": "File storage and media assets",
  analytics: "Analytics and reporting systems",
  notifications: "Email and notification services",
  search: "Search and discovery services",
  cache: "Redis cache and sessions (backed up by the plan, not classified by it)",
  "code-and-images": "Application code and container images (backed up by the plan, not classified by it)",
  "logging-monitoring": "Logging and monitoring data",
  "dev-staging": "Development and staging environments",
  "docs-internal-tools": "Documentation and internal tools",
} as const;

export type SystemId = keyof typeof SYSTEMS;
export const SYSTEM_IDS = Object.keys(SYSTEMS) as SystemId[];

export type Classification = Record<SystemId, Tier>;

/** A system's tier and objective, resolved from the validated config. */
export interface SystemObjective extends Objective {
  system: SystemId;
  tier: Tier;
}

export function isTier(value: unknown): value is Tier {
  return typeof value === "string" && (TIERS as readonly string[]).includes(value);
}

export function isSystemId(value: unknown): value is SystemId {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(SYSTEMS, value);
}

/**
 * The objective that applies to `system`.
 * @throws Error naming the system and the known systems when `system` is not classified.
 */
export function objectiveFor(
  system: string,
  objectives: Objectives,
  classification: Partial<Record<string, Tier>>,
): SystemObjective {
  const tier = classification[system];
  if (!isSystemId(system) || tier === undefined) {
    throw new Error(`unknown system "${system}": expected one of ${SYSTEM_IDS.join(", ")}`);
  }
  return { system, tier, ...objectives[tier] };
}
