/**
 * The runbook model: a runbook is metadata plus a list of named steps. See README.md.
 * Nothing here knows an AWS service; steps bring their own clients through `ctx.aws`.
 */
import type { StackOutputs } from "../../infra/outputs.ts";
import type { SystemId } from "../../infra/objectives.ts";
import type { RecoveryTracker } from "./tracker.ts";

/** What a step returns; recorded in the journal, readable by later steps via `ctx.result(id)`. JSON only, no secrets. */
export type StepOutputs = Record<string, unknown>;

/** One thing a step would do, printed by `--dry-run`. */
export interface PlannedAction {
  /** `aws` = an API call, `command` = a process, `http` = a web request, `note` = anything else. */
  kind: "aws" | "command" | "http" | "note";
  /** e.g. `rds:RestoreDBInstanceToPointInTime (us-west-2)` or a command line. */
  action: string;
  /** Parameters of the call (never secrets). */
  detail?: Record<string, unknown>;
}

/** A CLI option a runbook adds to the common ones. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** One line for `--help`. */
  description: string;
  /** Shown in `--help`; applied by the runbook's `parseOptions`, not by the engine. */
  default?: string;
}

export type RawOptions = Record<string, string | boolean | undefined>;

export interface Step<O = RawOptions> {
  /** Stable id (kebab-case): the journal key and the `dependsOn` reference. */
  id: string;
  /** Sentence shown in progress, dry-run and the report timeline. */
  title: string;
  /**
   * Steps that must finish first. Default: the previous step in the list (a sequence).
   * `[]` = no prerequisite. Steps whose prerequisites are all done run side by side.
   */
  dependsOn?: string[];
  /** Deletes or overwrites something: asks for confirmation. */
  destructive?: boolean;
  /** Moves traffic (DNS, connection settings): asks for confirmation. */
  movesTraffic?: boolean;
  /** Makes only read calls: also runs under `--dry-run`, so later steps can plan with real values. */
  readOnly?: boolean;
  /** Milestone recorded in the tracker when the step finishes; default the step id. */
  milestone?: string;
  /** The calls/commands the step would make, for `--dry-run` (may use earlier read-only results). */
  describe(ctx: RunContext<O>): PlannedAction[] | Promise<PlannedAction[]>;
  /**
   * Whether the step's effect is already in place (a re-run skips it). Return `true`, or the
   * outputs later steps need (an object), or `false`.
   */
  isDone?(ctx: RunContext<O>): Promise<boolean | StepOutputs>;
  /** Does the work; returns outputs for the journal. */
  run(ctx: RunContext<O>): Promise<StepOutputs | void>;
  /** Proves the work took effect; throw to fail the step. */
  verify?(ctx: RunContext<O>, outputs: StepOutputs): Promise<void>;
}

export interface Runbook<O = RawOptions> {
  /** File name without extension, e.g. `region-failover`. */
  name: string;
  /** One line for `--help` and notifications. */
  summary: string;
  /** System being recovered (a key of `SYSTEMS` in infra/objectives.ts): its tier gives RTO/RPO. */
  system: SystemId | ((options: O) => SystemId);
  /** Load the peer stack's outputs too (`ctx.peer`). */
  needsPeer?: boolean;
  /** Runbook-specific options (besides the common ones). */
  options?: Record<string, OptionSpec>;
  /** Validates raw options into `O`; throw `BadInputError` naming the value and what is allowed. */
  parseOptions?(raw: RawOptions): O;
  /** The steps, possibly depending on options/outputs (e.g. one step per service). */
  steps: Step<O>[] | ((options: O, outputs: StackOutputs) => Step<O>[]);
  /** Lines printed and reported after success. */
  nextSteps?(ctx: RunContext<O>): string[];
  /** Post-recovery checklist for the report. */
  checklist?(ctx: RunContext<O>): string[];
}

/** Anything constructible like an AWS SDK v3 client. */
export type ClientCtor<C> = new (config: { region: string; endpoint?: string; maxAttempts?: number }) => C;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export interface RunContext<O = RawOptions> {
  runId: string;
  runbook: string;
  options: O;
  /** The selected stack's validated outputs. */
  outputs: StackOutputs;
  /** The peer stack's validated outputs (only when `needsPeer`). */
  peer: StackOutputs | undefined;
  dryRun: boolean;
  /** `--force` was given (runbooks decide what it overrides). */
  force: boolean;
  /** When the incident began (`--incident-at`, default the run's start): the base of achieved RTO/RPO. */
  incidentAt: Date;
  startedAt: Date;
  /** Outputs of a finished step (this run, or a resumed one). Throws if it has none. */
  result<T = StepOutputs>(stepId: string): T;
  /** Outputs of a finished step, or undefined (for `describe` under `--dry-run`). */
  peek<T = StepOutputs>(stepId: string): T | undefined;
  /** A client for `region`, honouring `AWS_ENDPOINT_URL` and the default credential chain. */
  aws<C>(ctor: ClientCtor<C>, region: string): C;
  /** Wait on something (spinner on a terminal). */
  wait<T>(title: string, fn: () => Promise<T>): Promise<T>;
  log: Logger;
  /** Sends a message to the run's notification sinks (SNS topic, Slack); never throws. */
  notify(subject: string, message: string): Promise<void>;
  tracker: RecoveryTracker;
  signal: AbortSignal;
}
