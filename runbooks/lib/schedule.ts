/** Runs steps in dependency order: every step whose prerequisites are done starts; independent ones overlap. */
import pLimit from "p-limit";
import { InterruptedError } from "./errors.ts";

export interface Schedulable {
  id: string;
}

/**
 * Starts no new step after the first error or once `signal` aborts; waits for running ones.
 * @returns the first error (or an InterruptedError naming the next step), or undefined when all ran.
 */
export async function runGraph<S extends Schedulable>(
  steps: S[],
  deps: Map<string, string[]>,
  runOne: (step: S) => Promise<void>,
  signal: AbortSignal,
  concurrency = 4,
): Promise<unknown> {
  const limit = pLimit(concurrency);
  const done = new Set<string>();
  const pending = [...steps];
  const running = new Map<string, Promise<void>>();
  let firstError: unknown;
  while (pending.length || running.size) {
    if (firstError === undefined && !signal.aborted) {
      for (const step of [...pending]) {
        if (!deps.get(step.id)!.every((d) => done.has(d))) continue;
        pending.splice(pending.indexOf(step), 1);
        const p = limit(() => runOne(step))
          .then(() => void done.add(step.id))
          .catch((error) => void (firstError ??= error))
          .finally(() => running.delete(step.id));
        running.set(step.id, p);
      }
    }
    if (!running.size) break;
    await Promise.race(running.values());
  }
  if (firstError === undefined && pending.length)
    return new InterruptedError(`interrupted before step ${pending[0]!.id}`);
  return firstError;
}
