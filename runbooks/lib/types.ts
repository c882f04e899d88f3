/**
 * The runbook model: a runbook is metadata plus a list of named steps. See README.md.
 * Nothing here knows an AWS service; steps bring their own clients through `ctx.aws`.
 */
import type { StackOutputs } from "../../contract/stack-outputs.ts";
import type { SystemId } from "../../contract/objectives.ts";
import type { RecoveryTracker } from "./tracker.ts";
import type { ClientFactory } from "./aws.ts";
import type { RunStore } from "./run-store.ts";

/** What a step returns; recorded in the journal, readable by dependent steps via `ctx.result(step)`. JSON only, no secrets. */
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
  /**
   * The one place the default is written: `--help` prints it and the runbook's `parseOptions`
   * reads it through `withDefaults` (lib/options.ts); the engine does not apply it.
   */
  default?: string;
}

export type RawOptions = Record<string, string | boolean | undefined>;

declare const RESULT: unique symbol;

/**
 * A handle on a step: its id and, for the type checker only, the type of what it returns.
 * A step is its own handle: `ctx.result(chooseSource)` is typed by `chooseSource.run`'s return
 * type, so renaming a step or changing what it returns fails `tsc` where its result is read.
 */
export interface StepRef<R extends object = StepOutputs> {
  readonly id: string;
  /** Never set at run time: carries the result type `R`. */
  readonly [RESULT]?: R;
}

/** What a step's result is, from its handle. */
export type ResultOf<S> = S extends StepRef<infer R> ? R : never;

export interface Step<O = RawOptions, R extends object = StepOutputs> extends StepRef<R> {
  /** Stable id (kebab-case): the journal key. */
  id: string;
  /** Sentence shown in progress, dry-run and the report timeline. */
  title: string;
  /**
   * Steps that must finish first, by handle; `[]` = no prerequisite. Always explicit: nothing
   * depends on the previous step in the list by default. A step may read the result of only the
   * steps it lists here (the engine refuses any other). Steps whose prerequisites are all done
   * run side by side.
   */
  dependsOn: readonly StepRef<any>[];
  /** Deletes or overwrites something: asks for confirmation. */
  destructive?: boolean;
  /** Moves traffic (DNS, connection settings): asks for confirmation. */
  movesTraffic?: boolean;
  /** Makes only read calls: also runs under `--dry-run`, so later steps can plan with real values. */
  readOnly?: boolean;
  /**
   * A check that gates the traffic-moving or destructive steps after it (database available,
   * targets healthy, primary assessment): its `run` (and `verify`) is re-run right before such a
   * step whenever its result came from an earlier process (a resumed run) or is older than
   * `GATE_MAX_AGE_MS` (engine.ts). Its `run` must change nothing.
   */
  gate?: boolean;
  /**
   * Why this traffic-moving or destructive step needs no gate (one line), when no `gate` step
   * precedes it; undefined otherwise. Every gate listed before such a step must be among the
   * steps it depends on, directly or not (lib/gates.ts; test/runbooks/gates.test.ts checks every
   * runbook).
   */
  ungated?: string;
  /** Milestone recorded in the tracker when the step finishes; default the step id. */
  milestone?: string;
  /** The calls/commands the step would make, for `--dry-run` (may use earlier read-only results). */
  describe(ctx: RunContext<O>): PlannedAction[] | Promise<PlannedAction[]>;
  /**
   * Whether the step's effect is already in place (a re-run skips it). Return `false`, or the
   * step's result (what later steps read) when it is.
   */
  isDone?(ctx: RunContext<O>): Promise<false | R>;
  /** Does the work; returns its result for the journal and later steps (JSON, no secrets). */
  run(ctx: RunContext<O>): Promise<R>;
  /** Proves the work took effect; throw to fail the step. */
  verify?(ctx: RunContext<O>, outputs: R): Promise<void>;
}

/**
 * The step declarer for a runbook's options `O`: `const step = stepFor<MyOptions>()`, then
 * `const restore = step({ id: "restore", dependsOn: [pick], run: async (ctx) => ({ … }) })`.
 * The result type is inferred once, from `run` (annotate `run`'s return type when `isDone`
 * returns a different shape). Identity at run time.
 */
export function stepFor<O>(): <R extends object>(spec: Step<O, R>) => Step<O, R> {
  return (spec) => spec;
}

/** A step of any result type, as a runbook lists them. */
export type AnyStep<O = RawOptions> = Step<O, any>;

/** One thing a runbook will touch, checked before its first change (and in `--dry-run`). */
export interface PreflightCheck {
  /** What is checked, e.g. `DB subnet group eventchain-dr-db (us-west-2)`. */
  what: string;
  /** Resolves when it exists and is usable; throws (or returns a sentence) naming the problem. */
  check(): Promise<void | string>;
}

export interface Runbook<O = RawOptions> {
  /** File name without extension, e.g. `region-failover`. */
  name: string;
  /** One line for `--help` and notifications. */
  summary: string;
  /** System being recovered (a key of `SYSTEMS` in contract/objectives.ts): its tier gives RTO/RPO. */
  system: SystemId | ((options: O) => SystemId);
  /** Load the peer stack's outputs too (`ctx.peer`). */
  needsPeer?: boolean;
  /** Runbook-specific options (besides the common ones). */
  options?: Record<string, OptionSpec>;
  /** Validates raw options into `O`; throw `BadInputError` naming the value and what is allowed. */
  parseOptions?(raw: RawOptions): O;
  /**
   * Everything the run will touch, checked once before the first step that is not an assessment
   * (a `readOnly` + `gate` step such as "is the primary down?", whose refusal comes first), also in
   * `--dry-run` and on `--resume`: any gap fails the run with exit 2, naming each gap, before
   * anything changes.
   */
  preflight?(ctx: RunContext<O>): PreflightCheck[];
  /**
   * Where the run lock and the shared copy of the journal live (incident runbooks: the DR
   * region); undefined = local journal only. A store that cannot be reached at the start means
   * local journal only, said in the output and the report.
   */
  sharedStore?(outputs: StackOutputs, peer: StackOutputs | undefined, clients: ClientFactory): RunStore | undefined;
  /**
   * With a shared store: runbooks that act on the same things (the traffic, the failover switch,
   * the application's database) declare the same scope, and then exclude each other on the same
   * pair of stacks (the stack and its peer): one run lock for all of them, and a second run is
   * refused naming the holder's runbook. Undefined: one run of this runbook per stack.
   */
  lockScope?: string;
  /** The steps, possibly depending on options/outputs (e.g. one step per service). */
  steps: AnyStep<O>[] | ((options: O, outputs: StackOutputs) => AnyStep<O>[]);
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
  /**
   * This step was started by an earlier process of this run and did not finish (a resumed run):
   * its effect may be partial, so `isDone` should not take a first sign of it for all of it.
   */
  startedBefore: boolean;
  /** When the incident began (`--incident-at`, default the run's start): the base of achieved RTO/RPO. */
  incidentAt: Date;
  startedAt: Date;
  /**
   * The result of a finished step this step depends on (this run, or a resumed one). Throws
   * when the step has not finished, or when the reading step does not list it in `dependsOn`.
   */
  result<R extends object>(step: StepRef<R>): R;
  /** The same, or undefined while the step has not run (for `describe` under `--dry-run`). */
  peek<R extends object>(step: StepRef<R>): R | undefined;
  /**
   * A client for `region`, honouring `AWS_ENDPOINT_URL` and the default credential chain. Its
   * calls retry throttling, 5xx, resets and hangs within the step's retry budget (retry.ts);
   * send creates through `sendIdempotent` (aws.ts) so a retry never makes a second one.
   */
  aws<C>(ctor: ClientCtor<C>, region: string): C;
  /** Wait on something (spinner on a terminal). */
  wait<T>(title: string, fn: () => Promise<T>): Promise<T>;
  log: Logger;
  /** Queues a message to the run's notification sinks (SNS topic, Slack); never waits for them, never throws. */
  notify(subject: string, message: string): Promise<void>;
  tracker: RecoveryTracker;
  signal: AbortSignal;
}
