/**
 * The drill's phase recorder: each phase is named, timed and logged as it runs, and kept (with
 * its outcome) for the report; cleanups registered by phases run in reverse at the end.
 */
import type { PhaseRecord } from "./drill-report.ts";

export type Log = (line: string) => void;

export class Phases {
  readonly records: PhaseRecord[] = [];
  private readonly started = Date.now();
  private readonly log: Log;
  private readonly signal: AbortSignal | undefined;

  constructor(log: Log, signal?: AbortSignal) {
    this.log = log;
    this.signal = signal;
  }

  /** Runs `fn` as the phase `name`; @throws its error after recording it. */
  async run<T>(name: string, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
    if (this.signal?.aborted) throw new Error(String(this.signal.reason ?? "interrupted"));
    const started = Date.now();
    this.log(`▸ ${name}…`);
    try {
      const r = await fn();
      const rec: PhaseRecord = {
        name,
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        ok: true,
        detail: detail?.(r) ?? "",
      };
      this.records.push(rec);
      this.log(
        `✔ ${name} (${rec.seconds.toFixed(1)} s${rec.detail ? `; ${rec.detail}` : ""})  [${((Date.now() - this.started) / 1000).toFixed(1)} s total]`,
      );
      return r;
    } catch (error) {
      this.records.push({
        name,
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        ok: false,
        detail: (error as Error).message,
      });
      this.log(`✖ ${name}: ${(error as Error).message}`);
      throw error;
    }
  }
}

/** What to stop and remove at the end, in reverse order of registration. */
export class Cleanups {
  private readonly items: { what: string; fn: () => Promise<unknown> }[] = [];

  add(what: string, fn: () => Promise<unknown>): void {
    this.items.push({ what, fn });
  }

  get names(): string[] {
    return this.items.map((c) => c.what);
  }

  /** Runs every cleanup (a failing one is logged, the rest still run). */
  async runAll(log: Log): Promise<void> {
    const done: string[] = [];
    while (this.items.length) {
      const c = this.items.pop()!;
      await c.fn().then(
        () => done.push(c.what),
        (e: Error) => log(`cleanup of ${c.what} failed: ${e.message}`),
      );
    }
    if (done.length) log(`✔ Cleaned up: ${done.join(", ")}`);
  }
}
