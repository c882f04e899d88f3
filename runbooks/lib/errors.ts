/** Error kinds the engine maps to exit codes. */

/** Process exit codes of every runbook. */
export const EXIT = {
  /** Every step succeeded and the objectives were met (or do not apply). */
  succeeded: 0,
  /** A step failed; the message names it and the `--resume` command. */
  failed: 1,
  /** Bad input (arguments, outputs, refused precondition); nothing was changed. */
  badInput: 2,
  /** Every step succeeded but the achieved RTO or RPO missed the objective. */
  objectivesMissed: 3,
  /** Stopped before a destructive or traffic-moving step: no confirmation (no TTY, no `--yes`) or declined. */
  stopped: 4,
  /** Interrupted by a signal; resume with `--resume <run-id>`. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Input the runbook cannot act on. Thrown before any change is made. */
export class BadInputError extends Error {
  override name = "BadInputError";
}

/** A destructive or traffic-moving step was not confirmed. */
export class ConfirmationError extends Error {
  override name = "ConfirmationError";
  readonly stepId: string;
  constructor(message: string, stepId: string) {
    super(message);
    this.stepId = stepId;
  }
}

/** A step's run or verify threw. */
export class StepFailedError extends Error {
  override name = "StepFailedError";
  readonly stepId: string;
  override readonly cause: unknown;
  constructor(stepId: string, cause: unknown) {
    super(`step "${stepId}" failed: ${errorMessage(cause)}`);
    this.stepId = stepId;
    this.cause = cause;
  }
}

/** The run was aborted (signal) between steps. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
}

/** One-line message of anything thrown, without stack traces. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return status && !error.message.includes(String(status)) ? `${error.message} (HTTP ${status})` : error.message;
  }
  return String(error);
}
