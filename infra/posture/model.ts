/**
 * The posture model: which declared mechanisms protect each classified system, the worst-case
 * data loss (RPO) and the estimated recovery time (RTO) they give, and a verdict against the
 * system's tier, for an in-region failure and for a regional disaster.
 *
 * Pure functions over a typed list of mechanisms; `mechanisms.ts` reads that list from
 * the resources `evaluateStack` declares, `render.ts` prints the result. Every figure
 * that is not declared comes from `figures.ts`, which names its source.
 */
import type { Classification, Objectives, SystemId, Tier } from "../../contract/objectives.ts";
import { SYSTEM_IDS, SYSTEMS } from "../../contract/objectives.ts";
import { CALIBRATION, FIGURES, type FigureId } from "./figures.ts";
import { calibrationSummary, type CalibrationSummary } from "./calibration.ts";
import { rtoSpread } from "./rto-range.ts";
import { selfManagedPosture, type SelfManagedPosture, type SelfManagedPostureInput } from "./self-managed.ts";
import { SYSTEM_MODEL, type SystemModel } from "./systems.ts";

export { SYSTEM_MODEL, type SystemModel } from "./systems.ts";

/** What can be lost or must be brought back; each system depends on some of these. */
export const DATA_STORES = ["database", "media", "cache", "images", "logical-backups", "monitoring"] as const;
export type DataStore = (typeof DATA_STORES)[number];

export const SCENARIOS = ["in-region", "regional"] as const;
/** `in-region`: the data store is lost or corrupted, the region is up. `regional`: the primary region is lost. */
export type Scenario = (typeof SCENARIOS)[number];

/** A declared way to get a data store back. */
export interface Mechanism {
  /** Stable id, e.g. `rds-pitr`, `s3-replication-rtc`. */
  id: string;
  protects: DataStore;
  /** Whether a copy survives the loss of the primary region. */
  scope: "in-region" | "cross-region";
  /** One line for humans, with the declared values it was derived from. */
  description: string;
  /** Worst-case data loss in minutes; `null` when nothing bounds it. */
  rpoMinutes: number | null;
  /** Estimated minutes to make the data usable again with this mechanism. */
  restoreMinutes: number;
  /** Figures (see `figures.ts`) the numbers above use. */
  figures: FigureId[];
  /** The declared resources it was read from, as `type name`. */
  resources: string[];
}

/** How traffic reaches the DR region: DNS failover and the pilot light. */
export interface Failover {
  /** Health-check interval × failure threshold, in minutes; null when no failover record is declared. */
  detectionMinutes: number | null;
  /** Record TTL in minutes: how long clients may keep the old answer. */
  ttlMinutes: number | null;
  /**
   * Minutes from the runbook engaging the failover switch to Route 53 answering the DR record
   * (before the TTL); 0 when the records fail over on the endpoint health check by themselves.
   */
  switchMinutes?: number;
  /** Minutes for the DR services to scale to their recovery counts; null without a pilot light. */
  scaleUpMinutes: number | null;
  description: string;
  resources: string[];
}

export interface ScenarioResult {
  scenario: Scenario;
  /** Worst-case data loss over the system's data stores; null = unbounded or no copy at all. */
  rpoMinutes: number | null;
  /** Estimated time to recover; null when a needed path is missing. */
  rtoMinutes: number | null;
  /** Ids of the mechanisms the estimate uses (the best one per data store). */
  mechanisms: string[];
  verdict: "met" | "missed";
  /** Why it is missed (empty when met). */
  reasons: string[];
}

export interface SystemPosture {
  system: SystemId;
  description: string;
  tier: Tier;
  objective: { rtoMinutes: number; rpoMinutes: number };
  /** Every mechanism that protects one of the system's data stores. */
  mechanisms: string[];
  note: string;
  inRegion: ScenarioResult;
  regional: ScenarioResult;
  verdict: "met" | "missed";
}

/** A backup path of the primary stack and the heartbeat alarm that pages when it stops (see `backup-paths.ts`). */
export interface BackupPathPosture {
  id: string;
  from: string[];
  heartbeat: { name: string; periodMinutes: number; missingDataBreaches: boolean } | null;
  problems: string[];
}

export interface PostureInput {
  stack: string;
  region: string;
  peerRegion: string;
  objectives: Objectives;
  classification: Classification;
  mechanisms: Mechanism[];
  failover: Failover;
  /** The self-managed path's settings (from the config), when it is to be estimated. */
  selfManaged?: SelfManagedPostureInput;
  /** The primary stack's backup paths and their heartbeats (listed, not part of the verdict). */
  backupPaths?: BackupPathPosture[];
}

export interface PostureReport {
  stack: string;
  region: string;
  peerRegion: string;
  systems: SystemPosture[];
  mechanisms: Mechanism[];
  failover: Failover;
  backupPaths?: BackupPathPosture[];
  figures: typeof FIGURES;
  /** The self-managed (pgBackRest) path, estimated from the figures in use; informational, no verdict. */
  selfManaged: SelfManagedPosture | null;
  /** Where the measured figures come from, and where the latest measurements drifted from them. */
  calibration: CalibrationSummary;
  verdict: "met" | "missed";
}

const rank = (m: Mechanism) => [m.rpoMinutes ?? Number.POSITIVE_INFINITY, m.restoreMinutes] as const;

/** The mechanism with the smallest RPO (then the fastest restore) usable in `scenario`. */
export function bestMechanism(store: DataStore, scenario: Scenario, mechanisms: Mechanism[]): Mechanism | undefined {
  const usable = mechanisms.filter(
    (m) => m.protects === store && (scenario === "in-region" || m.scope === "cross-region"),
  );
  return usable.sort((a, b) => {
    const [ra, ta] = rank(a);
    const [rb, tb] = rank(b);
    return ra - rb || ta - tb;
  })[0];
}

/** Minutes as the report prints them: `5 min`, `6 h`, `1 h 30 min`, `unbounded`. */
export function formatMinutes(minutes: number | null): string {
  if (minutes === null) return "none";
  const m = Math.round(minutes * 10) / 10;
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const rest = Math.round((m - h * 60) * 10) / 10;
  return rest === 0 ? `${h} h` : `${h} h ${rest} min`;
}

/** Evaluates one system for one scenario. Pure. */
export function evaluateScenario(
  model: SystemModel,
  objective: { rtoMinutes: number; rpoMinutes: number },
  scenario: Scenario,
  input: Pick<PostureInput, "mechanisms" | "failover" | "region">,
): ScenarioResult {
  const reasons: string[] = [];
  const used: string[] = [];
  let rpo: number | null = 0;
  let restore = 0;
  for (const store of model.data) {
    const best = bestMechanism(store, scenario, input.mechanisms);
    if (!best) {
      rpo = null;
      reasons.push(
        scenario === "regional"
          ? `no mechanism copies ${store} out of ${input.region}: no regional RPO`
          : `no declared mechanism protects ${store}`,
      );
      continue;
    }
    used.push(best.id);
    if (best.rpoMinutes === null) {
      rpo = null;
      reasons.push(`${store}: ${best.description} gives no bound on data loss`);
    } else if (rpo !== null) {
      rpo = Math.max(rpo, best.rpoMinutes);
    }
    restore = Math.max(restore, best.restoreMinutes);
    if (best.rpoMinutes !== null && best.rpoMinutes > objective.rpoMinutes) {
      reasons.push(
        `${store}: worst-case RPO ${formatMinutes(best.rpoMinutes)} (${best.description}) exceeds the ${formatMinutes(objective.rpoMinutes)} objective`,
      );
    }
  }

  let rto: number | null = FIGURES.failoverDecision.value + restore;
  if (scenario === "regional") {
    const f = input.failover;
    if (model.serving && (f.detectionMinutes === null || f.ttlMinutes === null)) {
      rto = null;
      reasons.push("no DNS failover is declared: traffic cannot move to the DR region");
    } else if (model.serving && f.scaleUpMinutes === null) {
      rto = null;
      reasons.push("no DR pilot light is declared: no services to serve from the DR region");
    } else if (model.serving) {
      // The runbook restores data and scales the pilot light side by side, then engages the switch.
      rto =
        f.detectionMinutes! +
        FIGURES.failoverDecision.value +
        Math.max(restore, f.scaleUpMinutes!) +
        (f.switchMinutes ?? 0) +
        f.ttlMinutes!;
    }
  }
  if (rto !== null && rto > objective.rtoMinutes) {
    reasons.push(`estimated RTO ${formatMinutes(rto)} exceeds the ${formatMinutes(objective.rtoMinutes)} objective`);
  }
  if (reasons.length === 0 && rpo === null) reasons.push("no bound on data loss");
  return {
    scenario,
    rpoMinutes: rpo,
    rtoMinutes: rto === null ? null : Math.round(rto * 10) / 10,
    mechanisms: used,
    verdict: reasons.length === 0 ? "met" : "missed",
    reasons,
  };
}

/** The whole report: every classified system, both scenarios. Pure. */
export function evaluatePosture(input: PostureInput): PostureReport {
  const systems = SYSTEM_IDS.map((system): SystemPosture => {
    const tier = input.classification[system];
    const objective = input.objectives[tier];
    const model = SYSTEM_MODEL[system];
    const inRegion = evaluateScenario(model, objective, "in-region", input);
    const regional = evaluateScenario(model, objective, "regional", input);
    return {
      system,
      description: SYSTEMS[system],
      tier,
      objective: { rtoMinutes: objective.rtoMinutes, rpoMinutes: objective.rpoMinutes },
      mechanisms: input.mechanisms.filter((m) => model.data.includes(m.protects)).map((m) => m.id),
      note: model.note,
      inRegion,
      regional,
      verdict: inRegion.verdict === "met" && regional.verdict === "met" ? "met" : "missed",
    };
  });
  return {
    stack: input.stack,
    region: input.region,
    peerRegion: input.peerRegion,
    systems,
    mechanisms: input.mechanisms,
    failover: input.failover,
    ...(input.backupPaths ? { backupPaths: input.backupPaths } : {}),
    figures: FIGURES,
    selfManaged: input.selfManaged
      ? selfManagedPosture(input.selfManaged, FIGURES, rtoSpread(CALIBRATION, FIGURES))
      : null,
    calibration: calibrationSummary(CALIBRATION, FIGURES),
    verdict: systems.every((s) => s.verdict === "met") ? "met" : "missed",
  };
}
