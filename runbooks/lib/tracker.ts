/**
 * The plan's recovery tracker (recovery-tracker.py), built in: the objective comes from the
 * tier of the system being recovered (stack outputs `objectives` + `classification`), never
 * from a typed number.
 */
import { objectiveFor, type SystemObjective, type Tier } from "../../contract/objectives.ts";
import type { StackOutputs } from "../../contract/stack-outputs.ts";

/** Less than this much time left to the RTO deadline = `at_risk` (the plan's 15 minutes). */
export const AT_RISK_MS = 15 * 60_000;

export type RtoStatus = "on_track" | "at_risk" | "exceeded";

export interface Milestone {
  id: string;
  description: string;
  at: string;
  /** Minutes since the incident. */
  elapsedMinutes: number;
}

export interface RecoveryPoint {
  /** The newest moment the recovered data reaches (ISO). */
  at: string;
  /** How it was chosen, e.g. "latest restorable time of eventchain-prod-db". */
  source: string;
}

export interface TrackerState {
  milestones: Milestone[];
  recoveryPoint: RecoveryPoint | null;
}

export interface StatusReport {
  status: RtoStatus;
  elapsedMinutes: number;
  remainingMinutes: number;
  deadline: string;
}

/** Pure: the tracker status for `elapsedMs` against an RTO of `rtoMinutes`. */
export function rtoStatus(elapsedMs: number, rtoMinutes: number): RtoStatus {
  const remaining = rtoMinutes * 60_000 - elapsedMs;
  if (remaining < 0) return "exceeded";
  if (remaining < AT_RISK_MS) return "at_risk";
  return "on_track";
}

/** The objective for `system` from validated stack outputs. */
export function objectiveFromOutputs(
  system: string,
  outputs: Pick<StackOutputs, "objectives" | "classification">,
): SystemObjective {
  const objectives = outputs.objectives as Record<Tier, { rtoMinutes: number; rpoMinutes: number }>;
  for (const tier of Object.values(outputs.classification)) {
    if (!objectives[tier])
      throw new Error(`stack outputs classify a system as "${tier}" but define no objective for that tier`);
  }
  return objectiveFor(system, objectives, outputs.classification as Record<string, Tier>);
}

const minutes = (ms: number) => Math.round((ms / 60_000) * 100) / 100;

export class RecoveryTracker {
  readonly milestones: Milestone[];
  recoveryPoint: RecoveryPoint | null;
  readonly objective: SystemObjective;
  readonly incidentAt: Date;
  private readonly now: () => Date;

  constructor(
    objective: SystemObjective,
    incidentAt: Date,
    state: TrackerState = { milestones: [], recoveryPoint: null },
    now: () => Date = () => new Date(),
  ) {
    this.objective = objective;
    this.incidentAt = incidentAt;
    this.now = now;
    this.milestones = [...state.milestones];
    this.recoveryPoint = state.recoveryPoint;
  }

  get deadline(): Date {
    return new Date(this.incidentAt.getTime() + this.objective.rtoMinutes * 60_000);
  }

  /** Records a milestone (once per id; a resumed run does not duplicate it). */
  milestone(id: string, description: string, at: Date = this.now()): Milestone {
    const existing = this.milestones.find((m) => m.id === id);
    if (existing) return existing;
    const m = {
      id,
      description,
      at: at.toISOString(),
      elapsedMinutes: minutes(at.getTime() - this.incidentAt.getTime()),
    };
    this.milestones.push(m);
    return m;
  }

  /** Records how far the recovered data reaches; keeps the oldest if called twice (worst case). */
  setRecoveryPoint(at: Date, source: string): void {
    if (Number.isNaN(at.getTime())) throw new Error(`recovery point from ${source} is not a valid time`);
    if (this.recoveryPoint && new Date(this.recoveryPoint.at) <= at) return;
    this.recoveryPoint = { at: at.toISOString(), source };
  }

  status(at: Date = this.now()): StatusReport {
    const elapsed = at.getTime() - this.incidentAt.getTime();
    return {
      status: rtoStatus(elapsed, this.objective.rtoMinutes),
      elapsedMinutes: minutes(elapsed),
      remainingMinutes: minutes(this.objective.rtoMinutes * 60_000 - elapsed),
      deadline: this.deadline.toISOString(),
    };
  }

  /** Achieved RTO/RPO at `finishedAt`. RPO is null when no data was restored. */
  achieved(finishedAt: Date) {
    const rtoMinutes = minutes(finishedAt.getTime() - this.incidentAt.getTime());
    const rpoMinutes = this.recoveryPoint
      ? Math.max(0, minutes(this.incidentAt.getTime() - new Date(this.recoveryPoint.at).getTime()))
      : null;
    return {
      rto: {
        achievedMinutes: rtoMinutes,
        objectiveMinutes: this.objective.rtoMinutes,
        met: rtoMinutes <= this.objective.rtoMinutes,
      },
      rpo: {
        recoveryPointAt: this.recoveryPoint?.at ?? null,
        source: this.recoveryPoint?.source ?? null,
        achievedMinutes: rpoMinutes,
        objectiveMinutes: this.objective.rpoMinutes,
        met: rpoMinutes === null ? null : rpoMinutes <= this.objective.rpoMinutes,
      },
    };
  }

  state(): TrackerState {
    return { milestones: [...this.milestones], recoveryPoint: this.recoveryPoint };
  }
}
