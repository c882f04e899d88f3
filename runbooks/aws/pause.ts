/** A wait between polls that ends early when the run is interrupted (never a fixed sleep on its own). */
import { setTimeout as sleep } from "node:timers/promises";

export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : {});
}
