/**
 * Safe retries for every cloud API call a step makes: throttling, 5xx, connection resets and
 * calls that hang are retried with full-jitter exponential backoff, within a budget per step.
 *
 * - **Classification** (`transientKind`) is the AWS SDK's own (`@smithy/core/retry`: error
 *   names, HTTP 429 and 5xx, `$retryable`, Node's network error codes), plus what it does not
 *   classify (undici's socket error, "socket hang up"); no service is named here.
 * - **Ambiguous failures** (5xx, reset, timeout) may hide a request that took effect: before
 *   re-sending, `alreadyDone` (when given) is asked first, and a re-send answered "already
 *   exists" is taken as the earlier attempt's success. A throttled request was refused before
 *   it was processed, so it is simply sent again.
 * - **Budget**: at most `maxAttempts` per call and `budgetMs` of backoff per step. When either
 *   runs out the call fails with `RetryExhaustedError`, which names the call and the last error.
 */
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./types.ts";

export type TransientKind = "throttling" | "server error" | "network error" | "timeout";

/** What a reset connection looks like through Node's stacks that the SDK's classification lacks. */
const NODE_ONLY_NETWORK_CODES = new Set(["UND_ERR_SOCKET"]);
const HUNG_UP = /socket hang up|ECONNRESET/;

interface ErrorShape {
  name: string;
  message: string;
  code?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean };
  $retryable?: { throttling?: boolean };
}

/** The error without its cause: the SDK's classification would look into the cause, which we label on its own. */
function surfaceOf(error: object): ErrorShape {
  const e = error as Partial<ErrorShape>;
  return {
    name: e.name ?? "",
    message: e.message ?? "",
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.$metadata ? { $metadata: e.$metadata } : {}),
    ...(e.$retryable ? { $retryable: e.$retryable } : {}),
  };
}

/** Which kind of transient error the SDK classified: a timeout, a network error, else a server error. */
function kindOf(e: ErrorShape): TransientKind {
  const networkCode = /^(E[A-Z_]+|UND_ERR_\w+|ERR_HTTP2_\w+)$/.test(String(e.code ?? ""));
  if (e.code === "ETIMEDOUT" || (/Timeout/.test(e.name) && !networkCode)) return "timeout";
  if (networkCode || HUNG_UP.test(e.message)) return "network error";
  return "server error";
}

/**
 * Whether `error` is worth retrying, and why; undefined for anything a retry would repeat. The
 * SDK decides (`isThrottlingError`, `isTransientError`, `isServerError`); only what it does not
 * classify (undici's socket error, a socket hung up) is added here, and causes are looked into.
 */
export function transientKind(error: unknown, depth = 0): TransientKind | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = surfaceOf(error);
  if (e.name === "AbortError") return undefined;
  if (isThrottlingError(e as never)) return "throttling";
  if (isTransientError(e as never) || isServerError(e as never)) return kindOf(e);
  if (NODE_ONLY_NETWORK_CODES.has(e.code ?? "") || HUNG_UP.test(e.message)) return "network error";
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && depth < 5) return transientKind(cause, depth + 1);
  return undefined;
}

/** The name of a "the thing you create already exists" error (any service). */
const ALREADY_EXISTS = /AlreadyExists/i;

export interface RetryPolicy {
  /** Attempts per call, the first included (1 = no retry). */
  maxAttempts: number;
  /** First backoff ceiling; doubles per attempt (full jitter: a random wait up to it). */
  baseMs: number;
  /** Largest backoff ceiling. */
  capMs: number;
  /** Total backoff one step may spend across all its calls. */
  budgetMs: number;
  /** One attempt's longest wait for an answer (a hung call counts as a timeout and is retried). */
  callTimeoutMs: number;
}

/**
 * Defaults: 8 attempts per call, backoff from up to 0.2 s doubling to up to 20 s, 5 minutes of
 * backoff per step, 60 s per attempt. Documented in README.md ("Retries").
 */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseMs: 200,
  capMs: 20_000,
  budgetMs: 5 * 60_000,
  callTimeoutMs: 60_000,
};

/** A call that kept failing with transient errors until the per-call attempts or the step's budget ran out. */
export class RetryExhaustedError extends Error {
  override name = "RetryExhaustedError";
  readonly call: string;
  readonly attempts: number;
  override readonly cause: unknown;
  constructor(call: string, attempts: number, kind: TransientKind, cause: unknown, why: string) {
    super(`${call} failed ${attempts} time(s), last with ${kind}: ${errorMessage(cause)}; not retried again: ${why}`);
    this.call = call;
    this.attempts = attempts;
    this.cause = cause;
  }
}

export interface CallOptions<T> {
  /**
   * Asked before re-sending after an ambiguous failure: the call's effect when it is already in
   * place (the earlier attempt took effect and only its answer was lost), else undefined.
   */
  alreadyDone?: () => Promise<T | undefined>;
  /** A re-send answered "…AlreadyExists…" after an ambiguous failure counts as done (creates). */
  alreadyExistsMeansDone?: (error: unknown) => T;
  /** Skip the per-attempt timeout (long transfers with their own progress). */
  noTimeout?: boolean;
}

export interface RetryDeps {
  log?: Logger;
  signal?: AbortSignal;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const abortable = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason ?? new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** One step's retry budget: every call the step makes draws its backoff from it. */
export class RetryBudget {
  readonly policy: RetryPolicy;
  readonly scope: string;
  private readonly deps: RetryDeps;
  /** Backoff spent so far (ms). */
  spentMs = 0;
  /** Retries made so far (all calls). */
  retries = 0;

  constructor(policy: RetryPolicy, scope: string, deps: RetryDeps = {}) {
    this.policy = policy;
    this.scope = scope;
    this.deps = deps;
  }

  /** Runs `attempt` (given a signal that ends the attempt on timeout or interrupt) until it succeeds or the budget is spent. */
  async call<T>(label: string, attempt: (signal: AbortSignal) => Promise<T>, opts: CallOptions<T> = {}): Promise<T> {
    const { signal, log } = this.deps;
    const random = this.deps.random ?? Math.random;
    const sleep = this.deps.sleep ?? abortable;
    let ambiguous = false;
    for (let n = 1; ; n++) {
      if (ambiguous && opts.alreadyDone) {
        const done = await opts.alreadyDone();
        if (done !== undefined) {
          log?.warn(`${label}: the earlier attempt took effect (its answer was lost); not sent again`);
          return done;
        }
      }
      const timeout = new AbortController();
      const timer = opts.noTimeout
        ? undefined
        : setTimeout(
            () => timeout.abort(new Error(`no answer within ${this.policy.callTimeoutMs} ms`)),
            this.policy.callTimeoutMs,
          );
      const attemptSignal = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
      let error: unknown;
      try {
        return await attempt(attemptSignal);
      } catch (e) {
        error = e;
      } finally {
        clearTimeout(timer);
      }
      if (signal?.aborted) throw error;
      if (ambiguous && opts.alreadyExistsMeansDone && ALREADY_EXISTS.test((error as ErrorShape)?.name ?? "")) {
        log?.warn(
          `${label}: answered ${(error as ErrorShape).name} after an attempt whose answer was lost: that attempt took effect; not created twice`,
        );
        return opts.alreadyExistsMeansDone(error);
      }
      const kind: TransientKind | undefined = timeout.signal.aborted ? "timeout" : transientKind(error);
      if (!kind) throw error;
      if (n >= this.policy.maxAttempts) {
        throw new RetryExhaustedError(label, n, kind, error, `${this.policy.maxAttempts} attempts per call`);
      }
      const ceiling = Math.min(this.policy.capMs, this.policy.baseMs * 2 ** (n - 1));
      const delay = Math.round(random() * ceiling);
      if (this.spentMs + delay > this.policy.budgetMs) {
        throw new RetryExhaustedError(
          label,
          n,
          kind,
          error,
          `the retry budget of ${this.scope} (${Math.round(this.policy.budgetMs / 1000)} s of backoff) is spent`,
        );
      }
      if (kind !== "throttling") ambiguous = true;
      this.spentMs += delay;
      this.retries++;
      await sleep(delay, signal);
    }
  }
}
