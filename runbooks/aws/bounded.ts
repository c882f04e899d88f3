/**
 * Calls to a region that may be down, each bounded by its own time limit. The SDK's
 * `requestTimeout` only warns unless told otherwise, and a hung connection never ends by itself:
 * every call here gets an AbortSignal that fires at the bound (and when the run is interrupted),
 * and the wait is raced against the bound in case a call ignores its signal.
 */
import { errorMessage } from "../lib/errors.ts";

/** How a bounded call ended. `ms` is how long it took (at most about the bound). */
export type Settled<T> =
  { ok: true; value: T; ms: number } | { ok: false; error: string; ms: number; timedOut: boolean };

/**
 * Runs `fn` with a signal that aborts after `ms` (or when `parent` aborts). Never throws: the
 * outcome says whether it answered, failed or gave no answer in time.
 */
export async function bounded<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<Settled<T>> {
  const started = Date.now();
  const controller = new AbortController();
  const timeout = new Error(`${what}: no answer within ${formatSeconds(ms)}`);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(timeout);
      reject(timeout);
    }, ms);
    timer.unref();
  });
  const onParentAbort = () => controller.abort(parent?.reason);
  parent?.addEventListener("abort", onParentAbort, { once: true });
  try {
    const value = await Promise.race([fn(controller.signal), expired]);
    return { ok: true, value, ms: Date.now() - started };
  } catch (error) {
    const timedOut = controller.signal.reason === timeout;
    return {
      ok: false,
      error: timedOut ? timeout.message : `${what}: ${errorMessage(error)}`,
      ms: Date.now() - started,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onParentAbort);
  }
}

/** The value of a bounded call, or throws its error. */
export async function boundedOrThrow<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  const r = await bounded(what, ms, fn, parent);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

export const formatSeconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;
