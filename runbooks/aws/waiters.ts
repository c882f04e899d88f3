/** Timing for the SDK's waiters: bounded by the runbook's `--max-wait-minutes`, never a fixed sleep. */
export interface WaiterTiming {
  maxWaitTime: number;
  minDelay: number;
  maxDelay: number;
  /** Stops the wait when the run is interrupted (SIGINT/SIGTERM). */
  abortSignal?: AbortSignal;
}

/**
 * Seconds for `waitUntil*`: the whole wait is `maxWaitMinutes`; polls start `preferredMin`
 * apart (shortened for short waits, as the SDK requires maxWaitTime > minDelay).
 */
export function waiterTiming(
  maxWaitMinutes: number,
  preferredMin = 15,
  preferredMax = 60,
  abortSignal?: AbortSignal,
): WaiterTiming {
  const maxWaitTime = Math.max(2, Math.ceil(maxWaitMinutes * 60));
  const minDelay = Math.max(1, Math.min(preferredMin, Math.floor(maxWaitTime / 4)));
  return {
    maxWaitTime,
    minDelay,
    maxDelay: Math.max(minDelay, Math.min(preferredMax, maxWaitTime)),
    ...(abortSignal ? { abortSignal } : {}),
  };
}
