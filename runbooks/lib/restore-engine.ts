/**
 * The pluggable point-in-time restore engine used by `runbooks/point-in-time-restore.ts`
 * (`--engine <name>`). Service-neutral: `engines/rds-pitr.ts` implements it for RDS; a
 * self-managed PostgreSQL engine (pgBackRest) implements the same contract.
 */
import { BadInputError } from "./errors.ts";
import type { OptionSpec, PlannedAction, PreflightCheck, RawOptions, RunContext, StepOutputs } from "./types.ts";

/** Options of the point-in-time-restore runbook, as every engine sees them. */
export interface PitrOptions<EO = unknown> {
  engine: string;
  /** The moment to restore to, or "latest" (the engine's latest restorable time, fixed once in the journal). */
  time: Date | "latest";
  /** Override of the new target's identifier (default derived from source and time). */
  targetId: string | undefined;
  /** Longest wait for the target to become ready, in minutes. */
  maxWaitMinutes: number;
  /** The engine's own options (from `engine.parseOptions`). */
  engineOptions: EO;
}

export type PitrContext<EO = unknown> = RunContext<PitrOptions<EO>>;

/** What the window check fixed; every later engine call receives it. */
export interface RestoreTarget {
  /** The resolved restore time (ISO 8601). */
  restoreTime: string;
  /** Identifier of the new instance/cluster; never the source's. */
  targetId: string;
}

export interface RestoreWindow {
  earliest: Date;
  latest: Date;
  /** What the window belongs to, for messages (e.g. "eventchain-prod-db"). */
  source: string;
}

/**
 * A restore engine. `Restored` is what `restore` returns (and `exists` rediscovers): the later
 * calls receive it, so an engine never reads another step's result by id.
 */
export interface RestoreEngine<EO = unknown, Restored extends object = StepOutputs> {
  /** The `--engine` value. */
  name: string;
  summary: string;
  /** Extra CLI options this engine reads (merged into the runbook's `--help`). */
  options?: Record<string, OptionSpec>;
  /**
   * Validates the engine's options; throw `BadInputError` naming the value and what is allowed.
   * `raw` comes with this engine's `options` defaults already applied (`withDefaults`,
   * lib/options.ts): a default is written only in the spec.
   */
  parseOptions?(raw: RawOptions): EO;
  /** What the restore will touch, checked before it (and in `--dry-run`): see `Runbook.preflight`. */
  preflight?(ctx: PitrContext<EO>): PreflightCheck[];
  /** The restorable window of the source (read-only). */
  window(ctx: PitrContext<EO>): Promise<RestoreWindow>;
  /** The new target's identifier for a restore time (unique per source and time). */
  targetId(ctx: PitrContext<EO>, restoreTime: Date): string;
  /** Calls/commands `restore` + `waitReady` would make, for `--dry-run`. */
  plan(ctx: PitrContext<EO>, target: RestoreTarget | undefined): PlannedAction[];
  /** The target when it already exists (a re-run skips the restore), as `restore` would return it; else false. */
  exists(ctx: PitrContext<EO>, target: RestoreTarget): Promise<Restored | false>;
  /** Starts the restore into a new target. Never touches the source. */
  restore(ctx: PitrContext<EO>, target: RestoreTarget): Promise<Restored>;
  /** Waits (bounded by `maxWaitMinutes`, no fixed sleeps) until the target serves. */
  waitReady(ctx: PitrContext<EO>, target: RestoreTarget, restored: Restored): Promise<StepOutputs>;
  /** Proves the target is what was asked for (settings, data); throws otherwise. */
  verify(ctx: PitrContext<EO>, target: RestoreTarget, restored: Restored): Promise<StepOutputs>;
  /** Takes a backup of the recovered target, if the engine can. */
  snapshot?: {
    describe(ctx: PitrContext<EO>, target: RestoreTarget): PlannedAction[];
    exists(ctx: PitrContext<EO>, target: RestoreTarget, restored: Restored | undefined): Promise<StepOutputs | false>;
    run(ctx: PitrContext<EO>, target: RestoreTarget, restored: Restored): Promise<StepOutputs>;
  };
  /** Lines for the report's "Next steps", from what the restore and the snapshot returned. */
  nextSteps(
    ctx: PitrContext<EO>,
    target: RestoreTarget,
    done: { restored?: Restored; verified?: StepOutputs; snapshot?: StepOutputs },
  ): string[];
}

/** Pure: checks `time` lies within the window; the message names the time and the window. */
export function checkRestoreTime(time: Date, window: RestoreWindow): void {
  if (time < window.earliest || time > window.latest) {
    throw new BadInputError(
      `restore time ${time.toISOString()} is outside the restorable window of ${window.source}: ` +
        `expected a time between ${window.earliest.toISOString()} (earliest) and ${window.latest.toISOString()} (latest)`,
    );
  }
}
