/** Time helpers for steps: bounded waits without fixed sleeps. */

/** Rejects with `what` timed out after `ms` if `promise` has not settled (the promise itself is not cancelled). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** ISO 8601 of `d`, or null. */
export const iso = (d: Date | undefined | null): string | null => (d ? d.toISOString() : null);
